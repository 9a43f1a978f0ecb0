export interface TickWriterParts<T, L, G = undefined> {
  /** Starts the item's look-up as it is queued, so look-ups overlap (a shared store's round trips); none: `undefined`. */
  lookup(item: T): Promise<L> | undefined;
  /**
   * Starts one look-up for a whole lot (a check that must hold for all its items), not one per item: as its first
   * item is queued, and again when one is queued after the answer came in, so the lot's answer is never older
   * than its last item (a key revoked before a change keeps that change out).
   */
  lotLookup?(): Promise<G>;
  /** The item's bytes once its look-up (and its lot's) answered; '' writes nothing. */
  render(item: T, looked: L | undefined, lot: G | undefined): string;
  write(chunk: string): void;
  /** A look-up or render failed: nothing after it is written. */
  fail(err: unknown): void;
}

/**
 * Writes a stream's items strictly in the order they were queued, a lot at a time: everything queued until
 * the current task's promise jobs have run (a PBX batch's chunk of merges, say) goes out in one write, so
 * one socket write instead of one per item, and one promise for the whole lot's look-ups.
 */
export class TickWriter<T, L, G = undefined> {
  // Items and their look-ups side by side rather than a pair object per item: this runs for every change.
  private items: T[] = [];
  private lookups: Array<Promise<L> | undefined> = [];
  private lot: Promise<G> | undefined;
  /** The lot's look-up has answered: it says nothing of an item queued from now on. */
  private lotAnswered = false;
  private inFlight = 0;
  private draining = false;
  private failed = false;
  /** A lot went out in this turn of the event loop (reset at its check phase). */
  private wroteThisTurn = false;

  constructor(private readonly parts: TickWriterParts<T, L, G>) {}

  /** Items queued and not yet written. */
  get pending(): number {
    return this.items.length + this.inFlight;
  }

  push(item: T): void {
    if (this.failed) return;
    if (this.parts.lotLookup && (this.items.length === 0 || this.lotAnswered)) this.lookUpLot(this.parts.lotLookup);
    const lookup = this.parts.lookup(item);
    lookup?.catch(() => undefined);
    this.items.push(item);
    this.lookups.push(lookup);
    if (!this.draining) {
      this.draining = true;
      // The first lot of a loop turn goes once the promise jobs queued so far (a chunk of merges and what
      // they emit) have run; later ones wait for the turn's check phase, so a busy loop (several requests
      // per turn) writes about once per turn: a socket write that wakes the reader costs tens of µs.
      if (this.wroteThisTurn) setImmediate(() => void this.drain());
      else process.nextTick(() => void this.drain());
    }
  }

  private lookUpLot(lotLookup: () => Promise<G>): void {
    const lot = lotLookup();
    this.lot = lot;
    this.lotAnswered = false;
    // A look-up that failed stays the lot's, so the lot fails (a later answer does not hide it).
    lot.then(
      () => {
        if (this.lot === lot) this.lotAnswered = true;
      },
      () => undefined,
    );
  }

  private wrote(): void {
    if (this.wroteThisTurn) return;
    this.wroteThisTurn = true;
    setImmediate(() => (this.wroteThisTurn = false));
  }

  private async drain(): Promise<void> {
    try {
      while (this.items.length > 0 && !this.failed) {
        const { items, lookups, lot } = this;
        this.items = [];
        this.lookups = [];
        this.lot = undefined;
        this.lotAnswered = false;
        this.inFlight = items.length;
        const lotLooked = await lot;
        const looked = await Promise.all(lookups);
        let out = '';
        for (let i = 0; i < items.length; i++) out += this.parts.render(items[i]!, looked[i], lotLooked);
        this.inFlight = 0;
        if (out) {
          this.parts.write(out);
          this.wrote();
        }
      }
    } catch (err) {
      this.failed = true;
      this.items = [];
      this.lookups = [];
      this.lot = undefined;
      this.lotAnswered = false;
      this.inFlight = 0;
      this.parts.fail(err);
    } finally {
      this.draining = false;
    }
  }
}
