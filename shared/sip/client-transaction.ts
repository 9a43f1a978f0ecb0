import type { Clock, TimerHandle } from '../clock/clock.js';
import type { DelayQueue } from './delay-queue.js';
import type { SipResponse } from './message.js';
import { T1, T2, TIMER_F, timerK } from './timers.js';

export type TransactionOutcome =
  | { kind: 'response'; response: SipResponse }
  /** Timer F fired: the RFC reports this as a 408 (§17.1.2.2). */
  | { kind: 'timeout' }
  | { kind: 'transport-error'; error: Error };

type State = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface ClientTransactionOptions {
  clock: Clock;
  reliable: boolean;
  /** Hands the request (again) to the transport. */
  send: () => Promise<void>;
  /** Called once, with the final response, the timeout or the transport error. */
  onOutcome: (outcome: TransactionOutcome) => void;
  onTerminated: () => void;
  /** Timer K for unreliable transports, shared by the transactions of one user agent (else a clock timer each). */
  timerK?: DelayQueue;
}

const NOTHING = (): Promise<void> => Promise.resolve();

/** Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6). */
export class NonInviteClientTransaction {
  private state: State = 'trying';
  private timerE: TimerHandle | undefined;
  private timerF: TimerHandle | undefined;
  private intervalE = T1;
  private readonly clock: Clock;
  private readonly reliable: boolean;
  private readonly onTerminated: () => void;
  private readonly timerK: DelayQueue | undefined;
  // Dropped once completed: Timer K keeps the transaction 5 s, and thousands a second add up for the GC.
  private send: () => Promise<void>;
  private onOutcome: ((outcome: TransactionOutcome) => void) | undefined;

  constructor(options: ClientTransactionOptions) {
    this.clock = options.clock;
    this.reliable = options.reliable;
    this.onTerminated = options.onTerminated;
    this.timerK = options.timerK;
    this.send = options.send;
    this.onOutcome = options.onOutcome;
  }

  start(): void {
    this.transmit();
    // Timer E retransmits only over unreliable transports (§17.1.2.2).
    if (!this.reliable) this.timerE = this.clock.after(this.intervalE, () => this.onTimerE());
    this.timerF = this.clock.after(TIMER_F, () => this.finish({ kind: 'timeout' }));
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
    this.send = NOTHING;
    this.settle({ kind: 'response', response });
    // Timer K absorbs retransmitted final responses.
    if (this.timerK && !this.reliable) this.timerK.add(() => this.terminate());
    else this.clock.after(timerK(this.reliable), () => this.terminate());
  }

  private onTimerE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.transmit();
    // Trying doubles up to T2; Proceeding retransmits every T2.
    this.intervalE = this.state === 'trying' ? Math.min(2 * this.intervalE, T2) : T2;
    this.timerE = this.clock.after(this.intervalE, () => this.onTimerE());
  }

  private transmit(): void {
    this.send().catch((error: unknown) => {
      this.finish({ kind: 'transport-error', error: error instanceof Error ? error : new Error(String(error)) });
    });
  }

  private settle(outcome: TransactionOutcome): void {
    const onOutcome = this.onOutcome;
    this.onOutcome = undefined;
    onOutcome?.(outcome);
  }

  private finish(outcome: TransactionOutcome): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.settle(outcome);
    this.terminate();
  }

  private terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.send = NOTHING;
    this.timerE?.cancel();
    this.timerF?.cancel();
    this.onTerminated();
  }
}
