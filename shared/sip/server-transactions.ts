import type { Clock } from '../clock/clock.js';
import type { SipRequest, SipResponse } from './message.js';
import { timerJ } from './timers.js';
import { BRANCH_COOKIE, parseVia } from './via.js';

export type Arrival =
  | { kind: 'new'; complete(response: SipResponse): void }
  /** `response` is absent while the first copy is still being handled. */
  | { kind: 'retransmission'; response?: SipResponse };

/**
 * Non-INVITE server transactions (RFC 3261 §17.2.2), kept only to absorb retransmitted requests:
 * a copy that arrives before the answer is dropped, one after it gets the same answer until Timer J.
 */
export class ServerTransactions {
  private readonly table = new Map<string, { response?: SipResponse }>();

  constructor(private readonly clock: Clock) {}

  receive(request: SipRequest, reliable: boolean): Arrival {
    const key = transactionKey(request);
    const known = key === undefined ? undefined : this.table.get(key);
    if (known) return { kind: 'retransmission', response: known.response };
    const entry: { response?: SipResponse } = {};
    if (key !== undefined) this.table.set(key, entry);
    return {
      kind: 'new',
      complete: (response) => {
        entry.response = response;
        if (key !== undefined) this.clock.after(timerJ(reliable), () => this.table.delete(key));
      },
    };
  }
}

/** §17.2.3: branch, sent-by and method of the top Via; RFC 2543 peers without the cookie are not matched. */
function transactionKey(request: SipRequest): string | undefined {
  const via = parseVia(request.headers.getAll('via')[0]);
  const branch = via?.params['branch'];
  return via && branch?.startsWith(BRANCH_COOKIE) ? `${branch} ${via.sentBy} ${request.method}` : undefined;
}
