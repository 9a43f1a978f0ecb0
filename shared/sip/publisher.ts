import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { DigestSession, type DigestCredentials } from './digest.js';
import { headerSeconds, parseCSeq } from './message.js';
import { PIDF_CONTENT_TYPE } from './pidf.js';
import { TimerSlot } from './timer-slot.js';
import { destinationNow, serverKey, type Destination, type RequestTarget } from './transport.js';
import type { RequestOutcome, RequestSpec, UserAgentCore } from './user-agent-core.js';

/**
 * idle ──publish──▶ publishing ──2xx──▶ published ──timer──▶ refreshing ──2xx──▶ published
 *                                        │  └──publish──▶ modifying ──2xx──▶ published
 *                                        └──remove──▶ removing ──any──▶ idle
 * 412: forget the etag, then publishing (fresh initial). 423: same request with Min-Expires. Timeout,
 * transport error, 5xx, other failure: backoff, then resume (with the etag, until the publication expires).
 * A publication resumed from another agent starts in published. Over a route of several servers, a timeout,
 * transport error or 503 is first tried at the route's next server, and a publication moved to another
 * server starts there afresh (its entity-tag is the first server's), RFC 3263 §4.3.
 */
export type PublisherState = 'idle' | 'publishing' | 'published' | 'refreshing' | 'modifying' | 'removing' | 'backoff';

type Kind = 'initial' | 'refresh' | 'modify' | 'remove';
/** `text` in a string of its own: V8 keeps longer substrings as views into the string they were cut from. */
const ownCopy = (text: string): string => ` ${text}`.slice(1);

const EXPIRES_NOW = ['Expires', '0'] as const;

const SENDING: Readonly<Record<Kind, PublisherState>> = {
  initial: 'publishing',
  refresh: 'refreshing',
  modify: 'modifying',
  remove: 'removing',
};

export interface PublisherOptions {
  core: UserAgentCore;
  /** The event state compositor (Kamailio), or the proxy in front of it; or several, tried in order. */
  target: RequestTarget;
  /** The presentity AOR; it is the Request-URI, From and To (RFC 3903 §4). */
  presentity: string;
  event?: string;
  contentType?: string;
  expiresSec?: number;
  credentials?: DigestCredentials;
  /** Refresh after this fraction of the granted lifetime. */
  refreshRatio?: number;
  /** Its jitter is drawn from `core.random`. */
  backoff?: BackoffPolicy;
  /**
   * A publication of this presentity someone else made (another replica), continued by its entity-tag
   * (RFC 3903 §4.1): refreshed with `body` before `expiresAt`, modified or removed with SIP-If-Match.
   * Without a body it is not refreshed: it waits for `publish` or `remove`. `server`: the one that issued the
   * entity-tag, when known; else it is taken to be where requests go first.
   */
  resume?: Publication & { body?: string; server?: Destination };
  /** Each 2xx that leaves a publication (initial, refresh, modify), and its end (removed, or forgotten after a 412 or its expiry). */
  onPublication?: (p: Publication | undefined) => void;
  /**
   * The server no longer knew the publication (412 to a request sent at `sentAt`): it lost it after
   * `ackedAt`, when it last acknowledged one (undefined for a publication resumed from elsewhere).
   */
  onLost?: (ackedAt: number | undefined, sentAt: number) => void;
}

/** A publication the server holds: its entity-tag and when it lapses unless refreshed. */
export interface Publication {
  etag: string;
  expiresAt: number;
}

export interface PublisherStatus {
  state: PublisherState;
  etag?: string;
  expiresAt?: number;
  /** The server that issued `etag`, once one answered (or as resumed). */
  server?: Destination;
  /** The last final status; a timeout counts as 408 and a transport error as 503 (RFC 3261 §8.1.3.1). */
  lastStatusCode?: number;
  /** Why the last request could not be sent, when it could not: the transport error (e.g. an untrusted TLS certificate). */
  lastTransportError?: string;
  lastSuccessAt?: number;
  consecutiveFailures: number;
}

/**
 * How a removal fared: `removed` (the server answered it: acknowledged, or it held no such publication),
 * `failed` (no answer or a 5xx: the publication may still be there, and lapses at its expiry), `left` (failed
 * at a server the route has moved away from: retried there by the publisher itself, on its backoff, until
 * answered or lapsed), `none` (nothing was held to remove, or a new body, or disposing, came first).
 */
export type RemoveOutcome = 'removed' | 'failed' | 'left' | 'none';

/**
 * How one body fared: acknowledged, already acknowledged (nothing was sent), replaced by a newer body first,
 * or its attempt failed (backoff follows).
 */
export type PublishOutcome = 'published' | 'unchanged' | 'superseded' | 'failed' | 'disposed';

/**
 * An RFC 3903 event publication agent for one presentity at one target. One PUBLISH in flight at a
 * time: changes made meanwhile are coalesced and the latest body is sent next. Refreshes carry the
 * full body, because Kamailio in memory mode wipes the stored body on a body-less refresh.
 */
export class Publisher {
  private state: PublisherState = 'idle';
  /** The body that should be on the server; undefined once removal is asked for. */
  private desired: string | undefined;
  /** The body the server acknowledged last. */
  private published: string | undefined;
  private etag: string | undefined;
  private expiresAt: number | undefined;
  /** The server that issued `etag` (`serverKey`), and where it is: a removal goes there, wherever the route points now. */
  private etagAt: string | undefined;
  private etagServer: Destination | undefined;
  /** Publications left at other servers of the route, continued by their etags if it comes back to one before they expire (made when first needed: most publishers never move). */
  private elsewhere: Map<string, Publication & { server: Destination }> | undefined;
  /** The server holding the publication did not take its removal: it is asked again at the next `remove`, not of its own accord. */
  private removalFailed = false;
  /** Removals retried of its own accord (`left`) so far: their backoff. */
  private removalRetries = 0;
  private refreshAt = 0;
  private expiresSec: number;
  private lastStatusCode: number | undefined;
  private lastTransportError: string | undefined;
  private lastSuccessAt: number | undefined;
  /** When the PUBLISH the server last acknowledged was sent. */
  private ackedAt: number | undefined;
  private failures = 0;
  private cseq = 0;
  private inFlight = false;
  /** Settles when the PUBLISH on its way has been answered and handled. */
  private answered: Promise<void> | undefined;
  private disposed = false;
  /** Held (`hold`): nothing goes out of its own accord, only what `publish` and `remove` ask for. */
  private held = false;
  private removals: Array<(outcome: RemoveOutcome) => void> = [];
  /** How the last removal sent was answered, until those waiting on it are told. */
  private removal: RemoveOutcome | undefined;
  private waiters: Array<{ body: string; resolve: (outcome: PublishOutcome) => void }> = [];
  private readonly timer: TimerSlot;
  private readonly callId: string;
  private readonly fromTag: string;
  private readonly auth: DigestSession | undefined;
  private readonly eventHeader: readonly [string, string];
  private readonly contentTypeHeader: readonly [string, string];
  private expires: readonly [string, string] | undefined;

  constructor(private readonly options: PublisherOptions) {
    this.expiresSec = options.expiresSec ?? 3600;
    this.timer = new TimerSlot(options.core.clock);
    this.callId = options.core.ids.callId();
    this.fromTag = options.core.ids.tag();
    this.auth = options.credentials && new DigestSession(options.credentials, options.core.ids.cnonce);
    this.eventHeader = ['Event', options.event ?? 'presence'];
    this.contentTypeHeader = ['Content-Type', options.contentType ?? PIDF_CONTENT_TYPE];
    const resumed = options.resume;
    if (resumed && resumed.expiresAt > options.core.clock.now()) {
      // Where it was made, unless known, is taken to be where requests go first.
      this.etag = resumed.etag;
      if (resumed.server) {
        this.etagServer = resumed.server;
        this.etagAt = serverKey(resumed.server);
      }
      this.expiresAt = resumed.expiresAt;
      this.published = this.desired = resumed.body;
      // As far ahead of the expiry as after a 2xx of our own.
      this.refreshAt = resumed.expiresAt - this.expiresSec * 1000 * (1 - (options.refreshRatio ?? 0.85));
      this.state = 'published';
      if (resumed.body !== undefined) this.step();
    }
  }

  /** The Expires header asked for; `expiresSec` changes only on a 423. */
  private expiresHeader(): readonly [string, string] {
    const value = String(this.expiresSec);
    if (this.expires?.[1] !== value) this.expires = ['Expires', value];
    return this.expires;
  }

  /** Makes `body` the state to publish; sent now, or after the PUBLISH in flight. */
  publish(body: string): void {
    if (this.disposed) return;
    // Held, whoever asks decides when to try again: a backoff of its own would only delay that; nor does a
    // removal's retry (`left`) delay a new body.
    if (this.held || this.desired === undefined) this.endBackoff();
    this.desired = body;
    this.settleRemovals('none');
    this.step();
  }

  /** Like `publish`, and resolves when the server acknowledged this body or the attempt to send it failed. */
  publishAndWait(body: string): Promise<PublishOutcome> {
    if (this.disposed) return Promise.resolve('disposed');
    const settled = new Promise<PublishOutcome>((resolve) => this.waiters.push({ body, resolve }));
    this.publish(body);
    if (this.published === body && this.desired === body && !this.inFlight) this.settleWaiters('unchanged');
    return settled;
  }

  private settleWaiters(outcome: 'published' | 'unchanged' | 'failed' | 'disposed'): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if ((outcome === 'published' || outcome === 'unchanged') && w.body !== this.published) {
        // Older bodies were replaced; a body still to come keeps waiting.
        if (w.body === this.desired) this.waiters.push(w);
        else w.resolve('superseded');
      } else w.resolve(outcome);
    }
  }

  /** Withdraws the publication (Expires 0); resolves once done, superseded by `publish`, or disposed. */
  remove(): Promise<RemoveOutcome> {
    if (this.disposed) return Promise.resolve('none');
    this.desired = undefined;
    this.removalFailed = false;
    this.endBackoff();
    return new Promise((resolve) => {
      this.removals.push(resolve);
      this.step();
    });
  }

  /**
   * Withdraws the publication with nobody waiting on it: a removal the server holding it does not take is asked
   * again there on this publisher's own backoff, until answered or the publication lapses (`left`).
   */
  leave(): void {
    if (this.disposed) return;
    this.desired = undefined;
    this.removalFailed = false;
    this.endBackoff();
    this.step();
  }

  /**
   * The route moved to another server: the publication is made there now (afresh, or by the etag it still
   * holds there), not at its refresh or after its backoff, so watchers of that server see it; unless held. Resolves once answered.
   */
  async moved(): Promise<void> {
    // Held, it waits to be asked (`release`, a delivery): its next request goes where the route points then.
    if (this.disposed || this.held || this.desired === undefined) return;
    if (this.state === 'backoff') {
      this.timer.cancel();
      this.state = 'idle';
    }
    this.step();
    await this.settled();
  }

  /**
   * Refreshes now a publication last acknowledged no later than `before`, since the server may have lost it
   * (a presence server in memory mode restarting loses every publication; RFC 3903 has no way to say so):
   * a 412 then starts it over. Resolves once answered.
   */
  async recheck(before: number): Promise<void> {
    if (this.disposed || this.etag === undefined || this.desired === undefined || (this.ackedAt ?? -Infinity) > before) return;
    this.refreshAt = Math.min(this.refreshAt, this.options.core.clock.now());
    this.step();
    await this.settled();
  }

  /**
   * Sends nothing of its own accord (refreshes, retries after a backoff) until `release`: its server is
   * failing, and whoever holds it sends one request at a time to find out when it answers again.
   */
  hold(): void {
    this.held = true;
  }

  /** Ends `hold`: what fell due meanwhile goes out now; resolves once answered. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.step();
    await this.settled();
  }

  private endBackoff(): void {
    if (this.state !== 'backoff') return;
    this.timer.cancel();
    this.state = 'idle';
  }

  status(): PublisherStatus {
    return {
      state: this.state,
      etag: this.etag,
      expiresAt: this.expiresAt,
      server: this.etagServer,
      lastStatusCode: this.lastStatusCode,
      lastTransportError: this.lastTransportError,
      lastSuccessAt: this.lastSuccessAt,
      consecutiveFailures: this.failures,
    };
  }

  /** Stops all timers without telling the server (the publication lapses at its expiry); later calls do nothing. */
  dispose(): void {
    this.disposed = true;
    this.timer.cancel();
    this.settleRemovals('none');
    this.settleWaiters('disposed');
  }

  /** Decides the next request from the desired and the acknowledged state. */
  private step(): void {
    if (this.inFlight || this.disposed || this.state === 'backoff') return;
    const now = this.options.core.clock.now();
    // A removal is for the server that holds the publication, wherever requests go now.
    if (this.desired !== undefined) this.follow(destinationNow(this.options.target), now);
    if (this.expiresAt !== undefined && now >= this.expiresAt) this.forget();
    if (this.desired === undefined) {
      if (this.etag !== undefined && !this.removalFailed) return this.send('remove');
      this.timer.cancel();
      this.state = 'idle';
      return this.settleRemovals(this.removal ?? 'none');
    }
    if (this.etag === undefined) return this.send('initial');
    if (this.desired !== this.published) return this.send('modify');
    if (now >= this.refreshAt) return this.send('refresh');
    this.state = 'published';
    // A refresh timer already armed for an earlier instant stays: it finds nothing due and re-arms
    // here. Re-arming after every PUBLISH cost a clock timer per PUBLISH that lived until the next.
    const due = this.timer.dueAt;
    if (due === undefined || due > this.refreshAt) this.timer.at(this.refreshAt, () => {
        if (!this.held) this.step();
      });
  }

  /** Puts the publication held at another server aside, and takes up the one still held at `server`, if any. */
  private follow(to: Destination, now: number): void {
    const server = serverKey(to);
    if (this.etagAt === server || (this.etag === undefined ? !this.elsewhere?.size : this.etagAt === undefined)) return;
    const elsewhere = (this.elsewhere ??= new Map());
    if (this.etag !== undefined && this.etagAt !== undefined && this.expiresAt! > now) elsewhere.set(this.etagAt, { etag: this.etag, expiresAt: this.expiresAt!, server: this.etagServer! });
    for (const [key, p] of elsewhere) if (p.expiresAt <= now) elsewhere.delete(key);
    const held = elsewhere.get(server);
    elsewhere.delete(server);
    this.etag = held?.etag;
    this.expiresAt = held?.expiresAt;
    this.etagAt = held && server;
    this.etagServer = held?.server;
    // Whatever the other server holds, this one gets the whole current body (a modify, or an initial PUBLISH).
    this.published = undefined;
  }

  private send(kind: Kind): void {
    this.inFlight = true;
    this.state = SENDING[kind];
    const { core, presentity } = this.options;
    const target = (kind === 'remove' ? this.etagServer : undefined) ?? destinationNow(this.options.target);
    const body = kind === 'remove' ? undefined : this.desired;
    const etag = kind === 'initial' ? undefined : this.etag;
    const sentAt = core.clock.now();
    const headers: Array<readonly [string, string]> = [this.eventHeader, kind === 'remove' ? EXPIRES_NOW : this.expiresHeader()];
    if (etag !== undefined) headers.push(['SIP-If-Match', etag]);
    if (body !== undefined) headers.push(this.contentTypeHeader);
    const spec: RequestSpec = {
      method: 'PUBLISH',
      requestUri: presentity,
      from: presentity,
      fromTag: this.fromTag,
      to: presentity,
      callId: this.callId,
      cseq: ++this.cseq,
      headers,
      body,
    };
    const answered: Promise<void> = core.request(spec, target, this.auth).then((outcome) => {
      if (this.disposed) return;
      this.inFlight = false;
      if (this.answered === answered) this.answered = undefined;
      this.cseq = Math.max(this.cseq, parseCSeq(outcome.request.headers.get('cseq'))?.seq ?? 0);
      this.handle(kind, etag !== undefined, body, sentAt, outcome, target);
      this.step();
    });
    this.answered = answered;
  }

  /**
   * Resolves once no PUBLISH is on its way (each answer handled, `onPublication` told): a holder handing
   * the publication over waits for it, so the entity-tag it passes on is the one the server knows.
   */
  async settled(): Promise<void> {
    while (this.answered && !this.disposed) await this.answered;
  }

  private handle(kind: Kind, conditional: boolean, body: string | undefined, sentAt: number, outcome: RequestOutcome, to: Destination): void {
    const response = outcome.kind === 'response' ? outcome.response : undefined;
    const status = response?.status ?? (outcome.kind === 'timeout' ? 408 : 503);
    this.lastStatusCode = status;
    this.lastTransportError = outcome.kind === 'transport-error' ? outcome.error.message : undefined;
    const success = response !== undefined && status >= 200 && status < 300;
    if (success && kind === 'remove') {
      this.succeeded();
      this.removal = 'removed';
      return this.forget();
    }
    const etag = response?.headers.get('sip-etag');
    const grantedSec = response ? (headerSeconds(response, 'expires') ?? this.expiresSec) : 0;
    // A 2xx without SIP-ETag (required, RFC 3903 §6) or with Expires 0 cannot be refreshed: a failure.
    if (success && etag && grantedSec > 0) {
      this.succeeded();
      // A copy: the header value is cut from the whole datagram's text, which it would keep alive until the next PUBLISH.
      this.etag = ownCopy(etag);
      this.etagAt = serverKey(to);
      this.etagServer = to;
      this.published = body;
      this.ackedAt = sentAt;
      this.expiresAt = sentAt + grantedSec * 1000;
      this.refreshAt = sentAt + grantedSec * 1000 * (this.options.refreshRatio ?? 0.85);
      this.options.onPublication?.({ etag: this.etag, expiresAt: this.expiresAt });
      this.settleWaiters('published');
      return;
    }
    const route = 'current' in this.options.target ? this.options.target : undefined;
    const serverFailed = outcome.kind !== 'response' || status === 503;
    const reason = outcome.kind === 'transport-error' ? outcome.error.message : outcome.kind === 'timeout' ? 'no answer (408)' : '503 Service Unavailable';
    if (kind === 'remove') {
      // Any other answer says the server holds no such publication now (a 412), or never will remove it.
      if (response !== undefined && (status < 500 || status >= 600)) {
        this.removal = 'removed';
        return this.forget();
      }
      // Not taken: the publication stays where it is, which its watchers still see. Its removal is not made at
      // the next server, which holds no publication by this entity-tag (RFC 3903 §4.1), but asked of this one
      // again when whoever removes it retries (`remove`), until it answers or the publication lapses. Like any
      // request's, the failure moves the route on (RFC 3263 §4.3), so the other publications leave a failing server.
      this.removal = 'failed';
      this.removalFailed = true;
      // Whether the server still holds the body is unknown (a lost answer, a 5xx after the removal): a body asked
      // for again is sent by the etag (a 412 then starts it afresh), not taken as already there.
      this.published = undefined;
      this.etagServer ??= to;
      this.etagAt ??= serverKey(to);
      if (route && serverFailed) route.failed(to, reason);
      // The others publish elsewhere now (a fail-over): a server they left says nothing of the target's health, so
      // the removal is not the target's failure to retry, but retried there by this publisher on its own backoff.
      // So is one it retries of its own accord, nobody waiting on it, wherever the others publish by then.
      if (route && (serverKey(to) !== serverKey(route.current()) || this.removals.length === 0)) {
        this.settleRemovals('left');
        this.removalRetries += 1;
        this.state = 'backoff';
        const delay = backoffDelay(this.options.backoff ?? DEFAULT_BACKOFF, this.removalRetries, this.options.core.random);
        this.timer.at(this.options.core.clock.now() + delay, () => {
          this.state = 'idle';
          this.removalFailed = false;
          if (!this.held) this.step();
        });
      }
      return;
    }
    // RFC 3903 §4.3 (412). A 5xx says nothing of the entity-tag (an overloaded or failing server, a proxy):
    // the server may still hold the publication, and a fresh one beside it would freeze the lamp on the
    // older (Kamailio), so it is retried with its etag after a backoff. Kamailio's 500 to an etag it cannot
    // parse (never one it issued) then lasts until the publication expires, and it starts over.
    if (conditional && status === 412) {
      const ackedAt = this.ackedAt;
      this.forget();
      return this.options.onLost?.(ackedAt, sentAt);
    }
    const minExpires = status === 423 && response ? headerSeconds(response, 'min-expires') : undefined;
    if (minExpires !== undefined && minExpires > this.expiresSec) {
      this.expiresSec = minExpires;
      return;
    }
    this.failures += 1;
    if (route && serverFailed) {
      route.failed(to, reason);
      // Tried again at once where the route now points, until every server has failed it.
      if (this.failures < route.size) {
        this.state = 'idle';
        return;
      }
    }
    // Held, whoever asks decides when to try again (`publish`): a removal asked for while this was on its way
    // goes now, as it would have had it come after; a backoff would end only with the hold.
    if (this.held && this.desired === undefined) {
      this.state = 'idle';
      return;
    }
    this.state = 'backoff';
    this.settleWaiters('failed');
    const delay = backoffDelay(this.options.backoff ?? DEFAULT_BACKOFF, this.failures, this.options.core.random);
    this.timer.at(this.options.core.clock.now() + delay, () => {
      this.state = 'idle';
      if (!this.held) this.step();
    });
  }

  private succeeded(): void {
    this.failures = 0;
    this.lastSuccessAt = this.options.core.clock.now();
  }

  private forget(): void {
    const ended = this.etag !== undefined;
    this.etag = undefined;
    this.etagAt = undefined;
    this.etagServer = undefined;
    this.removalFailed = false;
    this.removalRetries = 0;
    this.published = undefined;
    this.expiresAt = undefined;
    if (ended) this.options.onPublication?.(undefined);
  }

  private settleRemovals(outcome: RemoveOutcome): void {
    this.removal = undefined;
    for (const resolve of this.removals.splice(0)) resolve(outcome);
  }
}
