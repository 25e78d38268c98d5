/** The small helpers the adapters' write paths share. */
import { describe, expect, it } from 'vitest';
import { chunksByBytes } from '../../src/async.js';

describe('chunksByBytes', () => {
  it('ends a chunk after the row that reaches the budget, keeps order and offsets, and leaves no empty chunk', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    expect(chunksByBytes(items, [4, 4, 4, 4, 4], 8)).toEqual([
      { offset: 0, items: ['a', 'b'] },
      { offset: 2, items: ['c', 'd'] },
      { offset: 4, items: ['e'] },
    ]);
    // The last row closes a chunk exactly: no empty tail.
    expect(chunksByBytes(items.slice(0, 4), [4, 4, 4, 4], 8).map((c) => c.items)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    // One row over the budget is a chunk of its own.
    expect(chunksByBytes(items.slice(0, 3), [1, 100, 1], 10).map((c) => c.items)).toEqual([['a', 'b'], ['c']]);
    expect(chunksByBytes([], [], 10)).toEqual([]);
  });
});
