/** Bytes that are not a SIP message we can use. The only error the parser and the framer throw. */
export class SipParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SipParseError';
  }
}

/** A message could not be handed to the network (no route, connection refused, socket closed). */
export class SipTransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SipTransportError';
  }
}
