import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../shared/clock/clock.js';
import type { Config } from '../shared/config/config.js';
import { SecretBox } from '../shared/crypto/secrets.js';
import { createLogger } from '../shared/log/logger.js';
import { openStore } from '../shared/store/open-store.js';
import type { Store } from '../shared/store/port.js';
import { buildApp } from './api/app.js';
import { buildOpenApi } from './api/openapi.js';
import type { AnyRoute } from './api/route.js';
import { directoryRoutes } from './api/routes/directory.js';
import { opsRoutes } from './api/routes/ops.js';
import { presenceRoutes } from './api/routes/presence.js';
import { streamRoutes } from './api/routes/stream.js';
import { manualRoutes } from './connectors/manual/routes.js';
import { mobileRoutes } from './connectors/mobile/routes.js';
import { CallOutcomes } from './connectors/pbx/call-outcomes.js';
import { pbxRoutes } from './connectors/pbx/routes.js';
import { createCalendars, type CalendarRandomness } from './calendars/create-calendars.js';
import { calendarRoutes } from './calendars/routes.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { googleWebhookRoutes } from './connectors/google/webhook.js';
import { microsoftWebhookRoutes } from './connectors/microsoft/webhook.js';
import { developmentKey } from './dev-encryption-key.js';
import { DirectoryService, PLATFORM } from './directory/directory-service.js';
import { GroupDirectory } from './directory/group-directory.js';
import type { Hub } from './hub.js';
import { RequestLimiter } from './limits/request-limiter.js';
import { PresenceEngine } from './merger/engine.js';
import { takeCensus } from './observability/census.js';
import { Metrics } from './observability/metrics.js';
import { decisionRoutes } from './routing/decision-routes.js';
import { groupRoutes } from './routing/group-routes.js';
import { queuePauseRoutes } from './routing/queue-pause-routes.js';
import { QueuePauses } from './routing/queue-pauses.js';
import { RoutingService } from './routing/routing-service.js';
import { PublishPipeline } from './publishers/pipeline.js';
import { targetRoutes } from './publishers/routes.js';
import { sinkFactory } from './publishers/sink-factory.js';
import { SipSink } from './publishers/sip/sip-sink.js';
import { SipStack } from './publishers/sip/sip-stack.js';
import { dnsResolver } from './publishers/dns-cache.js';
import { srvResolver, type SrvResolver } from './publishers/sip/srv.js';
import { systemResolver, type Resolver } from './publishers/ssrf-guard.js';
import { TargetsService } from './publishers/targets-service.js';

export const VERSION = '0.1.0';

/** Names this process in leases: unique, and readable in Redis when looking for who owns what. */
function replicaName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export interface HubOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  store?: Store;
  /** DNS for push targets (tests play DNS with it). */
  resolve?: Resolver;
  /** SRV lookups locating SIP servers (tests point one at a DNS server of their own). */
  srvResolve?: SrvResolver;
  /** Ids, secrets and jitter for the calendar connectors (tests pin them). */
  randomness?: CalendarRandomness;
  /** Uniform in [0, 1): the publishers' retry and probe jitter (SIP publications' and dialog subscriptions' backoff too) and the SRV weighted draw (RFC 2782); tests pin it. */
  random?: () => number;
  /** Process-level metrics (event loop, memory); off in tests that build many hubs. */
  defaultMetrics?: boolean;
}

export interface RunningHub {
  hub: Hub;
  routing: RoutingService;
  app: Express;
  routes: AnyRoute[];
  /** Bootstraps the tenant and key from the environment and re-evaluates everyone with state. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The composition root: builds every part once and wires them together. */
export function createHub(opts: HubOptions): RunningHub {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const log = opts.log ?? createLogger(config.logLevel);
  const store = opts.store ?? openStore(config, log, clock);
  const { feed, routingState } = store;
  const metrics = new Metrics(opts.defaultMetrics ?? true);
  const secrets = new SecretBox(config.encryptionKey ?? developmentKey(config.dataDir));
  if (!config.encryptionKey) log.warn('ENCRYPTION_KEY is not set: using a development key file in DATA_DIR');
  const hubRef: { directory?: DirectoryService } = {};
  const engine = new PresenceEngine({ store, clock, metrics, log, policyFor: (t) => hubRef.directory!.cachedPolicy(t) ?? hubRef.directory!.policyFor(t) });
  const pauses = new QueuePauses(store, clock);
  const directory = new DirectoryService(store, engine, clock, secrets, new GroupDirectory(store, routingState, pauses), pauses);
  hubRef.directory = directory;
  const limits = new RequestLimiter({
    limits: config.requestLimits,
    clock,
    log,
    metrics,
    override: async (tenantId) => {
      const [tenant, operator] = await Promise.all([store.directory.get('tenants', PLATFORM, tenantId), directory.operatorRequestLimits(tenantId)]);
      return { own: tenant?.settings.requestLimits, operator };
    },
    // As the policy cache: this process forgets a tenant it writes; replicas sharing a store re-read each second.
    cacheMs: store.shared ? 1000 : Infinity,
    // Replicas sharing a store count their limits there, so a limit is the deployment's, not each replica's.
    shared: store.shared ? { limits: store.limits, replica: randomBytes(6).toString('hex') } : undefined,
  });
  metrics.openStreamsByTenant = () => limits.heldByTenant('openStreams');
  directory.hooks.tenantChecks.push((input, operator) => limits.check(input.settings.requestLimits, operator));
  directory.hooks.tenantWritten.push(async (tenantId) => limits.forget(tenantId));
  directory.hooks.tenantRemoved.push(async (tenantId) => limits.forget(tenantId));
  metrics.directoryCensus = async () => takeCensus(store.directory, (await directory.listTenants()).map((t) => t.id));
  const callOutcomes = new CallOutcomes(log);
  const resolve = opts.resolve ?? systemResolver;
  const srvResolve = opts.srvResolve ?? srvResolver();
  const targets = new TargetsService(store, directory, secrets, resolve, config.publish.privateTargets, srvResolve);
  const sipStack = new SipStack(config.sip, clock, random);
  const pipeline = new PublishPipeline({
    store,
    feed,
    clock,
    log,
    metrics,
    makeSink: sinkFactory({
      store,
      clock,
      targets,
      resolve,
      sipResolve: opts.resolve ?? dnsResolver,
      srvResolve,
      random,
      timeoutMs: config.publish.timeoutMs,
      sip: async (target, hooks, check, srv) =>
        new SipSink(target, targets.open(target.sealedPassword), await sipStack.get(), engine, log, await store.directory.list('people', target.tenantId), hooks, check, srv),
    }),
    ledger: store.deliveries,
    ...(store.shared ? { ownership: { leases: store.leases, replica: replicaName(), leaseMs: config.publish.leaseMs } } : {}),
    runner: {
      defaultCoalesceMs: config.publish.coalesceMs,
      retryBaseMs: config.publish.retryBaseMs,
      retryCapMs: config.publish.retryCapMs,
      failingAfter: config.publish.failingAfter,
      random,
    },
  });
  metrics.dialogWatches = () => pipeline.watchHealth();
  const base = {
    config,
    clock,
    log,
    metrics,
    store,
    feed,
    replay: store.replay,
    engine,
    directory,
    secrets,
    routingState,
    callOutcomes,
    targets,
    pipeline,
    limits,
  };
  const hub: Hub = { ...base, calendars: createCalendars(base, opts.randomness) };
  const routing = new RoutingService({ store, routingState, directory, clock });
  callOutcomes.add(routing);

  const routes: AnyRoute[] = [];
  routes.push(
    ...opsRoutes(hub, () => buildOpenApi(routes, VERSION)),
    ...directoryRoutes(hub),
    ...presenceRoutes(hub),
    ...streamRoutes(hub),
    ...dashboardRoutes(),
    ...manualRoutes(hub),
    ...mobileRoutes(hub),
    ...pbxRoutes(hub),
    ...groupRoutes(hub),
    ...queuePauseRoutes(hub),
    ...decisionRoutes(hub, routing),
    ...targetRoutes(hub),
    ...calendarRoutes(hub),
    ...microsoftWebhookRoutes(hub),
    ...googleWebhookRoutes(hub),
  );
  const app = buildApp(hub, routes);

  return {
    hub,
    routing,
    app,
    routes,
    async start() {
      await store.start();
      await limits.start();
      store.onRecovered(() => {
        // Everyone again: timers and due transitions, then every target gets the current states.
        void engine
          .start()
          .then(() => pipeline.resendAll())
          .catch((err: unknown) => log.error({ err: (err as Error).message }, 'recovery after storage data loss failed'));
      });
      // Changes this replica's reader could no longer read (it lagged past the shared feed's history) may
      // include some for targets it publishes: each gets the current states again, as after a data loss.
      store.feed.onMissed(() => {
        log.warn('this replica missed changes on the shared feed (it fell behind its history): ending its streams, re-sending the current states to its targets');
        void pipeline.resendAll().catch((err: unknown) => log.error({ err: (err as Error).message }, 're-sending after missed changes failed'));
      });
      const { tenant, adminKey } = config.bootstrap;
      if (adminKey) {
        await directory.bootstrapTenant(tenant, { name: tenant, settings: { allowPrivateTargets: false, wrapUpSeconds: 0 } });
        if (!(await directory.installKey(tenant, 'bootstrap', 'admin', 'bootstrap admin key (BOOTSTRAP_ADMIN_KEY)', adminKey))) {
          log.warn({ tenantId: tenant }, 'the bootstrap tenant is being deleted, so its admin key is not installed: a deletion cut short is finished by sending DELETE /v1/tenants/{id} again, and the next start creates the tenant again');
        }
      }
      // A shared store keeps every signal; the embedded one only the durable ones, of which this one may be missing.
      if (!store.shared) await directory.restoreWorkingHours();
      await engine.start();
      await pipeline.start();
      await hub.calendars.service.start();
    },
    async close() {
      hub.calendars.service.stop();
      await pipeline.close();
      await sipStack.close();
      engine.stop();
      await limits.stop();
      await store.close();
    },
  };
}
