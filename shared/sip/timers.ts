/** RFC 3261 §17.1.1.1 and Table 4. */
export const T1 = 500;
export const T2 = 4_000;
export const T4 = 5_000;

/** Non-INVITE transaction timeout (§17.1.2.2). */
export const TIMER_F = 64 * T1;
/** RFC 6665 §4.1.2.4: how long a subscriber waits for the first NOTIFY. */
export const TIMER_N = 64 * T1;

/** Wait for response retransmissions after a final response (§17.1.2.2). */
export const timerK = (reliable: boolean): number => (reliable ? 0 : T4);
/** Wait for request retransmissions after answering one (§17.2.2). */
export const timerJ = (reliable: boolean): number => (reliable ? 0 : 64 * T1);
