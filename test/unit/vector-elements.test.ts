/** Element conversions: float16 and bfloat16 over all 65536 bit patterns, integer and bit narrowing. */
import { describe, expect, it } from 'vitest';
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  firstNonFinite,
  float32ToFloat16,
  narrowFromFloat32,
  widenToFloat32,
} from '../../src/format/vector-elements.js';

const isNaN16 = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNB16 = (h: number): boolean => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

/** Finite float16 values in ascending order with their bit patterns (-0 and +0 both kept). */
function ascendingHalves(): { bits: number; value: number }[] {
  const out: { bits: number; value: number }[] = [];
  for (let h = 0; h < 65_536; h++) if ((h & 0x7c00) !== 0x7c00) out.push({ bits: h, value: float16ToFloat32(h) });
  return out.sort((a, b) => a.value - b.value || (Object.is(a.value, -0) ? -1 : 1));
}

describe('float16', () => {
  it('known values', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7bff)).toBe(65_504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x0400)).toBe(2 ** -14);
    expect(Object.is(float16ToFloat32(0x8000), -0)).toBe(true);
    expect(float16ToFloat32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(float16ToFloat32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(float16ToFloat32(0x7e00)).toBeNaN();
    expect(float32ToFloat16(65_520)).toBe(0x7c00); // halfway past the largest finite: rounds to Infinity
    expect(float32ToFloat16(65_519)).toBe(0x7bff);
    expect(float32ToFloat16(1e-8)).toBe(0);
    expect(float32ToFloat16(-1e-8)).toBe(0x8000);
  });

  it('every one of the 65536 patterns survives widening and narrowing again (NaN stays NaN)', () => {
    for (let h = 0; h < 65_536; h++) {
      const x = float16ToFloat32(h);
      if (Math.fround(x) !== x && !Number.isNaN(x)) expect.fail(`pattern ${h.toString(16)} is not a float32`);
      const back = float32ToFloat16(x);
      if (isNaN16(h)) expect(isNaN16(back)).toBe(true);
      else if (back !== h) expect.fail(`pattern ${h.toString(16)} came back as ${back.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even, between every pair of neighbours', () => {
    const halves = ascendingHalves();
    for (let i = 0; i + 1 < halves.length; i++) {
      const a = halves[i] as { bits: number; value: number };
      const b = halves[i + 1] as { bits: number; value: number };
      if (a.value === b.value) continue; // -0, +0
      const mid = (a.value + b.value) / 2; // needs 12 significant bits: exact in float32
      expect(Math.fround(mid)).toBe(mid);
      const even = (a.bits & 1) === 0 ? a.bits : b.bits;
      const got = float32ToFloat16(mid);
      if (got !== even && !(mid === 0))
        expect.fail(`midpoint ${mid} of ${a.bits.toString(16)}..${b.bits.toString(16)} gave ${got.toString(16)}`);
      const below = Math.fround(mid - Math.abs(mid) * 2 ** -20);
      const above = Math.fround(mid + Math.abs(mid) * 2 ** -20);
      if (below > a.value && float32ToFloat16(below) !== a.bits) expect.fail(`just below ${mid} should give ${a.bits.toString(16)}`);
      if (above < b.value && float32ToFloat16(above) !== b.bits) expect.fail(`just above ${mid} should give ${b.bits.toString(16)}`);
    }
  });
});

describe('bfloat16', () => {
  it('every one of the 65536 patterns survives widening and narrowing again', () => {
    for (let h = 0; h < 65_536; h++) {
      const back = float32ToBfloat16(bfloat16ToFloat32(h));
      if (isNaNB16(h)) expect(isNaNB16(back)).toBe(true);
      else if (back !== h) expect.fail(`pattern ${h.toString(16)} came back as ${back.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even', () => {
    expect(float32ToBfloat16(1)).toBe(0x3f80);
    // 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: to the even 0x3f80. 1 + 3·2^-8 is halfway between 0x3f81 and 0x3f82: 0x3f82.
    expect(float32ToBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
  });
});

describe('vector element conversion', () => {
  it('widens every element type exactly and says when a narrowing is exact', () => {
    const f16 = Uint16Array.of(0x3c00, 0xc000, 0x0001, 0x8000);
    const wide = widenToFloat32('float16', f16, 4);
    expect(Array.from(wide)).toEqual([1, -2, 2 ** -24, -0]);
    const back = narrowFromFloat32('float16', wide);
    expect(back.exact).toBe(true);
    expect(Array.from(back.data)).toEqual(Array.from(f16));
    expect(narrowFromFloat32('float16', Float32Array.of(0.1)).exact).toBe(false);
    expect(narrowFromFloat32('bfloat16', Float32Array.of(0.5, -3)).exact).toBe(true);
    expect(narrowFromFloat32('bfloat16', Float32Array.of(0.1)).exact).toBe(false);

    const i8 = Int8Array.of(-128, -1, 0, 127);
    expect(Array.from(widenToFloat32('int8', i8, 4))).toEqual([-128, -1, 0, 127]);
    expect(narrowFromFloat32('int8', Float32Array.of(-128, 127)).exact).toBe(true);
    const clipped = narrowFromFloat32('int8', Float32Array.of(200, 2.5, -0.5));
    expect(clipped.exact).toBe(false);
    expect(Array.from(clipped.data)).toEqual([127, 2, 0]);
    expect(narrowFromFloat32('int8', Float32Array.of(-0)).exact).toBe(false); // an integer has no -0
    expect(Array.from(narrowFromFloat32('uint8', Float32Array.of(-3, 255.4, 3.5)).data)).toEqual([0, 255, 4]);

    // Binary: most significant bit first; 10 bits in two bytes, the unused low bits zero.
    const bits = Uint8Array.of(0b1010_0000, 0b0100_0000);
    const asFloats = widenToFloat32('binary', bits, 10);
    expect(Array.from(asFloats)).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    const packed = narrowFromFloat32('binary', asFloats);
    expect(packed.exact).toBe(true);
    expect(Array.from(packed.data)).toEqual(Array.from(bits));
    expect(narrowFromFloat32('binary', Float32Array.of(0.3)).exact).toBe(false);
  });
});

describe('firstNonFinite', () => {
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

  it('finds the first NaN or infinity at every position of a block and its tail', () => {
    for (const length of [0, 1, 7, 8, 9, 16, 23]) {
      const base = Float32Array.from({ length }, (_, i) => (i % 3 === 0 ? -0 : i * 1e30));
      expect(firstNonFinite(base)).toBe(-1);
      for (let at = 0; at < length; at++) {
        for (const bad of specials) {
          const v = base.slice();
          v[at] = bad;
          if (at + 3 < length) v[at + 3] = Number.NaN; // a later one must not win
          expect(firstNonFinite(v)).toBe(at);
        }
      }
    }
  });

  it('accepts every finite extreme: ±max, ±min subnormal, ±0', () => {
    const v = new Float32Array([3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 0, -0, 1, -1, 2 ** -126]);
    expect(firstNonFinite(v)).toBe(-1);
  });

  it('honours a view into a larger buffer', () => {
    const whole = new Float32Array(20).fill(1);
    whole[2] = Number.NaN;
    expect(firstNonFinite(whole.subarray(3))).toBe(-1);
    whole[13] = Number.POSITIVE_INFINITY;
    expect(firstNonFinite(whole.subarray(3))).toBe(10);
  });
});
