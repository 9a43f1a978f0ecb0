/**
 * A lean keep-alive HTTP/1.1 client for load generators that share the cores with what they measure:
 * one request in flight per connection, the request written as one string, the answer read only for its
 * status and length. `node:http`'s client spends some 250 µs of CPU per request here (headers objects,
 * parser, agent bookkeeping), which on a two-core machine is CPU the servers under test do not get.
 *
 * Only what the hub answers is understood: a status line, headers, then a `Content-Length` body or a
 * chunked one. Anything else fails the request (status 0) and closes the connection.
 */
import { connect, type Socket } from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

export class RawHttpConnection {
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | undefined;
  private open = true;

  private constructor(socket: Socket, private readonly host: string) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    const fail = () => {
      this.open = false;
      this.settle(0);
    };
    socket.on('error', fail);
    socket.on('close', fail);
  }

  static connect(url: string): Promise<RawHttpConnection> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: u.hostname, port: Number(u.port) }, () => {
        socket.off('error', reject);
        resolve(new RawHttpConnection(socket, u.host));
      });
      socket.once('error', reject);
    });
  }

  get usable(): boolean {
    return this.open && !this.waiting;
  }

  /** POSTs `body` (ASCII) with the given header lines; resolves with the status, 0 when the connection failed. */
  post(path: string, headers: string, body: string): Promise<number> {
    if (!this.usable) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(`POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
    });
  }

  close(): void {
    this.open = false;
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let total: number;
    if (length) total = end + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const last = this.buffered.indexOf(CHUNKED_END, end + 2);
      if (last < 0) return;
      total = last + CHUNKED_END.length;
    } else return this.fail();
    if (this.buffered.length < total) return;
    if (this.buffered.length > total) return this.fail();
    this.buffered = Buffer.alloc(0);
    this.settle(Number.isInteger(status) ? status : 0);
  }

  private fail(): void {
    this.close();
    this.settle(0);
  }

  private settle(status: number): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(status);
  }
}
