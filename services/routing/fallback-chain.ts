import { seesActivity } from '../api/views.js';
import type { FallbackStep, Strategy } from '../../shared/domain/group.js';
import type { FallbackOutcome, LeaveCode, LeftOut, RingEntry } from './decision.js';
import { duration } from './wording.js';

/** Reasons that end by themselves: someone left out for one of these may take a queued call. */
const TEMPORARY: ReadonlySet<LeaveCode> = new Set(['dnd', 'in-meeting', 'on-call', 'wrap-up', 'away', 'off-work', 'busy']);

/** A pause from group calls ends by itself only when it was given an end, and so does whatever keeps them out after it. */
const endsByItself = (l: LeftOut): boolean =>
  TEMPORARY.has(l.code) || (l.code === 'paused' && l.until !== undefined && (l.afterPause === undefined || TEMPORARY.has(l.afterPause)));

export interface OverflowResult {
  name: string;
  strategy?: Strategy;
  ring: RingEntry[];
  skipped?: string;
}

export interface ChainContext {
  at: number;
  ring: readonly RingEntry[];
  leftOut: readonly LeftOut[];
  /** The overflow group's ring list at the same instant (never changes its strategy state). */
  overflow(groupId: string): Promise<OverflowResult>;
}

/**
 * The queue's hint: when the first member left out for a passing reason is expected to be free. The step
 * is skipped when waiting cannot help: nobody is on the ring list and nobody is expected back, or everyone
 * expected back is expected later than the caller may wait (Twilio's `skip_if` idea, decided here).
 */
function queueOutcome(step: Extract<FallbackStep, { type: 'queue' }>, ctx: ChainContext): FallbackOutcome {
  const out: Extract<FallbackOutcome, { type: 'queue' }> = { type: 'queue', maxWaitSeconds: step.maxWaitSeconds };
  if (step.uri) out.uri = step.uri;
  const passing = ctx.leftOut.filter(endsByItself);
  const waitFor = (list: readonly LeftOut[]) => {
    const times = list.map((l) => l.predictedFreeAt).filter((t): t is number => t !== undefined);
    return times.length === 0 ? undefined : Math.max(0, Math.ceil((Math.min(...times) - ctx.at) / 1000));
  };
  // The hint comes only from people whose "until" the caller may see: a lone sensitive member's
  // meeting end must not show through it. Skipping weighs everyone.
  const hint = waitFor(passing.filter((l) => seesActivity(l.detail)));
  if (hint !== undefined) out.predictedWaitSeconds = hint;
  if (ctx.ring.length > 0) return out;
  const wait = waitFor(passing);
  const everyonePredicted = passing.every((l) => l.predictedFreeAt !== undefined);
  if (passing.length === 0) out.skipped = 'nobody in the group is expected to become free';
  else if (everyonePredicted && wait! > step.maxWaitSeconds) {
    out.skipped = `predicted wait is longer than the maximum ${duration(step.maxWaitSeconds * 1000)}`;
    if (hint !== undefined) out.skipped = `predicted wait ${duration(hint * 1000)} is longer than the maximum ${duration(step.maxWaitSeconds * 1000)}`;
  }
  return out;
}

/** Resolves a group's fallback chain (or after-hours chain) into what the caller would get, in order. */
export async function resolveChain(steps: readonly FallbackStep[], ctx: ChainContext): Promise<FallbackOutcome[]> {
  const out: FallbackOutcome[] = [];
  for (const step of steps) {
    switch (step.type) {
      case 'queue':
        out.push(queueOutcome(step, ctx));
        break;
      case 'overflow': {
        const r = await ctx.overflow(step.groupId);
        out.push({
          type: 'overflow',
          groupId: step.groupId,
          name: r.name,
          ...(r.strategy ? { strategy: r.strategy } : {}),
          ring: r.ring,
          ...(r.skipped ? { skipped: r.skipped } : {}),
        });
        break;
      }
      default:
        out.push({ ...step });
    }
  }
  return out;
}
