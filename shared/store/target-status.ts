import { z } from 'zod';

/** What the replica publishing a target last said about it. */
export interface TargetStatusReport {
  /** The reporting replica's name in the leases. */
  replica: string;
  reportedAt: number;
  /** The publisher's status as that replica serves it (never a secret). */
  status: Readonly<object>;
}

/**
 * Each push target's publishing status as the replica holding its lease reports it, so that every
 * replica answers the same. A report counts until `reportedAt + ttlMs`: an owner that stopped reporting
 * (dead, frozen, or of a version that does not report) goes stale instead of lying forever. Expiry is
 * judged against the instant passed in, like leases, so adapters agree and tests need no real clock.
 */
export interface TargetStatusStore {
  report(tenantId: string, targetId: string, report: TargetStatusReport, ttlMs: number): Promise<void>;
  /** The report still fresh at `now`, if any. */
  read(tenantId: string, targetId: string, now: number): Promise<TargetStatusReport | undefined>;
  /** Removes the report if `replica` made it (it no longer publishes the target). */
  withdraw(tenantId: string, targetId: string, replica: string): Promise<void>;
}

export const reportSchema = z.object({
  replica: z.string(),
  reportedAt: z.number(),
  expiresAt: z.number(),
  status: z.record(z.string(), z.unknown()),
});

/** For adapters that read serialised reports: malformed data counts as no report. */
export function parseReport(raw: string | null | undefined, now: number): TargetStatusReport | undefined {
  if (!raw) return undefined;
  try {
    const r = reportSchema.safeParse(JSON.parse(raw));
    if (!r.success || r.data.expiresAt <= now) return undefined;
    return { replica: r.data.replica, reportedAt: r.data.reportedAt, status: r.data.status };
  } catch {
    return undefined;
  }
}

export const serialiseReport = (report: TargetStatusReport, ttlMs: number): string =>
  JSON.stringify({ replica: report.replica, reportedAt: report.reportedAt, expiresAt: report.reportedAt + ttlMs, status: report.status });

/** One process: memory is the shared truth. Serialised like Redis, so what is read is a copy. */
export class MemoryTargetStatus implements TargetStatusStore {
  private readonly reports = new Map<string, string>();

  async report(tenantId: string, targetId: string, report: TargetStatusReport, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError('a status report needs a positive ttlMs');
    this.reports.set(key(tenantId, targetId), serialiseReport(report, ttlMs));
  }

  async read(tenantId: string, targetId: string, now: number): Promise<TargetStatusReport | undefined> {
    const k = key(tenantId, targetId);
    const found = parseReport(this.reports.get(k), now);
    if (!found) this.reports.delete(k);
    return found;
  }

  async withdraw(tenantId: string, targetId: string, replica: string): Promise<void> {
    const k = key(tenantId, targetId);
    if (parseReport(this.reports.get(k), -Infinity)?.replica === replica) this.reports.delete(k);
  }
}

function key(tenantId: string, targetId: string): string {
  return `${tenantId}\u0000${targetId}`;
}
