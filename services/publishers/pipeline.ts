import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import type { Person } from '../../shared/domain/directory.js';
import type { Target } from '../../shared/domain/target.js';
import type { ChangeFeed, FeedEvent } from '../../shared/store/feed.js';
import type { Store } from '../../shared/store/port.js';
import type { Metrics } from '../observability/metrics.js';
import type { Delivery, Sink } from './sink.js';
import { TargetRunner, type RunnerOptions, type TargetStatus } from './target-runner.js';

export type SinkFactory = (target: Target) => Promise<Sink>;

export interface PipelineDeps {
  store: Store;
  feed: ChangeFeed;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  makeSink: SinkFactory;
  runner: Omit<RunnerOptions, 'coalesceMs'> & { defaultCoalesceMs: number };
}

function wants(target: Target, person: Person | undefined, personId: string): boolean {
  if (!target.people && !target.teams) return true;
  if (target.people?.includes(personId)) return true;
  return !!person && !!target.teams?.some((t) => person.teams.includes(t));
}

/**
 * Fans every state change out to each enabled target of its tenant through one `TargetRunner` per
 * target, and re-sends everyone's current state when the pipeline starts or a target is (re)configured.
 */
export class PublishPipeline {
  private readonly runners = new Map<string, TargetRunner>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: PipelineDeps) {}

  private key(tenantId: string, targetId: string): string {
    return `${tenantId}\u0000${targetId}`;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.deps.feed.subscribeAll((e) => void this.dispatch(e));
    for (const tenant of await this.deps.store.directory.list('tenants', '*')) {
      for (const target of await this.deps.store.directory.list('targets', tenant.id)) await this.reload(tenant.id, target.id);
    }
  }

  /** (Re)creates the runner of one target from what is stored and re-sends the current states. */
  async reload(tenantId: string, targetId: string): Promise<void> {
    const k = this.key(tenantId, targetId);
    await this.runners.get(k)?.close();
    this.runners.delete(k);
    const target = await this.deps.store.directory.get('targets', tenantId, targetId);
    if (!target || !target.enabled) return;
    let sink: Sink;
    try {
      sink = await this.deps.makeSink(target);
    } catch (err) {
      this.deps.log.error({ err, target: targetId }, 'cannot start the publisher for this target');
      return;
    }
    const { defaultCoalesceMs, ...rest } = this.deps.runner;
    const runner = new TargetRunner(target, sink, this.deps.clock, { ...rest, coalesceMs: target.coalesceMs ?? defaultCoalesceMs }, this.deps.metrics, this.deps.log);
    this.runners.set(k, runner);
    await this.republish(tenantId, runner);
  }

  private async republish(tenantId: string, runner: TargetRunner): Promise<void> {
    for (const person of await this.deps.store.directory.list('people', tenantId)) {
      if (!wants(runner.target, person, person.id)) continue;
      const { presence } = await this.deps.store.state.read(tenantId, person.id);
      if (presence) runner.offer({ tenantId, personId: person.id, person, presence, version: presence.version });
    }
  }

  private async dispatch(e: FeedEvent): Promise<void> {
    const runners = [...this.runners.values()].filter((r) => r.target.tenantId === e.tenantId);
    if (runners.length === 0) return;
    const person = await this.deps.store.directory.get('people', e.tenantId, e.personId);
    const d: Delivery = e.presence
      ? { tenantId: e.tenantId, personId: e.personId, presence: e.presence, version: e.presence.version }
      : { tenantId: e.tenantId, personId: e.personId, version: this.deps.clock.now() };
    if (person && e.presence) d.person = person;
    // A removed person is no longer in the directory, so team-scoped targets cannot be matched: tell all.
    for (const r of runners) if (!e.presence || wants(r.target, person, e.personId)) r.offer(d);
  }

  status(tenantId: string, targetId: string): TargetStatus | undefined {
    return this.runners.get(this.key(tenantId, targetId))?.status();
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await Promise.all([...this.runners.values()].map((r) => r.close()));
    this.runners.clear();
  }
}
