import { describe, expect, it } from 'vitest';
import { floatDistance, maskedPayloadJson, ulpDistance } from '../../src/verify/payload-floats.js';

describe('payload floats (parity ulps mode)', () => {
  it('measures ulps across zero and refuses to call NaN/Infinity near', () => {
    expect(ulpDistance(0.48914389545097947, 0.4891438954509794)).toBe(1);
    expect(ulpDistance(1, 1 + Number.EPSILON * 3)).toBe(3);
    expect(ulpDistance(-0, 0)).toBe(0);
    expect(ulpDistance(5e-324, -5e-324)).toBe(2);
    expect(ulpDistance(1, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });

  it('masks every number that is not an exact integer, and only those', () => {
    const a = maskedPayloadJson({ f: 0.1, i: 3, big: 2 ** 60, huge: 2 ** 70, s: '0.1', arr: [1.5, 2], o: { x: -2.5e-300 } });
    expect(a).toBe(maskedPayloadJson({ f: 0.2, i: 3, big: 2 ** 60, huge: 2 ** 71, s: '0.1', arr: [7.25, 2], o: { x: 1 / 3 } }));
    expect(a).not.toBe(maskedPayloadJson({ f: 0.1, i: 4, big: 2 ** 60, huge: 2 ** 70, s: '0.1', arr: [1.5, 2], o: { x: -2.5e-300 } }));
    expect(a).not.toBe(maskedPayloadJson({ f: '0.1', i: 3, big: 2 ** 60, huge: 2 ** 70, s: '0.1', arr: [1.5, 2], o: { x: -2.5e-300 } }));
  });

  it('gives the largest distance of the floats at the same places; an integer or type change is infinite', () => {
    expect(floatDistance({ a: 0.48914389545097947, b: [1.5, { c: 2 }] }, { a: 0.4891438954509794, b: [1.5, { c: 2 }] })).toBe(1);
    expect(floatDistance({ a: 1.5 }, { a: 1.5 * (1 + 1e-9) })).toBeGreaterThan(1000);
    expect(floatDistance({ n: 3 }, { n: 4 })).toBe(Number.POSITIVE_INFINITY);
    expect(floatDistance({ n: 0.5 }, { n: '0.5' })).toBe(Number.POSITIVE_INFINITY);
  });
});
