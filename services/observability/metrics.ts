import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ENDPOINT_KINDS, type EndpointKind, type Source } from '../../shared/domain/signal.js';
import { CALENDAR_PROVIDERS } from '../../shared/domain/calendar.js';
import { REQUEST_LIMIT_CLASSES } from '../../shared/domain/request-limits.js';
import type { TenantCensus } from './census.js';
import { Tally } from './tally.js';

/** Every (provider, outcome) of a calendar sync, so each tenant's series can exist at 0 and go with it. */
const SYNC_SERIES = CALENDAR_PROVIDERS.flatMap((provider) => (['full', 'incremental', 'error'] as const).map((outcome) => [provider, outcome] as const));

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
  /**
   * The basis of the "a source went silent" alert (k8s/monitoring/): with several replicas each reports
   * what it received, so the alert takes the newest across them. Set on scrape from `lastSignal`, so a
   * signal costs a map write rather than a labelled gauge update.
   */
  readonly sourceLastSignal = new Gauge({
    name: 'presence_source_last_signal_timestamp_seconds',
    help: 'When this process last received a signal from each source for each tenant (Unix seconds).',
    labelNames: ['tenant', 'source'] as const,
    registers: [this.registry],
    collect: async () => {
      await this.readCensus();
      this.sourceLastSignal.reset();
      for (const [tenant, sources] of this.lastSignal) {
        for (const [source, at] of sources) this.sourceLastSignal.set({ tenant, source }, at / 1000);
      }
    },
  });
  private readonly lastSignal = new Map<string, Map<Source, number>>();
  /** The basis of the "many endpoints went offline at once" alert: counted by the replica that merged the change. */
  readonly endpointsLost = new Counter({
    name: 'presence_endpoints_lost_total',
    help: 'Endpoints that stopped being reachable (unregistered, registration or heartbeat expired; not those an admin removed), by tenant and kind.',
    labelNames: ['tenant', 'kind'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });
  readonly wentOffline = new Counter({
    name: 'presence_went_offline_total',
    help: 'People left with no reachable endpoint while not off work, by tenant.',
    labelNames: ['tenant'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });
  /**
   * The size the "at once" alerts take their share of, and whether a tenant has a PBX to hear from: read
   * from the directory at each scrape, the same on every replica (the rules take the max across them).
   */
  readonly devices = new Gauge({
    name: 'presence_devices',
    help: 'Phones and apps in the directory, by tenant and kind (a mobile app while it holds a token; a person with an extension and no desk device counts as one desk phone).',
    labelNames: ['tenant', 'kind'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });
  readonly people = new Gauge({
    name: 'presence_people',
    help: 'People in the directory, by tenant.',
    labelNames: ['tenant'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });
  readonly pbxKeys = new Gauge({
    name: 'presence_pbx_keys',
    help: 'API keys of role pbx, by tenant: 0 means the tenant has no PBX sending events.',
    labelNames: ['tenant'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });
  /**
   * A broken connection is never synced again, so it fails no sync: only this says that a person's (or,
   * after a withdrawn admin consent, a whole organisation's) calendar stopped driving presence.
   */
  readonly calendarsBroken = new Gauge({
    name: 'presence_calendar_connections_broken',
    help: 'Calendar connections broken until someone consents again (revoked or expired grant, deleted user, withdrawn admin consent), by tenant and provider.',
    labelNames: ['tenant', 'provider'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });
  readonly streamClients = new Gauge({ name: 'presence_stream_clients', help: 'Connected SSE clients.', registers: [this.registry] });
  /** Each tenant's open streams on this replica, read at each scrape (the request limiter sets it): a tenant nearing its `openStreams` limit shows before it is refused. */
  openStreamsByTenant: () => ReadonlyMap<string, number> = () => new Map();
  readonly openStreams = new Gauge({
    name: 'presence_open_streams',
    help: "Streams each tenant holds open on this replica (its openStreams limit counts them summed over the replicas).",
    labelNames: ['tenant'] as const,
    registers: [this.registry],
    collect: (): void => {
      this.openStreams.reset();
      for (const [tenant, n] of this.openStreamsByTenant()) this.openStreams.set({ tenant }, n);
    },
  });
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

  /** Each tenant's classes exist at 0 (so a rate() alert sees the first refusal), and go with the tenant. */
  readonly requestsLimited = new Counter({
    name: 'presence_requests_limited_total',
    help: 'Requests refused with 429 by a request limit, by tenant and class (api, tenantApi, pbxEvents, heartbeats, streams, openStreams; class auth with an empty tenant: an address that failed authentication too often).',
    labelNames: ['tenant', 'class'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
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
  /** The read-back subscriptions of the targets this replica publishes (only their owner reports them). */
  dialogWatches: () => Iterable<{ tenantId: string; targetId: string; health: string; count: number }> = () => [];
  readonly dialogWatchGauge = new Gauge({
    name: 'presence_dialog_watches',
    help: 'SIP dialog subscriptions (phone line states read back from a PBX), by tenant, target and health: watching, pending, failing, refused.',
    labelNames: ['tenant', 'target', 'health'] as const,
    registers: [this.registry],
    collect: (): void => {
      this.dialogWatchGauge.reset();
      for (const w of this.dialogWatches()) this.dialogWatchGauge.set({ tenant: w.tenantId, target: w.targetId, health: w.health }, w.count);
    },
  });
  readonly calendarNotifications = new Counter({
    name: 'presence_calendar_notifications_total',
    help: 'Calendar provider notifications, by provider and outcome (accepted, unknown subscription, forged, validation).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly calendarSyncs = new Counter({
    name: 'presence_calendar_syncs_total',
    help: 'Calendar syncs, by tenant, provider and outcome (full, incremental, error).',
    labelNames: ['tenant', 'provider', 'outcome'] as const,
    registers: [this.registry],
    collect: () => this.readCensus(),
  });

  /** A signal from `source` reached this process at `at` (epoch ms, from the injected clock). */
  sourceSeen(tenantId: string, source: Source, at: number): void {
    let sources = this.lastSignal.get(tenantId);
    if (!sources) this.lastSignal.set(tenantId, (sources = new Map()));
    sources.set(source, at);
  }

  /**
   * The directory's tenants and their sizes, asked on scrape: a deleted tenant's series must go (else the
   * silent-source alert fires for it for ever), on every replica, not just the one that deleted it.
   */
  directoryCensus: (() => Promise<ReadonlyMap<string, TenantCensus>>) | undefined;
  private censusRead: Promise<void> | undefined;

  /** One read of the directory per scrape, shared by every per-tenant metric (the registry collects them all at once). */
  private readCensus(): Promise<void> {
    return (this.censusRead ??= this.applyCensus().finally(() => (this.censusRead = undefined)));
  }

  private async applyCensus(): Promise<void> {
    // A store that cannot answer drops nothing and keeps the last sizes.
    const census = this.directoryCensus && (await this.directoryCensus().catch(() => undefined));
    if (!census) return;
    this.keepTenants(census);
    this.devices.reset();
    this.people.reset();
    this.pbxKeys.reset();
    this.calendarsBroken.reset();
    for (const [tenant, c] of census) {
      for (const provider of CALENDAR_PROVIDERS) this.calendarsBroken.set({ tenant, provider }, c.calendarsBroken[provider]);
      for (const kind of ENDPOINT_KINDS) this.devices.set({ tenant, kind }, c.endpoints[kind]);
      this.people.set({ tenant }, c.people);
      this.pbxKeys.set({ tenant }, c.pbxKeys);
    }
  }

  /**
   * Counts what a change of one person's state lost. Endpoints in `removed` an admin took away (a device
   * deleted, a token revoked): offboarding a team is no outage, so they count neither as lost nor, when
   * they were all that went, as the person going offline.
   */
  stateChanged(
    tenantId: string,
    before: { endpoints: ReadonlyArray<{ id: string; kind: EndpointKind }> } | undefined,
    after: { activity: string; endpoints: ReadonlyArray<{ id: string }> },
    removed: ReadonlySet<string> = new Set(),
  ): void {
    if (!before) return;
    let lost = 0;
    for (const e of before.endpoints) {
      if (after.endpoints.some((a) => a.id === e.id) || removed.has(e.id)) continue;
      lost++;
      this.endpointsLost.inc({ tenant: tenantId, kind: e.kind });
    }
    // Not "availability became offline": off-work maps to offline, so the end and start of working hours
    // would page every evening and morning.
    if (lost > 0 && after.endpoints.length === 0 && after.activity !== 'off-work') this.wentOffline.inc({ tenant: tenantId });
  }

  private readonly zeroed = new Set<string>();
  /**
   * `increase()` ignores a series' first sample, so a counter that first appears at 200 (the outage
   * itself) never alerts: every known tenant's series exist at 0 from the start, on every replica. A
   * deleted tenant's go, with its "last seen" stamps.
   */
  private keepTenants(known: ReadonlyMap<string, unknown>): void {
    for (const tenant of known.keys()) {
      if (this.zeroed.has(tenant)) continue;
      this.zeroed.add(tenant);
      for (const kind of ENDPOINT_KINDS) this.endpointsLost.inc({ tenant, kind }, 0);
      this.wentOffline.inc({ tenant }, 0);
      for (const [provider, outcome] of SYNC_SERIES) this.calendarSyncs.inc({ tenant, provider, outcome }, 0);
      for (const c of REQUEST_LIMIT_CLASSES) this.requestsLimited.inc({ tenant, class: c }, 0);
    }
    for (const tenant of this.zeroed) {
      if (known.has(tenant)) continue;
      this.zeroed.delete(tenant);
      for (const kind of ENDPOINT_KINDS) this.endpointsLost.remove({ tenant, kind });
      this.wentOffline.remove({ tenant });
      for (const [provider, outcome] of SYNC_SERIES) this.calendarSyncs.remove({ tenant, provider, outcome });
      for (const c of REQUEST_LIMIT_CLASSES) this.requestsLimited.remove({ tenant, class: c });
    }
    for (const tenant of this.lastSignal.keys()) if (!known.has(tenant)) this.lastSignal.delete(tenant);
  }

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
