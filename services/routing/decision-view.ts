import type { z } from 'zod';
import type { routeDecisionSchema } from '../api/response-schema.js';
import { seesActivity } from '../api/views.js';
import type { LeaveCode, LeftOut, RouteDecision } from './decision.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** Codes that say something about presence beyond availability; a sensitive person's are generalised. */
const PRESENCE_CODES: ReadonlySet<LeaveCode> = new Set(['dnd', 'in-meeting', 'on-call', 'wrap-up', 'away', 'off-work', 'busy', 'unknown']);

const BY_AVAILABILITY: Record<string, { code: LeaveCode; reason: string }> = {
  busy: { code: 'busy', reason: 'busy' },
  dnd: { code: 'dnd', reason: 'do not disturb' },
  away: { code: 'away', reason: 'away' },
  offline: { code: 'no-reachable-device', reason: 'offline' },
  unknown: { code: 'unknown', reason: 'presence unknown' },
};

/** A member left out, as the answer documents it. */
export type LeftOutView = z.output<typeof routeDecisionSchema>['leftOut'][number];

/**
 * What the caller may see of someone left out (design §6, as `views.ts` for presence): an administrator
 * everything including the source; the PBX and supervisors the reason, until when and the predicted free
 * time; for a sensitive person only their availability.
 */
export function leftOutView(l: LeftOut): LeftOutView {
  const v: LeftOutView = l.name === undefined ? { personId: l.personId, code: l.code, reason: l.reason } : { personId: l.personId, name: l.name, code: l.code, reason: l.reason };
  if (!seesActivity(l.detail)) {
    if (PRESENCE_CODES.has(l.code)) Object.assign(v, BY_AVAILABILITY[l.availability ?? 'busy'] ?? BY_AVAILABILITY.busy);
    if (l.availability !== undefined) v.availability = l.availability;
    return v;
  }
  if (l.availability !== undefined) v.availability = l.availability;
  if (l.activity !== undefined) v.activity = l.activity;
  if (l.until !== undefined) v.until = iso(l.until);
  if (l.predictedFreeAt !== undefined) v.predictedFreeAt = iso(l.predictedFreeAt);
  if (l.detail === 'full' && l.source !== undefined) v.source = l.source;
  return v;
}

/** The project's JSON answer of `POST /v1/route`: the decision with RFC 3339 instants. */
export function decisionView(d: RouteDecision): z.output<typeof routeDecisionSchema> {
  return {
    at: iso(d.at),
    dryRun: d.dryRun,
    status: d.status,
    target: d.target,
    open: d.open,
    ...(d.closedReason === undefined ? {} : { closedReason: d.closedReason }),
    ...(d.scheduleChangesAt === undefined ? {} : { scheduleChangesAt: iso(d.scheduleChangesAt) }),
    strategy: d.strategy,
    ringTimeoutSeconds: d.ringTimeoutSeconds,
    totalRingSeconds: d.totalRingSeconds,
    ring: d.ring,
    fallback: d.fallback,
    leftOut: d.leftOut.map(leftOutView),
  };
}
