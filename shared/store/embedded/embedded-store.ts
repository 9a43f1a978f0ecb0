import type { Signal } from '../../domain/signal.js';
import { DURABLE_SOURCES } from '../keys.js';
import type { PersonState, Store } from '../port.js';
import { MemoryReplayGuard } from '../replay-guard.js';
import { MemoryTargetStatus } from '../target-status.js';
import { MemoryFeed } from './memory-feed.js';
import { MemoryLeases } from './memory-leases.js';
import { MemoryRoutingState } from './memory-routing-state.js';
import { MemoryState } from './memory-state.js';
import { SqliteDirectory } from './sqlite-directory.js';

function durable(signals: readonly Signal[]): Signal[] {
  return signals.filter((s) => DURABLE_SOURCES.has(s.source));
}

/** Whether the durable signals are the same objects in the same order; allocates nothing (it runs on every update). */
function sameDurable(a: PersonState, b: PersonState): boolean {
  if (a.signals === b.signals) return true;
  let j = 0;
  for (const s of a.signals) {
    if (!DURABLE_SOURCES.has(s.source)) continue;
    while (j < b.signals.length && !DURABLE_SOURCES.has(b.signals[j]!.source)) j++;
    if (b.signals[j] !== s) return false;
    j++;
  }
  while (j < b.signals.length && !DURABLE_SOURCES.has(b.signals[j]!.source)) j++;
  return j === b.signals.length;
}

/**
 * The default store: directory, durable signals and the delivery ledger in SQLite, hot state in process.
 * Presence and non-durable signals are rebuilt from their sources after a restart.
 */
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  readonly directory: SqliteDirectory;
  readonly state: MemoryState;
  readonly leases = new MemoryLeases();
  readonly feed: MemoryFeed;
  readonly replay = new MemoryReplayGuard();
  readonly routingState = new MemoryRoutingState();
  readonly targetStatus = new MemoryTargetStatus();
  readonly deliveries: SqliteDirectory['deliveries'];

  constructor(path: string, opts: { feedEvents?: number } = {}) {
    this.directory = new SqliteDirectory(path);
    this.deliveries = this.directory.deliveries;
    this.feed = new MemoryFeed(opts.feedEvents ?? 10_000);
    this.state = new MemoryState(this.feed, (tenantId, personId, before, after) => {
      if (!sameDurable(before, after)) this.directory.saveDurableSignals(tenantId, personId, durable(after.signals));
    });
    for (const { tenantId, personId, signals } of this.directory.loadDurableSignals()) {
      this.state.seed(tenantId, personId, { signals });
    }
  }

  async start(): Promise<void> {}

  async ready(): Promise<boolean> {
    return true;
  }

  /** Its data lives and dies with the process: there is never a recovery to announce. */
  onRecovered(): void {}

  async close(): Promise<void> {
    this.directory.close();
  }
}
