import { SipParseError } from './errors.js';
import { locateBody, skipLineBreaks } from './parser.js';

export const MAX_MESSAGE_BYTES = 65_535;

const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*$/im;

/**
 * Cuts a TCP/TLS byte stream into messages by Content-Length, which is mandatory on streams
 * (RFC 3261 §18.3). Chunks may hold several messages or part of one.
 */
export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = MAX_MESSAGE_BYTES) {}

  /**
   * Returns every message completed by `chunk`. Throws `SipParseError` when the stream cannot be
   * resynchronised (no Content-Length, or a message over the size limit); close the connection then.
   */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      this.pending = this.pending.subarray(skipLineBreaks(this.pending));
      const located = locateBody(this.pending);
      if (!located) {
        if (this.pending.length > this.maxBytes) throw new SipParseError('header section too large');
        return frames;
      }
      const declared = CONTENT_LENGTH.exec(this.pending.toString('latin1', 0, located.headEnd))?.[1];
      if (declared === undefined) throw new SipParseError('stream message without Content-Length');
      const end = located.bodyStart + Number(declared);
      if (end > this.maxBytes) throw new SipParseError('message too large');
      if (this.pending.length < end) return frames;
      frames.push(this.pending.subarray(0, end));
      this.pending = this.pending.subarray(end);
    }
  }
}
