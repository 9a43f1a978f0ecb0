export interface TickWriterParts<T, L> {
  /** Starts the item's look-up as it is queued, so look-ups overlap (a shared store's round trips); none: `undefined`. */
  lookup(item: T): Promise<L> | undefined;
  /** The item's bytes once its look-up answered; '' writes nothing. */
  render(item: T, looked: L | undefined): string;
  write(chunk: string): void;
  /** A look-up or render failed: nothing after it is written. */
  fail(err: unknown): void;
}

/**
 * Writes a stream's items strictly in the order they were queued, a lot at a time: everything queued until
 * the current task's promise jobs have run (a PBX batch's chunk of merges, say) goes out in one write, so
 * one socket write instead of one per item, and one promise for the whole lot's look-ups.
 */
export class TickWriter<T, L> {
  private queue: Array<{ item: T; lookup: Promise<L> | undefined }> = [];
  private inFlight = 0;
  private draining = false;
  private failed = false;
  /** A lot went out in this turn of the event loop (reset at its check phase). */
  private wroteThisTurn = false;

  constructor(private readonly parts: TickWriterParts<T, L>) {}

  /** Items queued and not yet written. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  push(item: T): void {
    if (this.failed) return;
    const lookup = this.parts.lookup(item);
    lookup?.catch(() => undefined);
    this.queue.push({ item, lookup });
    if (!this.draining) {
      this.draining = true;
      // The first lot of a loop turn goes once the promise jobs queued so far (a chunk of merges and what
      // they emit) have run; later ones wait for the turn's check phase, so a busy loop (several requests
      // per turn) writes about once per turn: a socket write that wakes the reader costs tens of µs.
      if (this.wroteThisTurn) setImmediate(() => void this.drain());
      else process.nextTick(() => void this.drain());
    }
  }

  private wrote(): void {
    if (this.wroteThisTurn) return;
    this.wroteThisTurn = true;
    setImmediate(() => (this.wroteThisTurn = false));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failed) {
        const batch = this.queue;
        this.queue = [];
        this.inFlight = batch.length;
        const looked = await Promise.all(batch.map((b) => b.lookup));
        let out = '';
        for (let i = 0; i < batch.length; i++) out += this.parts.render(batch[i]!.item, looked[i]);
        this.inFlight = 0;
        if (out) {
          this.parts.write(out);
          this.wrote();
        }
      }
    } catch (err) {
      this.failed = true;
      this.queue = [];
      this.inFlight = 0;
      this.parts.fail(err);
    } finally {
      this.draining = false;
    }
  }
}
