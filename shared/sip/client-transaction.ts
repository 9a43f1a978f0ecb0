import type { Clock, TimerHandle } from '../clock/clock.js';
import type { DelayQueue } from './delay-queue.js';
import type { SipRequest, SipResponse } from './message.js';
import { isReliable, type Destination } from './transport.js';
import { T1, T2, TIMER_F, timerK } from './timers.js';

export type TransactionOutcome =
  | { kind: 'response'; response: SipResponse }
  /** Timer F fired: the RFC reports this as a 408 (§17.1.2.2). */
  | { kind: 'timeout' }
  | { kind: 'transport-error'; error: Error };

/** The transaction's outcome and the request last sent (its CSeq is the one to continue from). */
export type RequestOutcome = TransactionOutcome & { request: SipRequest };

type State = 'trying' | 'proceeding' | 'completed' | 'terminated';

/**
 * What transactions need from their user agent: one object shared by all of them, so that a
 * transaction (thousands a second) carries no closures of its own.
 */
export interface TransactionHost {
  readonly clock: Clock;
  /** Timer K of unreliable transports, one queue for all transactions (else a clock timer each); it calls `terminate`. */
  readonly timerK?: DelayQueue<NonInviteClientTransaction>;
  /** Hands the request (again) to the transport. */
  transmit(request: SipRequest, to: Destination): Promise<void>;
  /** The transaction `key` ended: no more responses are matched to it. */
  terminated(key: string): void;
}

/** Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6). */
export class NonInviteClientTransaction {
  private state: State = 'trying';
  private timerE: TimerHandle | undefined;
  private timerF: TimerHandle | undefined;
  private intervalE = T1;
  private readonly reliable: boolean;
  // Dropped once completed: Timer K keeps the transaction 5 s, and thousands a second add up for the GC.
  private request: SipRequest | undefined;
  /** Called once, with the final response, the timeout or the transport error. */
  private onOutcome: ((outcome: RequestOutcome) => void) | undefined;

  constructor(
    private readonly host: TransactionHost,
    private readonly key: string,
    request: SipRequest,
    private readonly to: Destination,
    onOutcome: (outcome: RequestOutcome) => void,
  ) {
    this.reliable = isReliable(to.protocol);
    this.request = request;
    this.onOutcome = onOutcome;
  }

  start(): void {
    const clock = this.host.clock;
    this.transmit();
    // Timer E retransmits only over unreliable transports (§17.1.2.2).
    if (!this.reliable) this.timerE = clock.after(this.intervalE, () => this.onTimerE());
    this.timerF = clock.after(TIMER_F, () => this.finish({ kind: 'timeout', request: this.request! }));
  }

  receive(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.timerE?.cancel();
    this.timerF?.cancel();
    this.timerE = this.timerF = undefined;
    this.state = 'completed';
    this.settle({ kind: 'response', response, request: this.request! });
    // Timer K absorbs retransmitted final responses.
    const queue = this.host.timerK;
    if (queue && !this.reliable) queue.add(this);
    else this.host.clock.after(timerK(this.reliable), () => this.terminate());
  }

  private onTimerE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.transmit();
    // Trying doubles up to T2; Proceeding retransmits every T2.
    this.intervalE = this.state === 'trying' ? Math.min(2 * this.intervalE, T2) : T2;
    this.timerE = this.host.clock.after(this.intervalE, () => this.onTimerE());
  }

  private transmit(): void {
    const request = this.request;
    if (!request) return;
    this.host.transmit(request, this.to).catch((error: unknown) => {
      const request = this.request;
      if (request) this.finish({ kind: 'transport-error', error: error instanceof Error ? error : new Error(String(error)), request });
    });
  }

  private settle(outcome: RequestOutcome): void {
    const onOutcome = this.onOutcome;
    this.onOutcome = undefined;
    this.request = undefined;
    onOutcome?.(outcome);
  }

  private finish(outcome: RequestOutcome): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.settle(outcome);
    this.terminate();
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.request = undefined;
    this.timerE?.cancel();
    this.timerF?.cancel();
    this.host.terminated(this.key);
  }
}
