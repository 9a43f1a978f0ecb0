import type { Signal } from '../../domain/signal.js';
import { survivesRestart } from '../after-restart.js';
import type { PersonState } from '../port.js';

/**
 * Which signals the embedded store keeps across a restart, and how soon they reach the disk.
 *
 * - `now`: user intent, provider sync state and what the directory derives (working hours), which nothing
 *   would send again: written before the change is acknowledged, so `kill -9` loses none of it.
 * - `behind`: facts whose source repeats them only much later: mobile heartbeats (a background app sends
 *   its next one only after up to `HEARTBEAT_BACKGROUND_TTL_MS`) and a phone's registration and DND as the
 *   PBX reported them (a PBX sends `registered` again only when the phone re-registers, often hourly).
 *   Without them every desk phone counted as unreachable after each restart, and calls went to fallbacks.
 *   Written behind (`WRITE_BEHIND_MS`), as they arrive by the thousand; a crash loses the last ones.
 *
 * Nothing else is kept (`survivesRestart`: calls, wrap-ups, Teams presence), as Redis drops them after a full outage.
 */
export type Keeping = 'now' | 'behind';

const KEPT_NOW: ReadonlySet<string> = new Set(['manual', 'outlook', 'google', 'directory']);

export function keeping(s: Signal): Keeping | undefined {
  if (!survivesRestart(s)) return undefined;
  return KEPT_NOW.has(s.source) ? 'now' : 'behind';
}

export function keptSignals(signals: readonly Signal[]): Signal[] {
  return signals.filter((s) => keeping(s) !== undefined);
}

const kept = (s: Signal) => keeping(s) !== undefined;
const keptNow = (s: Signal) => keeping(s) === 'now';

/** Whether the signals `pick` chooses are the same objects in the same order; allocates nothing (it runs on every update). */
function same(a: readonly Signal[], b: readonly Signal[], pick: (s: Signal) => boolean): boolean {
  let j = 0;
  for (const s of a) {
    if (!pick(s)) continue;
    while (j < b.length && !pick(b[j]!)) j++;
    if (b[j] !== s) return false;
    j++;
  }
  while (j < b.length && !pick(b[j]!)) j++;
  return j === b.length;
}

/**
 * How an update worked out at `at` changes what is kept: not at all, only signals written behind, or some
 * written at once. A signal kept at once that only ran out (a status until 10:00, dropped after it) goes
 * behind: on disk it is as good as gone, since loading drops what has expired. Thousands of statuses
 * ending on the hour were each a commit of their own.
 */
export function keptChange(before: PersonState, after: PersonState, at?: number): Keeping | undefined {
  if (before.signals === after.signals || same(before.signals, after.signals, kept)) return undefined;
  if (same(before.signals, after.signals, keptNow)) return 'behind';
  if (at === undefined) return 'now';
  return same(before.signals, after.signals, (s) => keptNow(s) && !(s.until !== undefined && s.until <= at)) ? 'behind' : 'now';
}
