import { createSocket, type Socket } from 'node:dgram';
import { lookup, type LookupOneOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { SipParseError, SipTransportError } from './errors.js';
import { wireText, type SipMessage } from './message.js';
import { parseMessage } from './parser.js';
import type { Destination, HostPort, MessageReceiver, Transport, TransportProtocol } from './transport.js';

export interface UdpTransportOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The host written in Via and Contact when `host` is a wildcard or private address. */
  advertise?: string;
}

/**
 * SO_RCVBUF asked for. Answers to many PUBLISHes in flight arrive in bursts; with Linux's default
 * (rmem_default, 208 KB) a GC pause or a busy event loop let the kernel drop them, and each drop stalls
 * that presentity for Timer E (500 ms) until the retransmission. The kernel caps it at rmem_max.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * The socket's name lookup: an IP literal (every destination taken from a Via or a target with an
 * address) is used as it is, at once, where `dns.lookup` answered it on the next tick; names resolve as before.
 */
function literalFirst(host: string, options: LookupOneOptions | number, callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const literal = isIP(host);
  if (literal) callback(null, host, literal);
  else if (typeof options === 'number') lookup(host, options, callback);
  else lookup(host, options, callback);
}

export class UdpTransport implements Transport {
  private receiver: MessageReceiver = () => {};

  private constructor(
    private readonly socket: Socket,
    private readonly local: HostPort,
  ) {
    socket.on('message', (data, rinfo) => {
      let message: SipMessage;
      try {
        message = parseMessage(data);
      } catch (error) {
        if (error instanceof SipParseError) return;
        throw error;
      }
      this.receiver(message, { protocol: 'udp', host: rinfo.address, port: rinfo.port });
    });
    // Datagram errors (ICMP unreachable and the like) concern one send; the socket stays usable.
    socket.on('error', () => {});
  }

  static async bind(options: UdpTransportOptions): Promise<UdpTransport> {
    const socket = createSocket({ type: isIPv6(options.host) ? 'udp6' : 'udp4', lookup: literalFirst });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port, options.host, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        } catch {
          // Not allowed here: the default buffer still works, with more retransmissions under load.
        }
        resolve();
      });
    });
    return new UdpTransport(socket, { host: options.advertise ?? options.host, port: socket.address().port });
  }

  send(message: SipMessage, to: Destination): Promise<void> {
    if (to.protocol !== 'udp') return Promise.reject(new SipTransportError(`UDP transport cannot send ${to.protocol}`));
    return new Promise((resolve, reject) => {
      this.socket.send(wireText(message), to.port, to.host, (error) =>
        error ? reject(new SipTransportError(`UDP send to ${to.host}:${to.port} failed`, { cause: error })) : resolve(),
      );
    });
  }

  onMessage(receiver: MessageReceiver): void {
    this.receiver = receiver;
  }

  localAddress(protocol: TransportProtocol): HostPort | undefined {
    return protocol === 'udp' ? this.local : undefined;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
