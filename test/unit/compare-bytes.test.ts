import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBytes } from '../../src/format/compare-bytes.js';

describe('compareBytes', () => {
  it('orders ranges as Buffer.compare does (unsigned, shorter first on a common prefix), short and long', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 150 }), fc.nat(5), fc.nat(5), (x, y, pa, pb) => {
        const a = new Uint8Array([...new Uint8Array(pa).fill(7), ...x, 1]);
        const b = new Uint8Array([...new Uint8Array(pb).fill(9), ...y, 2]);
        const got = Math.sign(compareBytes(a, pa, pa + x.length, b, pb, pb + y.length));
        expect(got).toBe(Math.sign(Buffer.compare(x, y)));
        // A shared prefix of more than 64 bytes takes the native path.
        const long = new Uint8Array(100).fill(3);
        const la = new Uint8Array([...long, ...x]);
        const lb = new Uint8Array([...long, ...y]);
        expect(Math.sign(compareBytes(la, 0, la.length, lb, 0, lb.length))).toBe(Math.sign(Buffer.compare(la, lb)));
      }),
      { numRuns: 500 },
    );
  });
});
