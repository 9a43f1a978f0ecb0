import { createServer as createTcpServer, connect as connectTcp, isIP, type Server, type Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer, type ConnectionOptions, type TlsOptions } from 'node:tls';
import { SipParseError, SipTransportError } from './errors.js';
import { serialize, type SipMessage, type SipRequest } from './message.js';
import { parseMessage } from './parser.js';
import { StreamFramer } from './stream-framer.js';
import { formatHostPort, type Destination, type HostPort, type MessageReceiver, type Transport, type TransportProtocol } from './transport.js';

export interface StreamTransportOptions {
  protocol: 'tcp' | 'tls';
  host: string;
  /** 0 picks a free port. */
  port: number;
  advertise?: string;
  /** Key and certificate to accept TLS connections; without them a TLS transport only connects out. */
  tlsServer?: TlsOptions;
  /** CA, servername and the like for outgoing TLS connections. */
  tlsClient?: ConnectionOptions;
}

/**
 * TCP or TLS: one connection per peer address, reused for every message in either direction
 * (responses go back on the connection the request came in on, RFC 3261 §18.2.2).
 */
export class StreamTransport implements Transport {
  private receiver: MessageReceiver = () => {};
  private readonly sockets = new Map<string, Socket>();
  private readonly connecting = new Map<string, Promise<Socket>>();

  private constructor(
    private readonly options: StreamTransportOptions,
    private readonly server: Server | undefined,
    private readonly local: HostPort,
  ) {
    // A TLS server's 'connection' is the raw TCP socket; the decrypted stream comes with 'secureConnection'.
    server?.on(options.protocol === 'tls' ? 'secureConnection' : 'connection', (socket: Socket) => {
      const key = `${socket.remoteAddress}:${socket.remotePort}`;
      this.adopt(socket, key, { protocol: options.protocol, host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
    });
    server?.on('tlsClientError', () => {});
  }

  static async listen(options: StreamTransportOptions): Promise<StreamTransport> {
    const server =
      options.protocol === 'tcp'
        ? createTcpServer()
        : options.tlsServer
          ? createTlsServer(options.tlsServer)
          : undefined;
    let port = options.port;
    if (server) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      if (address && typeof address === 'object') port = address.port;
    }
    return new StreamTransport(options, server, { host: options.advertise ?? options.host, port });
  }

  async send(message: SipMessage, to: Destination): Promise<void> {
    if (to.protocol !== this.options.protocol) {
      throw new SipTransportError(`${this.options.protocol.toUpperCase()} transport cannot send ${to.protocol}`);
    }
    const socket = await this.connection(to);
    if (!this.server && message.kind === 'request') this.nameConnection(message, socket);
    await new Promise<void>((resolve, reject) => {
      socket.write(serialize(message), (error) =>
        error ? reject(new SipTransportError(`write to ${to.host}:${to.port} failed`, { cause: error })) : resolve(),
      );
    });
  }

  onMessage(receiver: MessageReceiver): void {
    this.receiver = receiver;
  }

  localAddress(protocol: TransportProtocol): HostPort | undefined {
    return protocol === this.options.protocol ? this.local : undefined;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.connecting.values());
    for (const socket of this.sockets.values()) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * A transport that only connects out has no port of its own: the request's Via sent-by and Contact name the
   * connection's local port instead (the transport fills in sent-by, RFC 3261 §18.1.1). A server looks its
   * connections up by their remote address, so the requests it sends within a dialog (NOTIFY) come back over
   * this connection, the only way they can reach us.
   */
  private nameConnection(request: SipRequest, socket: Socket): void {
    const placeholder = formatHostPort(this.local);
    const actual = formatHostPort({ host: this.local.host, port: socket.localPort ?? 0 });
    for (const name of ['Via', 'Contact']) {
      const value = request.headers.get(name);
      if (value?.includes(`${placeholder};`)) request.headers.set(name, value.replace(`${placeholder};`, `${actual};`));
    }
  }

  private connection(to: Destination): Promise<Socket> {
    // A TLS connection is verified for one name: another name served at the same address gets its own.
    const key = `${to.host}:${to.port}${to.serverName && this.options.protocol === 'tls' ? `#${to.serverName}` : ''}`;
    const open = this.sockets.get(key);
    if (open) return Promise.resolve(open);
    const pending = this.connecting.get(key);
    if (pending) return pending;
    const connecting = new Promise<Socket>((resolve, reject) => {
      const socket =
        this.options.protocol === 'tls'
          ? connectTls({ host: to.host, port: to.port, servername: to.serverName ?? (isIP(to.host) ? undefined : to.host), ...this.options.tlsClient })
          : connectTcp({ host: to.host, port: to.port });
      const fail = (error: Error) => {
        this.connecting.delete(key);
        // The cause in the message: an administrator reading a target's status sees why, e.g. "self-signed certificate".
        reject(new SipTransportError(`cannot connect to ${to.serverName ?? to.host}:${to.port} over ${this.options.protocol.toUpperCase()}: ${error.message}`, { cause: error }));
      };
      socket.once('error', fail);
      socket.once(this.options.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
        socket.off('error', fail);
        this.connecting.delete(key);
        this.adopt(socket, key, to);
        resolve(socket);
      });
    });
    this.connecting.set(key, connecting);
    return connecting;
  }

  private adopt(socket: Socket, key: string, peer: Destination): void {
    this.sockets.set(key, socket);
    const framer = new StreamFramer();
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = framer.push(chunk);
      } catch (error) {
        if (!(error instanceof SipParseError)) throw error;
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        let message: SipMessage;
        try {
          message = parseMessage(frame);
        } catch (error) {
          if (error instanceof SipParseError) continue;
          throw error;
        }
        this.receiver(message, { protocol: peer.protocol, host: peer.host, port: peer.port });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.sockets.get(key) === socket) this.sockets.delete(key);
    });
  }
}
