import type { FallbackOutcome, RingEntry, RouteDecision } from './decision.js';

/**
 * One destination of Kamailio's rtjson routing document (kamailio src/modules/rtjson README, "JSON
 * Routing Structure"): `uri` becomes the branch's R-URI; `fr_timer` and `fr_inv_timer` (ms) are the tm
 * timers `rtjson_update_branch()` sets for the branch in serial routing. The other fields are ignored by
 * rtjson and read by the config or by people reading logs.
 */
export interface RtjsonRoute {
  uri: string;
  fr_timer: number;
  fr_inv_timer: number;
  /** Which step of the chain this branch belongs to; branches of one step ring together. */
  step: number;
  kind: 'member' | 'queue' | 'overflow' | 'voicemail' | 'forward';
  person?: string;
}

export interface RtjsonDocument {
  version: '1.0';
  /** Always serial: steps are tried in order; the config forks each step's branches together. */
  routing: 'serial';
  routes: RtjsonRoute[];
  /**
   * Branches per step, comma-separated (`"2,1,1"`): the config pushes that many routes with
   * `rtjson_next_route()` before each `t_relay()`, so one step rings all of a person's phones at once
   * (rtjson itself knows only one serial branch at a time). Empty when there is nothing to ring.
   */
  step_sizes: string;
  /**
   * How long the whole INVITE transaction may live: every step's ring time plus a margin. tm cuts a
   * transaction after `max_inv_lifetime` (180 s by default, RFC 3261 timer C) whatever the branch
   * timers say, which would end a long chain or a queue wait early; the config passes this to
   * `t_set_max_lifetime()`.
   */
  max_lifetime_ms: number;
  /** The final answer when every step failed, or when there is no step at all. */
  hangup_code?: number;
  hangup_reason?: string;
  status: RouteDecision['status'];
  target: string;
}

export interface RtjsonOptions {
  /** `host[:port]` that phone numbers are sent to as `sip:<number>@<gateway>`. */
  pstnGateway?: string;
}

/** A phone that sends no provisional answer within this time is unreachable; tm's default is 30 s. */
const NO_ANSWER_AT_ALL_MS = 5_000;
/** How long a forwarded call or a voicemail box may take to answer. */
const EXTERNAL_RING_MS = 30_000;
/** On top of the ring times: set-up and the last branch's final answer (RFC 3261 timer B is 32 s). */
const LIFETIME_MARGIN_MS = 32_000;

function sipUriFor(contact: string, opts: RtjsonOptions): string | undefined {
  if (/^sips?:/.test(contact)) return contact;
  if (/^\+?[0-9]{3,20}$/.test(contact) && opts.pstnGateway) return `sip:${contact}@${opts.pstnGateway}`;
  return undefined;
}

class Builder {
  readonly routes: RtjsonRoute[] = [];
  readonly sizes: number[] = [];
  ringMs = 0;

  constructor(private readonly opts: RtjsonOptions) {}

  step(branches: Array<Omit<RtjsonRoute, 'step' | 'fr_timer'>>): void {
    const usable = branches.filter((b) => b.uri);
    if (usable.length === 0) return;
    const step = this.sizes.length;
    for (const { uri, kind, person, fr_inv_timer } of usable) {
      const r: RtjsonRoute = { uri, step, kind, fr_timer: Math.min(NO_ANSWER_AT_ALL_MS, fr_inv_timer), fr_inv_timer };
      if (person !== undefined) r.person = person;
      this.routes.push(r);
    }
    this.sizes.push(usable.length);
    this.ringMs += Math.max(...usable.map((b) => b.fr_inv_timer));
  }

  ring(entries: readonly RingEntry[], kind: 'member' | 'overflow'): void {
    const steps = new Map<number, RingEntry[]>();
    for (const e of entries) steps.set(e.step, [...(steps.get(e.step) ?? []), e]);
    for (const members of steps.values()) {
      const timer = Math.max(...members.map((m) => m.ringTimeoutSeconds)) * 1000;
      this.step(
        members.flatMap((m) =>
          m.contacts.flatMap((c) => {
            const uri = sipUriFor(c.uri, this.opts);
            return uri ? [{ uri, fr_inv_timer: timer, kind, person: m.personId }] : [];
          }),
        ),
      );
    }
  }

  /** Adds a fallback step; answers whether the chain ends here (a hang-up). */
  fallback(f: FallbackOutcome): { code: number; reason: string } | undefined {
    switch (f.type) {
      case 'queue':
        if (f.uri && !f.skipped) this.step([{ uri: f.uri, fr_inv_timer: f.maxWaitSeconds * 1000, kind: 'queue' }]);
        return undefined;
      case 'overflow':
        if (!f.skipped) this.ring(f.ring, 'overflow');
        return undefined;
      case 'voicemail':
        if (f.uri) this.step([{ uri: f.uri, fr_inv_timer: EXTERNAL_RING_MS, kind: 'voicemail' }]);
        return undefined;
      case 'forward': {
        const uri = f.uri ?? (f.number ? sipUriFor(f.number, this.opts) : undefined);
        if (uri) this.step([{ uri, fr_inv_timer: EXTERNAL_RING_MS, kind: 'forward' }]);
        return undefined;
      }
      case 'hangup':
        return { code: f.sipCode, reason: f.message };
    }
  }
}

/**
 * The decision as Kamailio's rtjson routing document, so the proxy can fork directly on the answer: the
 * ring list's steps, then each fallback step that has a SIP destination, in order. Steps without one
 * (a queue or voicemail box with no URI, a number with no gateway) are left out; a hang-up step ends the
 * chain and becomes `hangup_code`/`hangup_reason`.
 */
export function toRtjson(d: RouteDecision, opts: RtjsonOptions = {}): RtjsonDocument {
  const b = new Builder(opts);
  b.ring(d.ring, 'member');
  let hangup: { code: number; reason: string } | undefined;
  for (const f of d.fallback) {
    hangup = b.fallback(f);
    if (hangup) break;
  }
  const doc: RtjsonDocument = {
    version: '1.0',
    routing: 'serial',
    routes: b.routes,
    step_sizes: b.sizes.join(','),
    max_lifetime_ms: b.ringMs + LIFETIME_MARGIN_MS,
    status: d.status,
    target: d.target.id,
  };
  if (hangup) {
    doc.hangup_code = hangup.code;
    doc.hangup_reason = hangup.reason;
  } else if (b.routes.length === 0) {
    doc.hangup_code = 480;
    doc.hangup_reason = d.status === 'closed' ? 'Closed' : 'Temporarily Unavailable';
  }
  return doc;
}
