/**
 * Damaged segments: whatever the damage, decodeSegment throws IntegrityError('SEGMENT_CORRUPT')
 * naming the key, or returns rows. Returned rows either equal the encoded ones (the damage hit bytes
 * no reader uses: statistics, the created_by string, ...) or differ in a way the record digest check
 * of restore and verify catches: a recomputed digest differs from the stored one (a flip inside the
 * uncompressed vector values decodes to another float; zstd pages carry no checksum either).
 */
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { BucketDigest } from '../../src/format/digest.js';
import { encodeSegmentGeneric } from '../../src/format/parquet/generic-codec.js';
import { digestBatch } from '../../src/format/rows.js';
import { decodeSegment, encodeSegment, type SegmentLayout, type SegmentRows } from '../../src/format/segment-codec.js';
import { at, footerOf, withFooter } from '../helpers/parquet-edit.js';
import { makeSegment, rng } from '../helpers/segment-gen.js';
import type { VectorColumn } from '../../src/model.js';

const KEY = 'data/ab/abcdef';

/** A segment whose digests are the real record digests, so damage can be judged by recomputing them. */
function realSegment(shape: Parameters<typeof makeSegment>[0]): { layout: SegmentLayout; rows: SegmentRows } {
  const { layout, rows } = makeSegment(shape);
  const names = layout.vectors.map((v) => v.name).sort();
  const { digests } = digestBatch(layout.idType, names, rows.batch, new BucketDigest(16), rows.payloadJson);
  return { layout, rows: { ...rows, digests } };
}

function expectCorrupt(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(IntegrityError);
  expect((thrown as IntegrityError).code).toBe('SEGMENT_CORRUPT');
  expect((thrown as Error).message).toContain(KEY);
}

/** Decodes damaged bytes: IntegrityError, or rows that are intact or fail the digest check. */
function judge(layout: SegmentLayout, rows: SegmentRows, bytes: Uint8Array): 'error' | 'intact' | 'digest-mismatch' | 'row-count-mismatch' {
  let out: SegmentRows;
  try {
    out = decodeSegment(layout, bytes, KEY);
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrityError);
    // A flip that makes a page claim more than a segment may decode to (decode-limits.ts) is refused as too large.
    expect(['SEGMENT_CORRUPT', 'SEGMENT_TOO_LARGE']).toContain((err as IntegrityError).code);
    return 'error';
  }
  const names = layout.vectors.map((v) => v.name).sort();
  // verify and restore compare the row count with the manifest's `segments[].rows`.
  if (out.batch.length !== rows.batch.length) return 'row-count-mismatch';
  const again = digestBatch(layout.idType, names, out.batch, new BucketDigest(16), out.payloadJson).digests;
  const consistent = Buffer.from(again).equals(Buffer.from(out.digests));
  const equal =
    consistent &&
    Buffer.from(out.digests).equals(Buffer.from(rows.digests)) &&
    JSON.stringify(out.payloadJson) === JSON.stringify(rows.payloadJson) &&
    layout.vectors.every((v) =>
      Buffer.from((out.batch.vectors[v.name] as VectorColumn).data.buffer).equals(
        Buffer.from((rows.batch.vectors[v.name] as VectorColumn).data.buffer),
      ),
    );
  if (equal) return 'intact';
  // Rows that differ from what was written must not pass the digest check.
  expect(consistent).toBe(false);
  return 'digest-mismatch';
}

const SHAPES = [
  { idType: 'int64' as const, dims: [16], rows: 40, nullVectors: true, prev: false, seed: 11 },
  { idType: 'string' as const, dims: [3, 1], rows: 25, nullVectors: true, prev: true, seed: 12 },
];

describe('segment codec: damaged input', () => {
  for (const shape of SHAPES) {
    const { layout, rows } = realSegment(shape);
    for (const [writer, bytes] of [
      ['direct', encodeSegment(layout, rows)],
      ['parquet-wasm', encodeSegmentGeneric(layout, rows, { vectorCompression: 'none' })],
    ] as const) {
      it(`${writer} ${shape.idType}: truncation at every 1/64th is SEGMENT_CORRUPT`, () => {
        for (let k = 0; k < 64; k++)
          expectCorrupt(() => decodeSegment(layout, bytes.subarray(0, Math.floor((bytes.length * k) / 64)), KEY));
      });

      it(`${writer} ${shape.idType}: single byte flips give an error or rows the digest check rejects`, () => {
        const r = rng(1818);
        const seen = { error: 0, intact: 0, 'digest-mismatch': 0, 'row-count-mismatch': 0 };
        for (let k = 0; k < 400; k++) {
          const damaged = bytes.slice();
          const pos = Math.floor(r() * damaged.length);
          damaged[pos] = (damaged[pos] as number) ^ (1 << Math.floor(r() * 8));
          seen[judge(layout, rows, damaged)]++;
        }
        expect(seen.error).toBeGreaterThan(0);
      });
    }
  }

  const { layout, rows } = realSegment({ idType: 'int64', dims: [8], rows: 30, nullVectors: true, prev: false, seed: 13 });
  const bytes = encodeSegment(layout, rows);
  const len = bytes.length;

  it('a footer length that lies is SEGMENT_CORRUPT', () => {
    for (const lie of [0, 1, 7, len - 12, len - 11, len, 0xffffffff]) {
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(len - 8, lie, true);
      expectCorrupt(() => decodeSegment(layout, b, KEY));
    }
  });

  it('huge row and value counts are SEGMENT_CORRUPT without a giant allocation', () => {
    const lies: ((f: ReturnType<typeof footerOf>) => void)[] = [
      (f) => f.set(3, 2n ** 40n), // num_rows
      (f) => {
        f.set(3, 2n ** 40n);
        at(f, 4, 0).set(3, 2n ** 40n); // and the row group's
      },
      (f) => at(f, 4, 0, 1, 0, 3).set(5, 2n ** 50n), // id num_values
      (f) => at(f, 4, 0, 1, 0, 3).set(7, 2n ** 40n), // id total_compressed_size
      (f) => at(f, 4, 0, 1, 0, 3).set(9, BigInt(len * 2)), // id data_page_offset past the end
      (f) => at(f, 4, 0, 1, 4, 3).set(5, 2n ** 31n), // vector num_values
      (f) => at(f, 2, 0).set(5, 1000), // root num_children
    ];
    for (const [i, lie] of lies.entries()) {
      const f = footerOf(bytes);
      lie(f);
      const b = withFooter(bytes, f);
      const before = process.memoryUsage().rss;
      const result = judge(layout, rows, b);
      expect({ i, result }).toEqual({ i, result: 'error' });
      expect(process.memoryUsage().rss - before).toBeLessThan(512 * 2 ** 20);
    }
    // Two row groups holding the same chunks: a valid Parquet file of another shape, read through
    // parquet-wasm, with twice the rows the manifest records for the segment.
    const f = footerOf(bytes);
    f.set(3, BigInt(2 * rows.batch.length));
    f.set(4, [at(f, 4, 0), at(f, 4, 0)]);
    expect(judge(layout, rows, withFooter(bytes, f))).toBe('row-count-mismatch');
  });

  it('a list length in the footer beyond its bytes is SEGMENT_CORRUPT', () => {
    const f = footerOf(bytes);
    const b = withFooter(bytes, f);
    // The schema list header is the first field: 0x19 (field 2, list), then 0xfc (size 15+, struct): make the size 2^28.
    const footerStart = b.length - 8 - new DataView(b.buffer).getUint32(b.length - 8, true);
    const i = b.indexOf(0x19, footerStart + 1);
    const patched = new Uint8Array([...b.subarray(0, i + 2), 0x80, 0x80, 0x80, 0x80, 0x01, ...b.subarray(i + 2 + 1)]);
    new DataView(patched.buffer).setUint32(patched.length - 8, new DataView(b.buffer).getUint32(b.length - 8, true) + 4, true);
    expectCorrupt(() => decodeSegment(layout, patched, KEY));
  });

  it('the wrong dims or a missing column is SEGMENT_CORRUPT', () => {
    expectCorrupt(() => decodeSegment({ ...layout, vectors: [{ name: layout.vectors[0]!.name, dims: 7 }] }, bytes, KEY));
    expectCorrupt(() => decodeSegment({ ...layout, vectors: [{ name: layout.vectors[0]!.name, dims: 9 }] }, bytes, KEY));
    expectCorrupt(() => decodeSegment({ ...layout, vectors: [{ name: 'other', dims: 8 }] }, bytes, KEY));
  });

  it('garbage is SEGMENT_CORRUPT', () => {
    const r = rng(7);
    for (const size of [0, 1, 11, 12, 100, 5000]) {
      const g = new Uint8Array(size).map(() => Math.floor(r() * 256));
      expectCorrupt(() => decodeSegment(layout, g, KEY));
      if (size >= 12) {
        g.set([0x50, 0x41, 0x52, 0x31], 0);
        g.set([0x50, 0x41, 0x52, 0x31], size - 4);
        expectCorrupt(() => decodeSegment(layout, g, KEY));
      }
    }
  });
});
