import type { Logger } from 'pino';
import type { TimerHandle } from '../../../shared/clock/clock.js';
import type { Person } from '../../../shared/domain/directory.js';
import type { Presence } from '../../../shared/domain/presence.js';
import type { Endpoint } from '../../../shared/domain/signal.js';
import type { SipTarget, Target } from '../../../shared/domain/target.js';
import type { DigestCredentials } from '../../../shared/sip/digest.js';
import { DIALOG_INFO_CONTENT_TYPE, lineState, mergeDialogInfo, parseDialogInfo, type DialogInfo } from '../../../shared/sip/dialog-info.js';
import { Publisher, type PublisherOptions } from '../../../shared/sip/publisher.js';
import { Subscriber, type SubscriberStatus } from '../../../shared/sip/subscriber.js';
import { destinationNow, formatHostPort, type AddressCheck, type Destination } from '../../../shared/sip/transport.js';
import type { UserAgentCore } from '../../../shared/sip/user-agent-core.js';
import { Limiter } from '../../calendars/limiter.js';
import type { PresenceEngine } from '../../merger/engine.js';
import { DeliveryError } from '../http-client.js';
import { redactUrl } from '../redact-url.js';
import { inScope } from '../scope.js';
import type { Delivery, Sink, SinkHooks, WatchHealth } from '../sink.js';
import { lineStateChanges } from './dialog-state.js';
import { PidfBodies } from './pidf-bodies.js';
import { parsePublicationAddress, publicationAddress, type LeavingPublication } from './publication-address.js';
import { destinationOf, presentityOf, srvNameOf } from './presentity.js';
import { ServerSet, type SrvLocation } from './server-set.js';
import { pacedAt, watchPacerOf, type WatchPacer } from './watch-pacer.js';

/**
 * PUBLISHes this sink waits on at once; more people wait here. Without a cap, a (re)loaded target sends
 * everyone's state at once: 24,000 datagrams overran Kamailio's receive buffer, and every drop cost
 * a Timer E retransmission (0.5, 1, 2, 4 s), so publishing them took 98 s instead of about 10.
 */
export const MAX_PUBLISHES_IN_FLIGHT = 64;

/** How long closing waits for the server to confirm withdrawn publications (a bound on a shutdown or target edit). */
const WITHDRAW_WAIT_MS = 2000;

/** `work`, or the end of `ms` of real time, whichever comes first. */
async function withinMs(ms: number, work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()))]);
  clearTimeout(timer);
}

interface Watch {
  personId: string;
  /** The watched extension's AOR. */
  resource: string;
  endpoint: Endpoint;
  subscriber: Subscriber;
  callId?: string;
  known?: DialogInfo;
}

/**
 * SIP PUBLISH of each person's state to a presence server (one RFC 3903 publisher per presentity), and,
 * when the target asks for it, a dialog-package subscription per extension whose NOTIFYs feed the
 * person's line state back into the merge. A replica taking the target over continues its previous
 * owner's publications by their entity-tags, so the server holds one publication per presentity.
 */
export class SipSink implements Sink {
  private readonly publishers = new Map<string, { presentity: string; pub: Publisher }>();
  /**
   * By person, publications of presentities they no longer have (and each one's presentity), which their publishers
   * go on removing (`leave`) until answered or lapsed; the person's ledger entry lists them (`addressOf`), so a new
   * owner of the target finishes that.
   */
  private readonly leaving = new Map<string, Map<Publisher, string>>();
  /** People whose delivery waits on their publisher: its new entity-tag reaches the ledger with the delivery. */
  private readonly delivering = new Set<string>();
  private readonly watches = new Map<string, Watch>();
  private readonly route: ServerSet;
  /** The server URI's host and port with the address check: a server the ledger recorded is reached as the route's are. */
  private readonly base: Destination;
  private closed = false;
  private readonly credentials: DigestCredentials | undefined;
  private readonly inFlight = new Limiter(MAX_PUBLISHES_IN_FLIGHT);
  private readonly bodies: PidfBodies;
  /** The target is failing (`hold`): publications send nothing of their own accord. */
  private held = false;
  /**
   * Dialog watches whose dialogs are at a server the requests moved away from while held: they start over where
   * the requests go once released, each until it has (a new hold may cut their paced resumption short).
   */
  private readonly startOver = new Set<Watch>();
  /** The dialog watches' paced resumption after a hold or a move (`resumeWatches`): a new hold or closing cancels what is left. */
  private resuming: TimerHandle[] = [];
  /** Shared by every target on this SIP stack: watches resumed or started over go to one server at a steady pace. */
  private readonly pacer: WatchPacer;
  /** The latest instant up to which every publication was checked after the server lost one. */
  private recheckedUpTo = -Infinity;

  constructor(
    private readonly target: SipTarget,
    password: string | undefined,
    private readonly core: UserAgentCore,
    private readonly engine: PresenceEngine,
    private readonly log: Logger,
    people: readonly Person[],
    private readonly hooks?: SinkHooks,
    check?: AddressCheck,
    srv?: SrvLocation,
  ) {
    const base = (this.base = { ...destinationOf(target), ...(check ? { check } : {}) });
    this.route = new ServerSet(base, srvNameOf(target), srv, core.clock, (to) => this.answers(to), () => this.moved());
    this.bodies = new PidfBodies(target);
    this.pacer = watchPacerOf(core);
    this.credentials = target.username && password !== undefined ? { username: target.username, password } : undefined;
    if (target.subscribeDialog) {
      // Those it covers, as for people added later (their deliveries): a scoped target reads back no other line.
      const watchAll = () => this.closed || people.forEach((p) => inScope(target, p, p.id) && this.watch(p));
      // Once the servers are known: a subscription made before would go to the fallback address.
      if (this.route.ready) void this.route.ready.then(watchAll);
      else watchAll();
    }
  }

  async deliver(d: Delivery): Promise<void | 'unchanged'> {
    if (this.route.ready) await this.route.ready;
    this.stillOpen();
    if (!d.presence || !d.person) {
      // Withdrawn from this target's scope, they stay: no NOTIFY will end a call their line showed.
      this.unwatch(d.personId, d.outOfScope === true);
      this.bodies.forget(d.personId);
      const removed = await this.unpublish(d.personId);
      // Not taken (a failing server's silence is no answer): retried, it is asked of the server holding the publication again.
      // One left to the publisher (at a server the others moved away from) is done here, and says nothing of the target.
      if (removed instanceof DeliveryError) throw removed;
      return removed === 'removed' ? undefined : 'unchanged';
    }
    if (this.target.subscribeDialog) this.watch(d.person);
    const presentity = presentityOf(d.person, this.target);
    // A new extension or SIP URI: the old presentity no longer stands for them, and the server would show its
    // watchers both publications together (Kamailio aggregates them): it is removed first (Expires 0 by its
    // SIP-ETag, RFC 3903 §4.6), then the new one published afresh. One the server did not take fails the
    // delivery, so its retry asks the server holding it again, as for a deleted person's; one left to the publisher
    // (at a server the requests moved away from) goes on being asked there, beside the new one.
    const old = this.publishers.get(d.personId);
    if (old && old.presentity !== presentity) {
      const removed = await this.unpublish(d.personId);
      if (removed instanceof DeliveryError) throw removed;
      this.stillOpen();
    }
    const pub = this.publishers.get(d.personId)?.pub ?? this.publisher(d.personId, presentity);
    const body = this.bodies.of(d.personId, d.person, d.presence);
    this.delivering.add(d.personId);
    const outcome = await this.inFlight.run(() => pub.publishAndWait(body)).finally(() => this.delivering.delete(d.personId));
    // The publisher keeps retrying by itself with backoff and sends the newest body when it can.
    if (outcome === 'failed') throw failure(`PUBLISH for ${presentity}`, pub);
    // The server holds this document already: nothing was asked of it.
    if (outcome === 'unchanged') return 'unchanged';
  }

  /**
   * Closed while a delivery waited (the servers' lookup, an old presentity's removal): a publication it made now
   * would be one nobody refreshes, records or removes, beside the next owner's (Kamailio shows the older one's).
   */
  private stillOpen(): void {
    if (this.closed) throw new DeliveryError('the publisher closed', true);
  }

  /**
   * A previous owner's publication not yet expired is continued: refreshed with the state it holds, if given, else
   * modified or removed; so are the removals it left under way, asked again of the servers holding them.
   */
  adopt(personId: string, person: Person | undefined, address?: string, presence?: Presence): void {
    // Once the servers are known, before any delivery (each waits for them too): a refresh due now would go to the fallback address.
    if (this.route.ready) return void this.route.ready.then(() => this.closed || this.adopt(personId, person, address, presence));
    const recorded = parsePublicationAddress(address);
    const now = this.core.clock.now();
    for (const l of recorded?.leaving ?? []) if (l.expiresAt > now) this.leaveAgain(personId, l);
    const held = recorded?.held;
    if (!held || held.expiresAt <= now || this.publishers.has(personId)) return;
    const body = person && presence && presentityOf(person, this.target) === held.presentity ? this.bodies.of(personId, person, presence) : undefined;
    // At the server that issued its entity-tag: refreshed or modified there while requests go there, removed there
    // wherever they go; where they go elsewhere, published afresh there (a 412 otherwise, which rechecks every publication).
    const server = held.server && { server: { ...this.base, ...held.server } };
    this.publisher(personId, held.presentity, { etag: held.etag, expiresAt: held.expiresAt, ...server, ...(body !== undefined ? { body } : {}) });
  }

  /** A removal a previous owner left under way: asked again of the server holding the publication, on its own backoff. */
  private leaveAgain(personId: string, l: LeavingPublication): void {
    const pub = this.newPublisher(personId, l.presentity, { etag: l.etag, expiresAt: l.expiresAt, server: { ...this.base, ...l.server } });
    this.leavingOf(personId).set(pub, l.presentity);
    void this.inFlight.run(async () => {
      pub.leave();
      await pub.settled();
    });
  }

  async drain(): Promise<void> {
    await Promise.all([...this.everyPublisher()].map((pub) => pub.settled()));
  }

  /** The publication kept up for the person is unknown or expired (removals left under way are adopted all the same). */
  lapsed(address: string | undefined): boolean {
    const held = parsePublicationAddress(address)?.held;
    return !held || held.expiresAt <= this.core.clock.now();
  }

  addressOf(d: Delivery): string | undefined {
    return this.addressNow(d.personId);
  }

  /** The person's publication and the removals of their old ones still under way, as the ledger keeps them. */
  private addressNow(personId: string): string | undefined {
    const now = this.core.clock.now();
    const held = this.publishers.get(personId);
    const { etag, expiresAt, server } = held?.pub.status() ?? {};
    const leaving: LeavingPublication[] = [];
    for (const [pub, presentity] of this.leaving.get(personId) ?? []) {
      const s = pub.status();
      if (s.etag !== undefined && s.expiresAt !== undefined && s.expiresAt > now && s.server) leaving.push({ presentity, etag: s.etag, expiresAt: s.expiresAt, server: s.server });
    }
    const current = held && etag !== undefined && expiresAt !== undefined ? { presentity: held.presentity, etag, expiresAt, ...(server ? { server } : {}) } : undefined;
    return publicationAddress({ ...(current ? { held: current } : {}), leaving });
  }

  private publisher(personId: string, presentity: string, resume?: PublisherOptions['resume']): Publisher {
    const pub = this.newPublisher(personId, presentity, resume);
    this.publishers.set(personId, { presentity, pub });
    return pub;
  }

  private newPublisher(personId: string, presentity: string, resume?: PublisherOptions['resume']): Publisher {
    const pub: Publisher = new Publisher({
      core: this.core,
      target: this.route,
      presentity,
      expiresSec: this.target.expiresSec,
      ...(this.credentials ? { credentials: this.credentials } : {}),
      ...(resume ? { resume } : {}),
      onPublication: (p) => {
        // A removal left under way ended (or lapsed): the ledger no longer lists it.
        const ended = !p && this.stopLeaving(personId, pub);
        // A refresh (or a fresh start after a 412) moved the publication; a delivery records its own.
        const moved = p && this.publishers.get(personId)?.pub === pub;
        if (!(ended || moved) || this.delivering.has(personId)) return;
        // The last of a person deleted or out of scope: their entry goes, or each later owner would ask for that removal again (a 412).
        const gone = ended && !this.publishers.has(personId) && !this.leaving.has(personId);
        const address = this.addressNow(personId);
        if (gone || address !== undefined) this.hooks?.readdressed(personId, address);
      },
      onLost: (ackedAt, sentAt) => this.recheckAll(ackedAt, sentAt),
    });
    if (this.held) pub.hold();
    return pub;
  }

  hold(held: boolean): void {
    this.held = held;
    for (const pub of this.everyPublisher()) {
      // Released, as many refreshes may be due as there are people: no more at once than deliveries.
      if (held) pub.hold();
      else this.inFlight.run(() => pub.release()).catch((err: unknown) => this.log.error({ err }, 'releasing a publication failed'));
    }
    this.stopResuming();
    if (held) {
      // Their re-subscriptions after a failure, and their refreshes, would go to the failing server one per extension.
      for (const w of this.watches.values()) w.subscriber.hold();
      return;
    }
    this.resumeWatches();
  }

  /**
   * The target answers again, or its requests moved: each dialog watch with a SUBSCRIBE due (or to start over at
   * the server the requests go to now) sends it in its turn at that server (`WatchPacer`), whichever target's.
   */
  private resumeWatches(): void {
    if (this.watches.size === 0) return;
    const paced: Watch[] = [];
    for (const w of this.watches.values()) {
      if (!this.startOver.has(w) && !w.subscriber.waiting) {
        w.subscriber.release();
        continue;
      }
      // Until its turn it sends nothing of its own (a re-subscription or refresh falling due), or a move would send it twice there.
      w.subscriber.hold();
      paced.push(w);
    }
    if (paced.length === 0) return;
    const turns: TimerHandle[] = [];
    let cancelled = false;
    this.resuming.push({
      cancel: () => {
        cancelled = true;
        for (const t of turns) t.cancel();
      },
    });
    void pacedAt(destinationNow(this.route)).then((server) => {
      if (cancelled) return;
      for (const w of paced) turns.push(this.pacer.schedule(server, () => this.resume(w)));
    });
  }

  /** A paced watch's turn: it starts over, or sends what fell due. */
  private resume(w: Watch): void {
    if (this.watches.get(w.personId) !== w) return;
    const restart = this.startOver.delete(w);
    if (restart) w.subscriber.dispose();
    w.subscriber.release();
    if (restart) w.subscriber.start();
  }

  private stopResuming(): void {
    for (const t of this.resuming) t.cancel();
    this.resuming = [];
  }

  /**
   * One publication lost means the server (Kamailio in memory mode, restarted) may have lost them all:
   * each is refreshed now rather than left dark until its own refresh (85 % of `expiresSec`). Losses
   * acknowledged before the last check began are that check's own findings, not a new loss.
   */
  private recheckAll(ackedAt: number | undefined, sentAt: number): void {
    if ((ackedAt ?? -Infinity) <= this.recheckedUpTo) return;
    this.recheckedUpTo = sentAt;
    for (const { pub } of this.publishers.values()) {
      this.inFlight.run(() => pub.recheck(sentAt)).catch((err: unknown) => this.log.error({ err }, 'rechecking a publication failed'));
    }
  }

  /**
   * Requests moved to another server: every publication is made there now, and every dialog watch starts over
   * there. Not while the target is failing (held): the runner's probe, moving on from a server that does not
   * answer, would otherwise send everyone's PUBLISH and SUBSCRIBE at each of its attempts; released, the
   * publications follow with what fell due, and the watches start over.
   */
  private moved(): void {
    if (this.closed) return;
    if (this.held) {
      for (const w of this.watches.values()) this.startOver.add(w);
      return;
    }
    for (const { pub } of this.publishers.values()) {
      this.inFlight.run(() => pub.moved()).catch((err: unknown) => this.log.error({ err }, 'moving a publication failed'));
    }
    // Every watch starts over there, in its turn like after a hold.
    for (const w of this.watches.values()) this.startOver.add(w);
    this.stopResuming();
    this.resumeWatches();
  }

  /** Whether a server answers an OPTIONS (RFC 3261 §11) with anything but a 503: it takes requests again. */
  private async answers(to: Destination): Promise<boolean> {
    const uri = `sip:${formatHostPort(to)}`;
    const outcome = await this.core.request(
      { method: 'OPTIONS', requestUri: uri, from: `sip:presence-hub@${this.target.domain}`, fromTag: this.core.ids.tag(), to: uri, callId: this.core.ids.callId(), cseq: 1 },
      to,
    );
    return outcome.kind === 'response' && outcome.response.status !== 503;
  }

  /**
   * Removes the person's publication: `none` when there was none to remove, the failure when the server did
   * not take the removal; then the publisher stays, so the removal's retry asks the server holding it again.
   */
  private async unpublish(personId: string): Promise<'removed' | 'none' | 'left' | DeliveryError> {
    const held = this.publishers.get(personId);
    if (!held) return 'none';
    const outcome = await this.inFlight.run(() => held.pub.remove());
    if (outcome === 'failed') return failure(`removing the publication of ${held.presentity}`, held.pub);
    if (this.publishers.get(personId) !== held) return outcome;
    // Left to the publisher (a server the requests moved away from): it retries there by itself, and no longer stands for the person.
    if (outcome === 'left') this.leave(personId);
    else this.drop(personId);
    return outcome;
  }

  /** Those of the people, and those left removing what their people no longer stand for. */
  private *everyPublisher(): Iterable<Publisher> {
    for (const { pub } of this.publishers.values()) yield pub;
    for (const pubs of this.leaving.values()) yield* pubs.keys();
  }

  /** The person's publication stays with its publisher, which removes it by itself, and no longer stands for them. */
  private leave(personId: string): void {
    const held = this.publishers.get(personId)!;
    this.publishers.delete(personId);
    this.leavingOf(personId).set(held.pub, held.presentity);
  }

  private leavingOf(personId: string): Map<Publisher, string> {
    let pubs = this.leaving.get(personId);
    if (!pubs) this.leaving.set(personId, (pubs = new Map()));
    return pubs;
  }

  /** Whether `pub` was removing an old publication of the person's (it is done now). */
  private stopLeaving(personId: string, pub: Publisher): boolean {
    const pubs = this.leaving.get(personId);
    if (!pubs?.delete(pub)) return false;
    if (pubs.size === 0) this.leaving.delete(personId);
    return true;
  }

  private drop(personId: string): void {
    this.publishers.get(personId)?.pub.dispose();
    this.publishers.delete(personId);
  }

  private watch(person: Person): void {
    const resource = person.extension ? `sip:${person.extension}@${this.target.domain}` : undefined;
    const watching = this.watches.get(person.id);
    if (watching?.resource === resource) return;
    // A new extension (or none): its old line is no longer theirs, nor a call on it.
    if (watching) this.unwatch(person.id, true);
    if (!resource) return;
    const endpoint: Endpoint = { id: `sip-${this.target.id}-${person.extension}`, kind: 'desk' };
    const w: Watch = {
      personId: person.id,
      resource,
      endpoint,
      subscriber: new Subscriber({
        core: this.core,
        target: this.route,
        subscriber: `sip:presence-hub@${this.target.domain}`,
        resource,
        event: 'dialog',
        accept: DIALOG_INFO_CONTENT_TYPE,
        expiresSec: Math.min(this.target.expiresSec, 3600),
        ...(this.credentials ? { credentials: this.credentials } : {}),
        onNotify: (n) => {
          // Versions restart with every new subscription (RFC 4235 §4.1).
          const callId = n.request.headers.get('call-id');
          if (callId !== w.callId) {
            w.callId = callId;
            w.known = undefined;
          }
          // Kamailio's NOTIFY for a line with no call has no body, at every refresh: still the PBX talking.
          if (!n.body.trim()) return this.engine.heard(this.target.tenantId, 'pbx');
          const parsed = parseDialogInfo(n.body);
          if (!parsed.ok) {
            this.log.warn({ target: this.target.id, resource, error: parsed.error }, 'unreadable dialog-info');
            return;
          }
          const update = mergeDialogInfo(w.known, parsed.value);
          if (update.kind === 'outdated') return;
          w.known = update.info;
          const changes = lineStateChanges(lineState(update.info), endpoint, this.core.clock.now());
          this.engine.apply(this.target.tenantId, person.id, changes).catch((err: unknown) => this.log.error({ err }, 'applying dialog state failed'));
        },
      }),
    };
    this.watches.set(person.id, w);
    if (this.held) w.subscriber.hold();
    w.subscriber.start();
  }

  /** Ends a dialog watch; `clearLine` when the person stays, so a call the watched line showed does not outlive it. */
  private unwatch(personId: string, clearLine = false): void {
    const w = this.watches.get(personId);
    if (!w) return;
    this.watches.delete(personId);
    this.startOver.delete(w);
    void w.subscriber.unsubscribe().finally(() => w.subscriber.dispose());
    if (clearLine) this.clearLine(personId, w).catch((err: unknown) => this.log.error({ err }, 'clearing an old line failed'));
  }

  private async clearLine(personId: string, w: Watch): Promise<void> {
    await this.engine.apply(this.target.tenantId, personId, lineStateChanges('idle', w.endpoint, this.core.clock.now()));
  }

  details(): unknown {
    const publications: Record<string, number> = {};
    let failing = 0;
    for (const { pub } of this.publishers.values()) {
      const s = pub.status();
      publications[s.state] = (publications[s.state] ?? 0) + 1;
      if (s.consecutiveFailures > 0) failing++;
    }
    const subscriptions: Record<string, number> = {};
    for (const w of this.watches.values()) {
      const s = w.subscriber.status().state;
      subscriptions[s] = (subscriptions[s] ?? 0) + 1;
    }
    return {
      server: redactUrl(this.target.server),
      transport: this.target.transport,
      ...this.route.status(),
      publications,
      failingPublications: failing,
      dialogSubscriptions: subscriptions,
    };
  }

  watchHealth(): Partial<Record<WatchHealth, number>> {
    const out: Partial<Record<WatchHealth, number>> = {};
    for (const w of this.watches.values()) {
      const health = healthOf(w.subscriber.status());
      if (health) out[health] = (out[health] ?? 0) + 1;
    }
    return out;
  }

  async close(next?: Target, withdraw = false): Promise<void> {
    this.closed = true;
    this.stopResuming();
    // Removed (Expires 0), or the server would keep them beside the next publisher's and, given two with
    // our tuple id, show the older one's (Kamailio) until they expire. A server that does not answer
    // soon is not waited for: they lapse at their expiry then.
    if (withdraw) await withinMs(WITHDRAW_WAIT_MS, Promise.all([...this.everyPublisher()].map((pub) => this.inFlight.run(() => pub.remove()))));
    for (const pub of this.everyPublisher()) pub.dispose();
    // Nobody will watch these lines any more (the target is gone, disabled or no longer reads them back):
    // a call one showed would otherwise keep its person on a call until it went stale. A handover keeps them.
    const kept = next?.kind === 'sip' && next.enabled && next.subscribeDialog;
    for (const [personId, w] of this.watches) {
      w.subscriber.dispose();
      if (!kept) await this.clearLine(personId, w).catch((err: unknown) => this.log.error({ err }, 'clearing a line failed'));
    }
    this.publishers.clear();
    this.leaving.clear();
    this.watches.clear();
    this.startOver.clear();
    this.bodies.clear();
  }
}

/** A request of `pub` the server did not take, retryable. */
function failure(what: string, pub: Publisher): DeliveryError {
  const { lastStatusCode, lastTransportError } = pub.status();
  return new DeliveryError(`${what} failed (${lastTransportError ?? lastStatusCode ?? 'no answer'})`, true, lastStatusCode);
}

/** A dialog subscription's health; undefined while it is being ended on purpose. */
export function healthOf(s: SubscriberStatus): WatchHealth | undefined {
  switch (s.state) {
    case 'active':
    case 'refreshing':
      return 'watching';
    case 'pending':
      return 'pending';
    case 'backoff':
      return 'failing';
    case 'idle':
    case 'subscribing':
      return s.consecutiveFailures > 0 ? 'failing' : 'pending';
    case 'terminated':
      return 'refused';
    case 'unsubscribing':
      return undefined;
  }
}
