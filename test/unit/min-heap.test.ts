import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/chain/heap.js';

describe('MinHeap', () => {
  it('pops in order, and keeps order after the top changes in place (fixTop), as a merge uses it (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 20 }), { maxLength: 8 }), (lists) => {
        const sources = lists.map((l) => [...l].sort((a, b) => a - b));
        const heap = new MinHeap<{ s: number; i: number }>((a, b) => {
          const d = (sources[a.s] as number[])[a.i]! - (sources[b.s] as number[])[b.i]!;
          return d < 0 || (d === 0 && a.s < b.s);
        });
        sources.forEach((l, s) => l.length > 0 && heap.push({ s, i: 0 }));
        const out: number[] = [];
        for (let c = heap.top(); c !== undefined; c = heap.top()) {
          out.push((sources[c.s] as number[])[c.i] as number);
          if (++c.i === (sources[c.s] as number[]).length) heap.pop();
          else heap.fixTop();
        }
        expect(out).toEqual(sources.flat().sort((a, b) => a - b));
        expect(heap.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
