import type { ManualClock } from '../../shared/clock/manual-clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { Store } from '../../shared/store/port.js';
import { Metrics } from '../../services/observability/metrics.js';
import { PublishPipeline, type PipelineDeps, type SinkFactory } from '../../services/publishers/pipeline.js';

/** The runner options of the pipeline tests: retries from 100 ms up to 1 s, failing after 3, the middle of each jitter. */
export const TEST_RUNNER: PipelineDeps['runner'] = { defaultCoalesceMs: 0, retryBaseMs: 100, retryCapMs: 1000, failingAfter: 3, random: () => 0.5 };

/** A publish pipeline over `store`'s feed, quiet, with its own metrics; `ledger` and `ownership` as given. */
export function testPipeline(store: Store, clock: ManualClock, makeSink: SinkFactory, over: Partial<Pick<PipelineDeps, 'runner' | 'ledger' | 'ownership'>> = {}): PublishPipeline {
  return new PublishPipeline({ store, feed: store.feed, clock, log: silentLogger, metrics: new Metrics(false), makeSink, runner: TEST_RUNNER, ...over } as PipelineDeps);
}
