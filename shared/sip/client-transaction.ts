import type { Clock, TimerHandle } from '../clock/clock.js';
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
  onTerminated: () => void;
}

/** Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6). */
export class NonInviteClientTransaction {
  readonly outcome: Promise<TransactionOutcome>;
  private state: State = 'trying';
  private settle!: (outcome: TransactionOutcome) => void;
  private timerE: TimerHandle | undefined;
  private timerF: TimerHandle | undefined;
  private intervalE = T1;

  constructor(private readonly options: ClientTransactionOptions) {
    this.outcome = new Promise((resolve) => (this.settle = resolve));
  }

  start(): void {
    this.transmit();
    // Timer E retransmits only over unreliable transports (§17.1.2.2).
    if (!this.options.reliable) this.timerE = this.options.clock.after(this.intervalE, () => this.onTimerE());
    this.timerF = this.options.clock.after(TIMER_F, () => this.finish({ kind: 'timeout' }));
  }

  receive(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.timerE?.cancel();
    this.timerF?.cancel();
    this.state = 'completed';
    this.settle({ kind: 'response', response });
    // Timer K absorbs retransmitted final responses.
    this.options.clock.after(timerK(this.options.reliable), () => this.terminate());
  }

  private onTimerE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.transmit();
    // Trying doubles up to T2; Proceeding retransmits every T2.
    this.intervalE = this.state === 'trying' ? Math.min(2 * this.intervalE, T2) : T2;
    this.timerE = this.options.clock.after(this.intervalE, () => this.onTimerE());
  }

  private transmit(): void {
    this.options.send().catch((error: unknown) => {
      this.finish({ kind: 'transport-error', error: error instanceof Error ? error : new Error(String(error)) });
    });
  }

  private finish(outcome: TransactionOutcome): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.settle(outcome);
    this.terminate();
  }

  private terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timerE?.cancel();
    this.timerF?.cancel();
    this.options.onTerminated();
  }
}
