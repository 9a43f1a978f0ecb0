import type { Logger } from 'pino';
import type { Clock } from '../shared/clock/clock.js';
import type { Config } from '../shared/config/config.js';
import type { SecretBox } from '../shared/crypto/secrets.js';
import type { CalendarModule } from './calendars/create-calendars.js';
import type { ChangeFeed } from '../shared/store/feed.js';
import type { Store } from '../shared/store/port.js';
import type { ReplayGuard } from '../shared/store/replay-guard.js';
import type { RoutingStateStore } from '../shared/store/routing-state.js';
import type { CallOutcomes } from './connectors/pbx/call-outcomes.js';
import type { DirectoryService } from './directory/directory-service.js';
import type { RequestLimiter } from './limits/request-limiter.js';
import type { PresenceEngine } from './merger/engine.js';
import type { Metrics } from './observability/metrics.js';
import type { PublishPipeline } from './publishers/pipeline.js';
import type { TargetsService } from './publishers/targets-service.js';

/** The composed service: what every route and connector may use. Built once in `create-hub.ts`. */
export interface Hub {
  config: Config;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  store: Store;
  feed: ChangeFeed;
  replay: ReplayGuard;
  engine: PresenceEngine;
  directory: DirectoryService;
  secrets: SecretBox;
  /** Routing strategy state (round-robin pointer, offers, calls today, call lengths). */
  routingState: RoutingStateStore;
  /** Calls answered and ended, from the PBX connector to whoever follows them (routing). */
  callOutcomes: CallOutcomes;
  targets: TargetsService;
  pipeline: PublishPipeline;
  calendars: CalendarModule;
  /** Request limits per tenant class and failed authentications per address (per replica). */
  limits: RequestLimiter;
}
