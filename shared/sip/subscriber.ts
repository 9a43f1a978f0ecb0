import { parseNameAddress, parseParams, tagOf } from './address.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { DIALOG_INFO_CONTENT_TYPE } from './dialog-info.js';
import { DigestSession, type DigestCredentials } from './digest.js';
import { SipParseError } from './errors.js';
import { headerSeconds, parseCSeq, type SipMessage, type SipRequest } from './message.js';
import { TimerSlot } from './timer-slot.js';
import { TIMER_N } from './timers.js';
import { destinationNow, type RequestTarget } from './transport.js';
import type { RequestOutcome, ResponseSpec, UserAgentCore } from './user-agent-core.js';

/** A parsed Subscription-State header (RFC 6665 §8.2.3). */
export interface SubscriptionState {
  /** active, pending, terminated, or an extension value. */
  value: string;
  expires?: number;
  reason?: string;
  retryAfter?: number;
}

export function parseSubscriptionState(header: string | undefined): SubscriptionState | undefined {
  const match = /^\s*([A-Za-z0-9.!%*_+`'~-]+)\s*(?:;(.*))?$/.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const params = parseParams(match[2] ?? '');
  const seconds = (name: string) => (/^\d{1,10}$/.test(params[name] ?? '') ? Number(params[name]) : undefined);
  return { value: match[1].toLowerCase(), expires: seconds('expires'), reason: params['reason'], retryAfter: seconds('retry-after') };
}

export interface Notification {
  body: string;
  contentType?: string;
  subscriptionState: SubscriptionState;
  request: SipRequest;
}

/**
 * idle ──start──▶ subscribing ──NOTIFY──▶ active|pending ──timer──▶ refreshing ──2xx──▶ active|pending
 * Failure, timeout, no NOTIFY within Timer N, or a terminated NOTIFY: backoff, then a new subscription.
 * rejected/noresource/invariant end in terminated (RFC 6665 §4.1.3: do not re-subscribe).
 */
export type SubscriberState =
  | 'idle'
  | 'subscribing'
  | 'pending'
  | 'active'
  | 'refreshing'
  | 'backoff'
  | 'unsubscribing'
  | 'terminated';

export interface SubscriberOptions {
  core: UserAgentCore;
  /** The notifier, or the proxy in front of it; every request goes where it points then (a dialog another server does not know gets 481 there, and starts over). */
  target: RequestTarget;
  /** The watcher AOR (From). */
  subscriber: string;
  /** The watched resource (Request-URI and To). */
  resource: string;
  event?: string;
  accept?: string;
  expiresSec?: number;
  credentials?: DigestCredentials;
  refreshRatio?: number;
  /** Its jitter is drawn from `core.random`. */
  backoff?: BackoffPolicy;
  /** Each NOTIFY of the current subscription. Errors thrown here do not change the answer (200). */
  onNotify(notification: Notification): void;
}

export interface SubscriberStatus {
  state: SubscriberState;
  /** The last Subscription-State value and reason. */
  subscriptionState?: string;
  reason?: string;
  expiresAt?: number;
  lastStatusCode?: number;
  lastSuccessAt?: number;
  consecutiveFailures: number;
}

interface Dialog {
  callId: string;
  localTag: string;
  remoteTag?: string;
  remoteTarget?: string;
  routeSet: string[];
  cseq: number;
  closing: boolean;
  unregister(): void;
}

const NO_RESUBSCRIBE = new Set(['rejected', 'noresource', 'invariant']);

/** An RFC 6665 subscriber for one resource and event package, re-subscribing on its own until told to stop. */
export class Subscriber {
  private state: SubscriberState = 'idle';
  private dialog: Dialog | undefined;
  private expiresSec: number;
  private expiresAt: number | undefined;
  private subscriptionState: SubscriptionState | undefined;
  private lastStatusCode: number | undefined;
  private lastSuccessAt: number | undefined;
  private failures = 0;
  /** Held (`hold`): nothing goes out of its own accord; what falls due meanwhile waits here for `release`. */
  private held = false;
  private due: (() => void) | undefined;
  private readonly timer: TimerSlot;
  private readonly timerN: TimerSlot;
  private readonly auth: DigestSession | undefined;

  constructor(private readonly options: SubscriberOptions) {
    this.expiresSec = options.expiresSec ?? 600;
    this.timer = new TimerSlot(options.core.clock);
    this.timerN = new TimerSlot(options.core.clock);
    this.auth = options.credentials && new DigestSession(options.credentials, options.core.ids.cnonce);
  }

  start(): void {
    if (this.state === 'idle' || this.state === 'terminated') this.whenFree(() => this.subscribe());
  }

  /**
   * Sends nothing of its own accord (a new subscription, a refresh, a re-subscription after a failure or its
   * backoff) until `release`: the notifier is failing, and whoever holds this finds out when it answers again.
   */
  hold(): void {
    this.held = true;
  }

  /** Ends `hold`: what fell due meanwhile goes out now. */
  release(): void {
    this.held = false;
    const due = this.due;
    this.due = undefined;
    due?.();
  }

  /** Whether something fell due while held, and goes out at `release`. */
  get waiting(): boolean {
    return this.due !== undefined;
  }

  private whenFree(action: () => void): void {
    if (this.held) this.due = action;
    else action();
  }

  /** Ends the subscription with Expires 0 when a dialog exists; resolves after the answer. */
  async unsubscribe(): Promise<void> {
    const dialog = this.dialog;
    this.stop();
    if (!dialog?.remoteTag) {
      dialog?.unregister();
      return;
    }
    // Keep answering NOTIFYs of the closing dialog: the notifier sends a final terminated one.
    dialog.closing = true;
    this.state = 'unsubscribing';
    await this.request(dialog, 0);
    if (this.state === 'unsubscribing') this.state = 'terminated';
    this.options.core.clock.after(TIMER_N, () => dialog.unregister());
  }

  status(): SubscriberStatus {
    return {
      state: this.state,
      subscriptionState: this.subscriptionState?.value,
      reason: this.subscriptionState?.reason,
      expiresAt: this.expiresAt,
      lastStatusCode: this.lastStatusCode,
      lastSuccessAt: this.lastSuccessAt,
      consecutiveFailures: this.failures,
    };
  }

  /** Stops timers and forgets the dialog without telling the notifier. */
  dispose(): void {
    this.dialog?.unregister();
    this.stop();
  }

  private stop(): void {
    this.due = undefined;
    this.timer.cancel();
    this.timerN.cancel();
    this.dialog = undefined;
    this.state = 'terminated';
  }

  private subscribe(): void {
    this.dialog?.unregister();
    const { core } = this.options;
    const callId = core.ids.callId();
    const localTag = core.ids.tag();
    const dialog: Dialog = { callId, localTag, routeSet: [], cseq: 0, closing: false, unregister: () => {} };
    // Registered before sending: the first NOTIFY may overtake the 200 (RFC 6665 §4.1.2.4).
    dialog.unregister = core.addDialog(callId, localTag, (request) => this.onRequest(dialog, request));
    this.dialog = dialog;
    this.state = 'subscribing';
    this.send(dialog);
    this.timerN.at(core.clock.now() + TIMER_N, () => this.fail(dialog));
  }

  private send(dialog: Dialog): void {
    void this.request(dialog, this.expiresSec).then((outcome) => {
      if (this.dialog === dialog) this.onResponse(dialog, outcome);
    });
  }

  private async request(dialog: Dialog, expires: number): Promise<RequestOutcome> {
    const { core, event = 'dialog', accept = DIALOG_INFO_CONTENT_TYPE } = this.options;
    const outcome = await core.request(
      {
        method: 'SUBSCRIBE',
        requestUri: dialog.remoteTarget ?? this.options.resource,
        from: this.options.subscriber,
        fromTag: dialog.localTag,
        to: this.options.resource,
        toTag: dialog.remoteTag,
        callId: dialog.callId,
        cseq: ++dialog.cseq,
        routes: dialog.routeSet,
        contact: true,
        headers: [
          ['Event', event],
          ['Expires', String(expires)],
          ['Accept', accept],
        ],
      },
      destinationNow(this.options.target),
      this.auth,
    );
    dialog.cseq = Math.max(dialog.cseq, parseCSeq(outcome.request.headers.get('cseq'))?.seq ?? 0);
    return outcome;
  }

  private onResponse(dialog: Dialog, outcome: RequestOutcome): void {
    const response = outcome.kind === 'response' ? outcome.response : undefined;
    const status = response?.status ?? (outcome.kind === 'timeout' ? 408 : 503);
    this.lastStatusCode = status;
    const grantedSec = response ? (headerSeconds(response, 'expires') ?? this.expiresSec) : 0;
    // A 2xx with Expires 0 ended the subscription at once; treated as a failure so it cannot loop.
    if (response && status >= 200 && status < 300 && grantedSec > 0) {
      // §12.1.2: a UAC takes the route set from Record-Route in reverse order.
      if (!dialog.remoteTag) this.establish(dialog, response, [...response.headers.getAll('record-route')].reverse());
      this.failures = 0;
      this.lastSuccessAt = this.options.core.clock.now();
      if (this.state === 'refreshing' || this.state === 'subscribing') {
        this.state = this.subscriptionState?.value === 'active' ? 'active' : 'pending';
      }
      this.scheduleRefresh(dialog, grantedSec, true);
      return;
    }
    const minExpires = status === 423 && response ? headerSeconds(response, 'min-expires') : undefined;
    if (minExpires !== undefined && minExpires > this.expiresSec) {
      this.expiresSec = minExpires;
      return this.send(dialog);
    }
    // The notifier no longer knows the dialog: start over at once.
    if (status === 481 && dialog.remoteTag) return this.subscribe();
    this.fail(dialog);
  }

  private onRequest(dialog: Dialog, request: SipRequest): ResponseSpec {
    if (request.method !== 'NOTIFY') return { status: 405, headers: [['Allow', 'NOTIFY']] };
    if (this.dialog !== dialog && !dialog.closing) return { status: 481 };
    const fromTag = tagOf(request.headers.get('from'));
    if (!fromTag) return { status: 400 };
    if (dialog.remoteTag && fromTag !== dialog.remoteTag) return { status: 481 };
    const event = (request.headers.get('event') ?? '').split(';')[0]?.trim().toLowerCase();
    if (event !== (this.options.event ?? 'dialog').toLowerCase()) return { status: 489 };
    const subscriptionState = parseSubscriptionState(request.headers.get('subscription-state'));
    if (!subscriptionState) return { status: 400 };

    // §12.1.1: from a request (the NOTIFY that created the dialog), the route set keeps its order.
    if (!dialog.remoteTag) this.establish(dialog, request, request.headers.getAll('record-route'));
    else this.updateTarget(dialog, request);
    this.timerN.cancel();
    try {
      this.options.onNotify({ body: request.body, contentType: request.headers.get('content-type'), subscriptionState, request });
    } catch {
      // The callback's failure is the caller's concern; the notifier still gets its 200.
    }
    if (dialog.closing) {
      if (subscriptionState.value === 'terminated') dialog.unregister();
      return { status: 200 };
    }
    this.subscriptionState = subscriptionState;
    if (subscriptionState.value === 'terminated') this.onTerminated(dialog, subscriptionState);
    else {
      if (this.state === 'subscribing' || this.state === 'active' || this.state === 'pending') {
        this.state = subscriptionState.value === 'active' ? 'active' : 'pending';
      }
      if (subscriptionState.expires !== undefined) this.scheduleRefresh(dialog, subscriptionState.expires, false);
    }
    return { status: 200 };
  }

  private establish(dialog: Dialog, message: SipMessage, routeSet: string[]): void {
    dialog.remoteTag = tagOf(message.headers.get(message.kind === 'request' ? 'from' : 'to'));
    dialog.routeSet = routeSet;
    this.updateTarget(dialog, message);
  }

  private updateTarget(dialog: Dialog, message: SipMessage): void {
    const contact = message.headers.getAll('contact')[0];
    if (contact === undefined) return;
    try {
      dialog.remoteTarget = parseNameAddress(contact).uri;
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
    }
  }

  /** Refreshes after `refreshRatio` of `seconds`; a NOTIFY's shorter expires may only bring it forward. */
  private scheduleRefresh(dialog: Dialog, seconds: number, replace: boolean): void {
    const now = this.options.core.clock.now();
    const expiresAt = now + seconds * 1000;
    if (!replace && this.expiresAt !== undefined && expiresAt >= this.expiresAt) return;
    this.expiresAt = expiresAt;
    this.timer.at(now + seconds * 1000 * (this.options.refreshRatio ?? 0.85), () => {
      const refresh = () => {
        if (this.dialog !== dialog) return;
        this.state = 'refreshing';
        this.send(dialog);
      };
      if (!this.held) return refresh();
      this.due = refresh;
      this.timer.at(expiresAt, () => this.lapse(dialog, refresh));
    });
  }

  /**
   * Held past its expiry without its refresh: the notifier has ended the subscription (RFC 6665 §4.1.2.2), so
   * it no longer counts as watching, and a new one is what goes out once released (not a refresh it would 481).
   */
  private lapse(dialog: Dialog, refresh: () => void): void {
    if (this.dialog !== dialog || this.due !== refresh) return;
    dialog.unregister();
    this.stop();
    this.failures += 1;
    this.state = 'backoff';
    this.whenFree(() => this.subscribe());
  }

  private onTerminated(dialog: Dialog, state: SubscriptionState): void {
    dialog.unregister();
    this.stop();
    if (state.reason !== undefined && NO_RESUBSCRIBE.has(state.reason) && state.retryAfter === undefined) return;
    this.retry(state.retryAfter === undefined ? undefined : state.retryAfter * 1000);
  }

  private fail(dialog: Dialog): void {
    if (this.dialog !== dialog) return;
    dialog.unregister();
    this.stop();
    this.retry();
  }

  /** A new subscription after `delayMs`, or after the backoff for the failures so far. */
  private retry(delayMs?: number): void {
    this.failures += 1;
    this.state = 'backoff';
    const policy = this.options.backoff ?? DEFAULT_BACKOFF;
    const delay = delayMs ?? backoffDelay(policy, this.failures, this.options.core.random);
    this.timer.at(this.options.core.clock.now() + delay, () => this.whenFree(() => this.subscribe()));
  }
}
