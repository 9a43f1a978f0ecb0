import type { Clock } from '../../shared/clock/clock.js';
import type { Target } from '../../shared/domain/target.js';
import type { Store } from '../../shared/store/port.js';
import { leaseKey, type PublishPipeline } from './pipeline.js';
import type { TargetStatus } from './target-runner.js';

/** The owner's status as another replica answers it: who reported it, and when. */
export type ReportedStatus = TargetStatus & { reportedBy: string; reportedAt: string };

export type StatusAnswer =
  | TargetStatus
  | ReportedStatus
  | { targetId: string; kind: Target['kind']; state: 'starting' | 'disabled' }
  | { targetId: string; kind: Target['kind']; state: 'unknown'; reason: 'owner-not-reporting'; owner: string; detail: string };

/**
 * A target's publishing status, the same whichever replica answers: the publisher's own when this
 * replica publishes the target, else what the publishing replica last reported, else why there is none.
 */
export async function targetStatus(deps: { store: Store; pipeline: PublishPipeline; clock: Clock }, target: Target): Promise<StatusAnswer> {
  const targetId = target.id;
  const kind = target.kind;
  const local = deps.pipeline.status(target.tenantId, target.id);
  if (local) return local;
  if (!target.enabled) return { targetId, kind, state: 'disabled' };
  const now = deps.clock.now();
  const report = await deps.store.targetStatus.read(target.tenantId, target.id, now);
  if (report) return { ...(report.status as TargetStatus), reportedBy: report.replica, reportedAt: new Date(report.reportedAt).toISOString() };
  const owner = await deps.store.leases.holder(leaseKey(target), now);
  if (owner === undefined) return { targetId, kind, state: 'starting' };
  return {
    targetId,
    kind,
    state: 'unknown',
    reason: 'owner-not-reporting',
    owner,
    detail: 'the replica holding this target has not reported its status within a lease period: it may be stuck, or run a version that does not report',
  };
}
