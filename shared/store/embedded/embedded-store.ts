import { afterRestart } from '../after-restart.js';
import type { Store } from '../port.js';
import type { CheckpointOptions } from './checkpointer.js';
import { MemoryReplayGuard } from '../replay-guard.js';
import { MemorySharedLimits } from '../shared-limits.js';
import { MemoryTargetStatus } from '../target-status.js';
import { keptChange, keptSignals } from './kept-signals.js';
import { MemoryFeed } from './memory-feed.js';
import { MemoryLeases } from './memory-leases.js';
import { MemoryRoutingState } from './memory-routing-state.js';
import { MemoryState } from './memory-state.js';
import { SqliteDirectory } from './sqlite-directory.js';

/**
 * The default store: directory, kept signals (`kept-signals.ts`) and the delivery ledger in SQLite, hot
 * state in process. Presence and the other signals are rebuilt from their sources after a restart.
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
  readonly limits = new MemorySharedLimits();
  readonly deliveries: SqliteDirectory['deliveries'];

  /**
   * `registrationsUntil`: when phones' registrations kept without an expiry of their own stop being
   * believed (`afterRestart`); without it they are believed until the PBX says otherwise. `checkpoints`:
   * the WAL checkpoint thread's logger, and its pace (tests).
   */
  constructor(path: string, opts: { feedEvents?: number; registrationsUntil?: number; checkpoints?: CheckpointOptions } = {}) {
    this.directory = new SqliteDirectory(path, opts.checkpoints);
    this.deliveries = this.directory.deliveries;
    this.feed = new MemoryFeed(opts.feedEvents ?? 10_000);
    this.state = new MemoryState(this.feed, (tenantId, personId, before, after, at) => {
      const change = keptChange(before, after, at);
      if (change) this.directory.signals[change](tenantId, personId, keptSignals(after.signals));
    });
    const { registrationsUntil } = opts;
    for (const { tenantId, personId, signals } of this.directory.signals.load()) {
      this.state.seed(tenantId, personId, { signals: registrationsUntil === undefined ? signals : afterRestart(signals, registrationsUntil) });
    }
  }

  async start(): Promise<void> {}

  async ready(): Promise<boolean> {
    return true;
  }

  /** Its data lives and dies with the process: there is never a recovery to announce. */
  onRecovered(): void {}

  async close(): Promise<void> {
    await this.directory.close();
  }
}
