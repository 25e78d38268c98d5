/** Comparing records read back from an engine with the records a test wrote (or kept aside). */
import { expect } from 'vitest';
import type { AdapterCapabilities } from '../../src/adapter.js';
import type { VectorRecord } from '../../src/model.js';
import { floatDistance, maskedPayloadJson } from '../../src/verify/payload-floats.js';
import { DEFAULT_FLOAT_ULPS } from '../../src/verify/verify-parity.js';

/** What decides how exactly records can come back: the capabilities of the engine read (or, across engines, of both). */
export type RecordFidelity = Partial<Pick<AdapterCapabilities, 'normalizesCosine' | 'payloadFloatExact'>>;

const unit = (v: Float32Array | null | undefined): number[] => {
  const xs = Array.from(v ?? []);
  const n = Math.sqrt(xs.reduce((s, x) => s + x * x, 0)) || 1;
  return xs.map((x) => x / n);
};

/**
 * Records equal, in order: ids, payloads, and vectors bit for bit — or, where cosine vectors are
 * normalised on write (`normalizesCosine`; the test vectors are cosine), equal after normalisation
 * within 1e-6 per component; where payload floats are not held exactly (`payloadFloatExact: false`),
 * payload floats within parity's default ulps and everything else in the payload exact.
 */
export function expectSameRecords(actual: VectorRecord[], expected: VectorRecord[], caps: RecordFidelity): void {
  const normalizesCosine = caps.normalizesCosine === true;
  expect(actual.map((r) => String(r.id))).toEqual(expected.map((r) => String(r.id)));
  actual.forEach((a, i) => {
    const e = expected[i] as VectorRecord;
    if (caps.payloadFloatExact === false) {
      expect(maskedPayloadJson(a.payload)).toBe(maskedPayloadJson(e.payload));
      expect(floatDistance(e.payload, a.payload)).toBeLessThanOrEqual(DEFAULT_FLOAT_ULPS);
    } else expect(a.payload).toEqual(e.payload);
    for (const [name, v] of Object.entries(e.vectors)) {
      const got = a.vectors[name] ?? null;
      if (!(v instanceof Float32Array) && v !== null) {
        expect(got).toEqual(v); // other kinds come back exactly (cosine normalisation is for dense float32)
        continue;
      }
      if (!normalizesCosine) {
        expect(Array.from((got as Float32Array | null) ?? [])).toEqual(Array.from(v ?? []));
        continue;
      }
      const gotUnit = unit(got as Float32Array | null);
      const want = unit(v);
      expect(gotUnit.length).toBe(want.length);
      expect(Math.max(...gotUnit.map((x, k) => Math.abs(x - (want[k] as number))))).toBeLessThan(1e-6);
    }
  });
}

/** How exactly records come back after a move from one engine into another: the weaker of the two. */
export function crossFidelity(from: AdapterCapabilities, to: AdapterCapabilities): RecordFidelity {
  return {
    normalizesCosine: from.normalizesCosine || to.normalizesCosine,
    payloadFloatExact: from.payloadFloatExact && to.payloadFloatExact,
  };
}
