import type { Clock } from '../clock/clock.js';
import { tagOf } from './address.js';
import { NonInviteClientTransaction, type RequestOutcome, type TransactionHost } from './client-transaction.js';
import { DelayQueue } from './delay-queue.js';
import type { DigestSession } from './digest.js';
import { SipTransportError } from './errors.js';
import { createSipIds, cryptoRandom, type SipIds } from './ids.js';
import { parseCSeq, responseTo, serializedLength, SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { ServerTransactions } from './server-transactions.js';
import {
  formatHostPort,
  isReliable,
  MAX_UDP_REQUEST_BYTES,
  type AddressCheck,
  type Destination,
  type Transport,
  type TransportProtocol,
} from './transport.js';
import { timerK } from './timers.js';
import { viaBranch } from './via.js';

/** What a caller fills in for one non-INVITE request; Via, Max-Forwards and Content-Length are added. */
export interface RequestSpec {
  method: string;
  requestUri: string;
  from: string;
  fromTag: string;
  to: string;
  toTag?: string;
  callId: string;
  cseq: number;
  routes?: readonly string[];
  /** Adds a Contact pointing at this user agent (dialog-creating requests such as SUBSCRIBE). */
  contact?: boolean;
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string;
}

export type { RequestOutcome } from './client-transaction.js';

export interface ResponseSpec {
  status: number;
  headers?: ReadonlyArray<readonly [string, string]>;
}

export type RequestHandler = (request: SipRequest, from: Destination) => ResponseSpec | Promise<ResponseSpec>;

export interface UserAgentCoreOptions {
  transport: Transport;
  clock: Clock;
  ids?: SipIds;
  /** Uniform in [0, 1): the backoff jitter of the publishers and subscribers using this core (tests pin it); crypto random by default. */
  random?: () => number;
  userAgent?: string;
}

/** Methods this stack recognises but does not serve get 405; anything else gets 501 (RFC 3261 §8.2.1). */
const KNOWN_METHODS = new Set([
  'INVITE', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'PRACK', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
]);

const dialogKey = (callId: string, localTag: string) => `${callId}\n${localTag}`;

/**
 * Owns a transport: runs client transactions for outgoing requests, matches responses to them
 * (top Via branch + CSeq method, §17.1.3), and answers incoming requests through registered handlers.
 */
export class UserAgentCore {
  readonly clock: Clock;
  readonly ids: SipIds;
  readonly random: () => number;
  private readonly transport: Transport;
  private readonly userAgent: string | undefined;
  private readonly transactions = new Map<string, NonInviteClientTransaction>();
  private readonly serverTransactions: ServerTransactions;
  private readonly host: TransactionHost;
  private readonly methodHandlers = new Map<string, RequestHandler>();
  private readonly dialogHandlers = new Map<string, RequestHandler>();

  constructor(options: UserAgentCoreOptions) {
    this.transport = options.transport;
    this.clock = options.clock;
    this.ids = options.ids ?? createSipIds();
    this.random = options.random ?? cryptoRandom;
    this.userAgent = options.userAgent;
    this.serverTransactions = new ServerTransactions(options.clock);
    const transport = this.transport;
    const transactions = this.transactions;
    // Made apart from any request's closures: it outlives them all (V8 shares one context per function).
    this.host = {
      clock: options.clock,
      timerK: new DelayQueue(options.clock, timerK(false), (transaction: NonInviteClientTransaction) => transaction.terminate()),
      transmit: (request, to) => transport.send(request, to),
      terminated: (key) => transactions.delete(key),
    };
    this.transport.onMessage((message, from) =>
      message.kind === 'request' ? this.receiveRequest(message, from) : this.receiveResponse(message),
    );
  }

  /** Serves out-of-dialog requests of `method`. */
  onRequest(method: string, handler: RequestHandler): void {
    this.methodHandlers.set(method, handler);
  }

  /** Serves requests whose Call-ID and To tag match; returns the unregistration. */
  addDialog(callId: string, localTag: string, handler: RequestHandler): () => void {
    const key = dialogKey(callId, localTag);
    this.dialogHandlers.set(key, handler);
    return () => {
      if (this.dialogHandlers.get(key) === handler) this.dialogHandlers.delete(key);
    };
  }

  /**
   * Sends a non-INVITE request. On 401/407 with `auth` it retries once with credentials: CSeq+1,
   * same Call-ID and tags, new branch (RFC 3261 §22.2). Never rejects.
   */
  async request(spec: RequestSpec, destination: Destination, auth?: DigestSession): Promise<RequestOutcome> {
    const first = await this.send(spec, destination, auth);
    const status = first.kind === 'response' ? first.response.status : 0;
    if ((status === 401 || status === 407) && first.kind === 'response' && auth?.learn(first.response, first.request)) {
      const second = await this.send({ ...spec, cseq: spec.cseq + 1 }, destination, auth);
      if (second.kind === 'response' && second.response.status === 403) auth.reset();
      return second;
    }
    // Credentials sent up front with a nonce the server no longer knows may be refused outright
    // (some servers answer 403, not a fresh challenge): start the next request unauthenticated.
    if (status === 403) auth?.reset();
    return first;
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  private async send(spec: RequestSpec, destination: Destination, auth: DigestSession | undefined): Promise<RequestOutcome> {
    const branch = this.ids.branch();
    const headers = new SipHeaders().append('Via', '').append('Max-Forwards', '70');
    if (spec.routes) for (const route of spec.routes) headers.append('Route', route);
    headers
      .append('From', `<${spec.from}>;tag=${spec.fromTag}`)
      .append('To', spec.toTag ? `<${spec.to}>;tag=${spec.toTag}` : `<${spec.to}>`)
      .append('Call-ID', spec.callId)
      .append('CSeq', `${spec.cseq} ${spec.method}`);
    if (spec.contact) headers.append('Contact', '');
    if (this.userAgent) headers.append('User-Agent', this.userAgent);
    if (spec.headers) for (const [name, value] of spec.headers) headers.append(name, value);
    const request: SipRequest = { kind: 'request', method: spec.method, uri: spec.requestUri, headers, body: spec.body ?? '' };
    auth?.sign(request);
    let to = destination;
    // Awaited only when there is a check: without one the request leaves within this call.
    if (destination.check) {
      try {
        to = await checked(destination, destination.check);
      } catch (error) {
        return { kind: 'transport-error', error: new SipTransportError(`not sent to ${destination.host}: ${(error as Error).message}`, { cause: error }), request };
      }
    }
    let stamped = false;
    // RFC 3261 §18.1.1: a large request goes over TCP when the peer takes it.
    if (to.protocol === 'udp' && to.allowsTcp && this.transport.localAddress('tcp')) {
      stamped = this.stamp(request, 'udp', branch, spec.contact);
      if (serializedLength(request) > MAX_UDP_REQUEST_BYTES) {
        to = { ...to, protocol: 'tcp' };
        stamped = false;
      }
    }
    if (!stamped && !this.stamp(request, to.protocol, branch, spec.contact)) {
      const error = new SipTransportError(`no ${to.protocol} transport`);
      return { kind: 'transport-error', error, request };
    }
    const key = `${branch} ${spec.method}`;
    return new Promise((resolve) => {
      const transaction = new NonInviteClientTransaction(this.host, key, request, to, resolve);
      this.transactions.set(key, transaction);
      transaction.start();
    });
  }

  /** Writes Via (and Contact) for `protocol`; false when no transport serves it. */
  private stamp(request: SipRequest, protocol: TransportProtocol, branch: string, contact: boolean | undefined): boolean {
    const local = this.transport.localAddress(protocol);
    if (!local) return false;
    const hostPort = formatHostPort(local);
    request.headers.set('Via', `SIP/2.0/${protocol.toUpperCase()} ${hostPort};branch=${branch};rport`);
    if (contact) request.headers.set('Contact', `<sip:${hostPort}${protocol === 'udp' ? '' : `;transport=${protocol}`}>`);
    return true;
  }

  private receiveResponse(response: SipResponse): void {
    const branch = viaBranch(response.headers.first('via'));
    const method = parseCSeq(response.headers.get('cseq'))?.method;
    this.transactions.get(`${branch} ${method}`)?.receive(response);
  }

  private receiveRequest(request: SipRequest, from: Destination): void {
    if (request.method === 'ACK') return;
    const arrival = this.serverTransactions.receive(request, isReliable(from.protocol));
    if (arrival.kind === 'retransmission') {
      if (arrival.response) this.reply(arrival.response, from);
      return;
    }
    void this.answer(request, from).then((response) => {
      arrival.complete(response);
      this.reply(response, from);
    });
  }

  private async answer(request: SipRequest, from: Destination): Promise<SipResponse> {
    let spec: ResponseSpec;
    try {
      spec = await this.dispatch(request, from);
    } catch {
      spec = { status: 500 };
    }
    const response = responseTo(request, spec.status, this.ids.tag());
    for (const [name, value] of spec.headers ?? []) response.headers.append(name, value);
    return response;
  }

  private dispatch(request: SipRequest, from: Destination): ResponseSpec | Promise<ResponseSpec> {
    const toTag = tagOf(request.headers.get('to'));
    if (toTag !== undefined) {
      // §12.2.2: an in-dialog request for a dialog we do not know.
      const handler = this.dialogHandlers.get(dialogKey(request.headers.get('call-id') ?? '', toTag));
      return handler ? handler(request, from) : { status: 481 };
    }
    const handler = this.methodHandlers.get(request.method);
    if (handler) return handler(request, from);
    const allow: [string, string] = ['Allow', [...new Set(['OPTIONS', 'NOTIFY', ...this.methodHandlers.keys()])].join(', ')];
    if (request.method === 'OPTIONS') return { status: 200, headers: [allow] };
    return KNOWN_METHODS.has(request.method) ? { status: 405, headers: [allow] } : { status: 501 };
  }

  private reply(response: SipResponse, to: Destination): void {
    // A response that cannot be sent is lost like a dropped datagram; the peer retransmits or times out.
    this.transport.send(response, to).catch(() => {});
  }
}

/**
 * Where one request goes: the address `check` gives for the destination's host at this moment (each
 * request, so retransmissions stay on the address checked), the name kept for TLS.
 */
async function checked(destination: Destination, check: AddressCheck): Promise<Destination> {
  const { check: _, ...to } = destination;
  const address = await check(to.host);
  return address === to.host ? to : { ...to, host: address, serverName: to.serverName ?? to.host };
}
