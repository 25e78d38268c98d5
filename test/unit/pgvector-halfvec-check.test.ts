import { describe, expect, it } from 'vitest';
import { nonFiniteHalf } from '../../adapters/pgvector/pgvector-vector-write.js';

/** The element-at-a-time reference the word-wise scan replaced. */
function naive(data: Uint16Array, from: number): number {
  for (let k = from; k < data.length; k++) if (((data[k] as number) & 0x7c00) === 0x7c00) return k;
  return -1;
}

function all(find: (d: Uint16Array, from: number) => number, data: Uint16Array): number[] {
  const out: number[] = [];
  for (let k = find(data, 0); k !== -1; k = find(data, k + 1)) out.push(k);
  return out;
}

describe('nonFiniteHalf (the halfvec NaN/infinity check before a restore writes)', () => {
  it('finds every NaN and infinity the element-wise scan finds, at any alignment, length and position', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const specials = [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff, 0x7bff, 0x3c00, 0x0000, 0x8000];
    for (let round = 0; round < 400; round++) {
      const backing = new Uint16Array(2 + Math.floor(rnd() * 40));
      for (let k = 0; k < backing.length; k++) {
        backing[k] = rnd() < 0.1 ? (specials[Math.floor(rnd() * specials.length)] as number) : Math.floor(rnd() * 0x7c00);
      }
      const start = Math.floor(rnd() * 2); // odd offsets: a view that is not 4-byte aligned
      const data = backing.subarray(start, start + Math.floor(rnd() * (backing.length - start + 1)));
      expect(all(nonFiniteHalf, data)).toEqual(all(naive, data));
    }
  });

  it('returns -1 for an empty or clean column and past its end', () => {
    expect(nonFiniteHalf(new Uint16Array(0), 0)).toBe(-1);
    expect(nonFiniteHalf(new Uint16Array([0x3c00, 0x7bff, 0xfbff]), 0)).toBe(-1);
    expect(nonFiniteHalf(new Uint16Array([0x7c00]), 1)).toBe(-1);
    expect(nonFiniteHalf(new Uint16Array([1, 2, 3, 0xfc00]), 0)).toBe(3);
  });
});
