import type { SipMessage } from './message.js';

export type TransportProtocol = 'udp' | 'tcp' | 'tls';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * The address `host` may be sent to now, resolved and checked (a name's DNS answer may have changed since
 * it was last checked: rebinding); rejects with the reason when none may be.
 */
export type AddressCheck = (host: string) => Promise<string>;

export interface Destination extends HostPort {
  protocol: TransportProtocol;
  /** The peer also takes TCP on the same host and port, so large requests may move there. */
  allowsTcp?: boolean;
  /** Checked before each request goes out: it is sent to the address this gives, never to `host` as named. */
  check?: AddressCheck;
  /** The name TLS verifies the server's certificate against when `host` is the address it resolved to. */
  serverName?: string;
}

/**
 * Several servers for one target, tried in order (RFC 3263 §4.3): where the next request goes, and what
 * is told when a request there failed (a timeout, a transport error or a 503), so the route may move on.
 */
export interface ServerRoute {
  current(): Destination;
  /** How many servers one request may be tried at before its sender backs off. */
  readonly size: number;
  failed(to: Destination, reason: string): void;
}

/** Where a sender's requests go: one destination, or a route over several servers. */
export type RequestTarget = Destination | ServerRoute;

export const destinationNow = (target: RequestTarget): Destination => ('current' in target ? target.current() : target);

const keys = new WeakMap<Destination, string>();

/** Tells servers apart: an entity-tag or a dialog one issued means nothing to another. */
export function serverKey(d: Destination): string {
  let key = keys.get(d);
  if (key === undefined) keys.set(d, (key = `${d.protocol}:${formatHostPort(d)}`));
  return key;
}

export type MessageReceiver = (message: SipMessage, from: Destination) => void;

/** Moves parsed messages to and from the network. Bytes that do not parse are dropped. */
export interface Transport {
  /** Rejects with `SipTransportError` when the message cannot be handed to the network. */
  send(message: SipMessage, to: Destination): Promise<void>;
  onMessage(receiver: MessageReceiver): void;
  /** The address written in Via and Contact for `protocol`; undefined when the protocol is not served. */
  localAddress(protocol: TransportProtocol): HostPort | undefined;
  close(): Promise<void>;
}

/** RFC 3261 §18.1.1: a request larger than this MUST go over a congestion-controlled transport. */
export const MAX_UDP_REQUEST_BYTES = 1300;

export const isReliable = (protocol: TransportProtocol): boolean => protocol !== 'udp';

/** `host:port`, with brackets around IPv6 literals. */
export function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
