/** What the heap keeps on each item: where it sits, so it can be moved or taken out without a search. */
export interface HeapSlot {
  heapIndex: number;
}

/**
 * A binary min-heap ordered by `less` whose items can be re-keyed or removed in place (O(log n)). A
 * timeline that marked replaced items dead and left them in the heap grew by every change of a busy
 * person's next instant and later popped the dead ones in bursts that held the event loop.
 */
export class MinHeap<T extends HeapSlot> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Restores the order after the item's key changed. */
  update(item: T): void {
    if (!this.holds(item)) return;
    this.down(this.up(item.heapIndex));
  }

  remove(item: T): void {
    if (this.holds(item)) this.removeAt(item.heapIndex);
  }

  private holds(item: T): boolean {
    return this.items[item.heapIndex] === item;
  }

  private removeAt(i: number): void {
    const a = this.items;
    const gone = a[i]!;
    const last = a.pop()!;
    gone.heapIndex = -1;
    if (i === a.length) return;
    a[i] = last;
    last.heapIndex = i;
    this.down(this.up(i));
  }

  /** Moves the item at `i` towards the root while it is less than its parent; returns where it stopped. */
  private up(i: number): number {
    const a = this.items;
    const item = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (!this.less(item, parent)) break;
      a[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    a[i] = item;
    item.heapIndex = i;
    return i;
  }

  private down(i: number): void {
    const a = this.items;
    const item = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && this.less(a[r]!, a[l]!) ? r : l;
      const child = a[c]!;
      if (!this.less(child, item)) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = item;
    item.heapIndex = i;
  }
}
