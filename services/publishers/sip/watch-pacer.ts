import type { Clock, TimerHandle } from '../../../shared/clock/clock.js';
import { formatHostPort, type Destination } from '../../../shared/sip/transport.js';
import type { UserAgentCore } from '../../../shared/sip/user-agent-core.js';

/**
 * Dialog watches (SUBSCRIBEs) resumed after their target failed, or started over at the server the requests
 * moved to, go to each server at most this many a second: 1,000 extensions would otherwise subscribe at one
 * instant, and two targets on one Kamailio twice as fast as one.
 */
export const WATCHES_RESUMED_PER_SECOND = 100;

interface Turn {
  start: () => void;
  cancelled: boolean;
}

/** One server's turns, in order, and when the last one went. */
interface Lane {
  turns: Turn[];
  lastAt: number;
  timer?: TimerHandle;
}

/**
 * Paces subscriptions per server (`pacedAt`: the address and port they reach), whichever target they belong to. A
 * cancelled turn (the target failed again, or closed) takes no slot.
 */
export class WatchPacer {
  private readonly lanes = new Map<string, Lane>();
  private readonly gapMs = 1000 / WATCHES_RESUMED_PER_SECOND;

  constructor(private readonly clock: Clock) {}

  /** Runs `start` now if the server's last turn was long enough ago, else in turn after those waiting. */
  schedule(server: string, start: () => void): TimerHandle {
    let lane = this.lanes.get(server);
    if (!lane) this.lanes.set(server, (lane = { turns: [], lastAt: -Infinity }));
    const turn: Turn = { start, cancelled: false };
    lane.turns.push(turn);
    this.pump(server, lane);
    return { cancel: () => void (turn.cancelled = true) };
  }

  private pump(server: string, lane: Lane): void {
    while (lane.turns[0]?.cancelled) lane.turns.shift();
    const next = lane.turns[0];
    const now = this.clock.now();
    const due = lane.lastAt + this.gapMs;
    // A server whose last turn is a gap behind needs no lane: the next one goes at once. One just served keeps
    // it until then (the timer below), or a lane would stay for every server ever resumed at.
    if (!next && now >= due) {
      lane.timer?.cancel();
      this.lanes.delete(server);
      return;
    }
    if (lane.timer) return;
    if (!next || now < due) {
      lane.timer = this.clock.at(due, () => {
        lane.timer = undefined;
        this.pump(server, lane);
      });
      return;
    }
    lane.turns.shift();
    lane.lastAt = now;
    next.start();
    this.pump(server, lane);
  }
}

const pacers = new WeakMap<UserAgentCore, WatchPacer>();

/** The pacer of every target sharing this SIP stack (one per replica), so their watches to one server count together. */
export function watchPacerOf(core: UserAgentCore): WatchPacer {
  let pacer = pacers.get(core);
  if (!pacer) pacers.set(core, (pacer = new WatchPacer(core.clock)));
  return pacer;
}

/**
 * The server a destination's requests reach, as the pacer tells servers apart: the address its host resolves to now
 * (where each request is sent, `Destination.check`, answers kept for their DNS TTL) and the port, whatever the
 * transport, so two names for one Kamailio share its pace. An answer that changes splits a pace for one server at
 * most for the turns already waiting. A host that does not resolve now (its requests fail too) is paced by its name.
 */
export async function pacedAt(to: Destination): Promise<string> {
  const address = to.check ? await to.check(to.host).catch(() => to.host) : to.host;
  return formatHostPort({ host: address, port: to.port });
}
