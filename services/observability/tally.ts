import type { Counter } from 'prom-client';

/**
 * Counts for a Prometheus counter with up to two labels, kept in plain maps and added to the counter only
 * when it is read (a scrape, `get()`): prom-client hashes the label object on every `inc`, and the merge
 * path counts several times per signal.
 */
export class Tally<L extends string> {
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(private readonly labels: readonly [L] | readonly [L, L]) {}

  add(a: string, b = ''): void {
    let inner = this.counts.get(a);
    if (!inner) this.counts.set(a, (inner = new Map()));
    inner.set(b, (inner.get(b) ?? 0) + 1);
  }

  /** Moves the counts into `counter` (its `collect`). */
  flushInto(counter: Counter<L>): void {
    const [first, second] = this.labels;
    for (const [a, inner] of this.counts) {
      for (const [b, n] of inner) {
        if (n === 0) continue;
        counter.inc((second === undefined ? { [first]: a } : { [first]: a, [second]: b }) as Partial<Record<L, string>>, n);
        inner.set(b, 0);
      }
    }
  }
}
