import { SipParseError, SipTransportError } from './errors.js';
import { responseTo, serialize, type SipMessage, type SipRequest } from './message.js';
import { parseMessage } from './parser.js';
import type { Destination, HostPort, MessageReceiver, Transport, TransportProtocol } from './transport.js';

export interface SentMessage {
  /** Parsed back from the bytes that would have gone out, so tests see the wire form. */
  message: SipMessage;
  to: Destination;
  bytes: Buffer;
}

export const FAKE_PEER: Destination = { protocol: 'udp', host: '192.0.2.1', port: 5060 };

/** An in-memory transport for unit tests: records what is sent and lets the test inject what arrives. */
export class FakeTransport implements Transport {
  readonly sent: SentMessage[] = [];
  /** When set, `send` rejects with this error (a refused connection, an unreachable host). */
  failure: Error | undefined;
  private receiver: MessageReceiver = () => {};

  constructor(
    private readonly local: HostPort = { host: '192.0.2.100', port: 5060 },
    private readonly protocols: readonly TransportProtocol[] = ['udp', 'tcp', 'tls'],
  ) {}

  send(message: SipMessage, to: Destination): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.protocols.includes(to.protocol)) return Promise.reject(new SipTransportError(`no ${to.protocol}`));
    const bytes = serialize(message);
    this.sent.push({ message: parseMessage(bytes), to, bytes });
    return Promise.resolve();
  }

  onMessage(receiver: MessageReceiver): void {
    this.receiver = receiver;
  }

  localAddress(protocol: TransportProtocol): HostPort | undefined {
    return this.protocols.includes(protocol) ? this.local : undefined;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Delivers a message or raw bytes as if received from `from`; bytes that do not parse are dropped. */
  inject(input: SipMessage | string | Buffer, from: Destination = FAKE_PEER): void {
    let message: SipMessage;
    try {
      message = parseMessage(typeof input === 'string' || Buffer.isBuffer(input) ? input : serialize(input));
    } catch (error) {
      if (error instanceof SipParseError) return;
      throw error;
    }
    this.receiver(message, from);
  }

  /** Sent requests, optionally of one method, oldest first. */
  requests(method?: string): SipRequest[] {
    return this.sent
      .map((s) => s.message)
      .filter((m): m is SipRequest => m.kind === 'request' && (method === undefined || m.method === method));
  }

  lastRequest(method?: string): SipRequest {
    const request = this.requests(method).at(-1);
    if (!request) throw new Error(`no ${method ?? ''} request sent`);
    return request;
  }

  /** Injects a response to `request`, with extra headers (a To tag is added for non-100 answers). */
  respond(request: SipRequest, status: number, headers: ReadonlyArray<readonly [string, string]> = [], body = ''): void {
    const response = responseTo(request, status, 'fake-remote');
    for (const [name, value] of headers) response.headers.append(name, value);
    response.body = body;
    this.inject(response);
  }
}
