import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Tally } from './tally.js';

/** Every Prometheus metric the service exposes on /metrics, registered on one registry per process. */
export class Metrics {
  readonly registry = new Registry();
  // The merge path's counts: kept by `countMerge` and added to their counters when these are read.
  private readonly signalTally = new Tally(['source', 'outcome'] as const);
  private readonly changeTally = new Tally(['availability'] as const);
  private mergeCount = 0;
  /** People with a pending transition, read at each scrape (the engine sets it). */
  pendingTransitions: () => number = () => 0;

  readonly signalsIn = new Counter({
    name: 'presence_signals_received_total',
    help: 'Signals received, by source and outcome (applied, ignored as old or duplicate).',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
    collect: (): void => this.signalTally.flushInto(this.signalsIn),
  });
  readonly merges = new Counter({
    name: 'presence_merges_total',
    help: 'Merge evaluations.',
    registers: [this.registry],
    collect: (): void => {
      if (this.mergeCount > 0) this.merges.inc(this.mergeCount);
      this.mergeCount = 0;
    },
  });
  readonly stateChanges = new Counter({
    name: 'presence_state_changes_total',
    help: 'Canonical state changes, by new availability.',
    labelNames: ['availability'] as const,
    registers: [this.registry],
    collect: (): void => this.changeTally.flushInto(this.stateChanges),
  });
  readonly streamClients = new Gauge({ name: 'presence_stream_clients', help: 'Connected SSE clients.', registers: [this.registry] });
  readonly schedulerLag = new Histogram({
    name: 'presence_scheduler_lag_seconds',
    help: 'How late a scheduled transition was evaluated after its due instant.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly scheduledTransitions = new Gauge({
    name: 'presence_scheduled_transitions',
    help: 'People with a pending transition.',
    registers: [this.registry],
    collect: (): void => this.scheduledTransitions.set(this.pendingTransitions()),
  });
  readonly httpRequests = new Counter({
    name: 'presence_http_requests_total',
    help: 'HTTP requests by route and status class.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly routeDecisions = new Counter({
    name: 'presence_route_decisions_total',
    help: 'Routing decisions, by status (ringing, fallback, closed) and whether they were dry runs.',
    labelNames: ['status', 'dry_run'] as const,
    registers: [this.registry],
  });
  readonly routeDecisionSeconds = new Histogram({
    name: 'presence_route_decision_seconds',
    help: 'Time to compute a routing decision (without HTTP).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });
  readonly publishDeliveries = new Counter({
    name: 'presence_publish_deliveries_total',
    help: 'Deliveries to push targets by kind and outcome (delivered, failed, superseded).',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly targetUp = new Gauge({
    name: 'presence_publish_target_up',
    help: '1 while a push target accepts deliveries, 0 while it is failing.',
    labelNames: ['tenant', 'target'] as const,
    registers: [this.registry],
  });
  readonly calendarNotifications = new Counter({
    name: 'presence_calendar_notifications_total',
    help: 'Calendar provider notifications, by provider and outcome (accepted, unknown subscription, forged, validation).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly calendarSyncs = new Counter({
    name: 'presence_calendar_syncs_total',
    help: 'Calendar syncs, by provider and outcome (full, incremental, error).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  /** One merge, and the new availability if the state changed. */
  countMerge(changedTo: string | undefined): void {
    this.mergeCount++;
    if (changedTo !== undefined) this.changeTally.add(changedTo);
  }

  /** One signal given to a merge: applied, or ignored as old or a duplicate. */
  countSignal(source: string, applied: boolean): void {
    this.signalTally.add(source, applied ? 'applied' : 'ignored');
  }

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }
}
