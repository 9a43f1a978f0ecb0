/**
 * Runs tasks for the same key one after another within this process. Across replicas something in the
 * store decides (a compare-and-set, a lease); this spares tasks of one process from racing each other.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runAll([key], task);
  }

  /**
   * Runs `task` once every task queued before it on any of `keys` is done. It is queued on all of them
   * at once, so it waits only for tasks queued earlier: two such tasks never wait for each other.
   */
  runAll<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const before = keys.flatMap((key) => this.tails.get(key) ?? []);
    const result = (before.length > 1 ? Promise.all(before) : (before[0] ?? Promise.resolve())).then(task, task);
    const tail = result.catch(() => undefined);
    for (const key of keys) this.tails.set(key, tail);
    void tail.then(() => {
      for (const key of keys) if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Settles once every task queued so far has ended, however. */
  async idle(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}
