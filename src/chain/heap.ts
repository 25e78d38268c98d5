/**
 * A binary min-heap by `less`, for the k-way merges of chains and sort runs (mergeSorted,
 * mergeIndexBatches, planFold). A merge advances the cursor on top in place and calls `fixTop()`,
 * or `pop()` when that cursor is exhausted: one sift per entry, no allocation.
 */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The least item (undefined when empty). */
  top(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const h = this.#items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i] as T, h[p] as T)) break;
      [h[i], h[p]] = [h[p] as T, h[i] as T];
      i = p;
    }
  }

  /** Removes and returns the least item. */
  pop(): T | undefined {
    const h = this.#items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last as T;
      this.fixTop();
    }
    return top;
  }

  /** Restores the order after the top item changed (a cursor moved on). */
  fixTop(): void {
    const h = this.#items;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l] as T, h[m] as T)) m = l;
      if (r < h.length && this.#less(h[r] as T, h[m] as T)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as T, h[i] as T];
      i = m;
    }
  }
}
