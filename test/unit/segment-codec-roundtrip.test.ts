/**
 * The direct Parquet segment codec (src/format/parquet/) against the previous apache-arrow +
 * parquet-wasm codec, both ways, over generated layouts: new -> new, new -> old and old -> new all
 * return the rows that were encoded.
 */
import fc from 'fast-check';
import * as parquet from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { decodeSegmentGeneric, encodeSegmentGeneric } from '../../src/format/parquet/generic-codec.js';
import { Unsupported, readSegmentParquet } from '../../src/format/parquet/segment-reader.js';
import { decodeSegment, encodeSegment, type SegmentRows } from '../../src/format/segment-codec.js';
import { makeSegment, shapeArbitrary, type SegmentShape } from '../helpers/segment-gen.js';
import { type VectorColumn, isFloat32Column } from '../../src/model.js';

function same(actual: SegmentRows, expected: SegmentRows): void {
  expect(actual.batch.length).toBe(expected.batch.length);
  expect(actual.batch.ids).toEqual(expected.batch.ids);
  expect(actual.ops).toEqual(expected.ops);
  expect(actual.batch.ops).toEqual(expected.ops);
  expect(actual.payloadJson).toEqual(expected.payloadJson);
  expect(actual.batch.payloads).toEqual(expected.batch.payloads);
  expect(Buffer.from(actual.digests).equals(Buffer.from(expected.digests))).toBe(true);
  expect(actual.prev === undefined).toBe(expected.prev === undefined);
  if (actual.prev && expected.prev) {
    expect(Buffer.from(actual.prev.valid).equals(Buffer.from(expected.prev.valid))).toBe(true);
    // Rows without a prev_digest: the old decoder leaves whatever arrow-js has in the null slots there.
    const masked = (p: NonNullable<SegmentRows['prev']>): Buffer => Buffer.from(p.digests.map((b, i) => (p.valid[i >> 5] === 1 ? b : 0)));
    expect(masked(actual.prev).equals(masked(expected.prev))).toBe(true);
  }
  expect(Object.keys(actual.batch.vectors).sort()).toEqual(Object.keys(expected.batch.vectors).sort());
  for (const [name, col] of Object.entries(expected.batch.vectors)) {
    const got = actual.batch.vectors[name] as VectorColumn;
    if (!isFloat32Column(col)) throw new Error('dense float32 only here');
    expect(got.dims).toBe(col.dims);
    // Bytewise, so -0 and every NaN payload count.
    expect(
      Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(
        Buffer.from(col.data.buffer, col.data.byteOffset, col.data.byteLength),
      ),
    ).toBe(true);
    expect(got.valid === undefined).toBe(col.valid === undefined);
    if (got.valid && col.valid) expect(Buffer.from(got.valid).equals(Buffer.from(col.valid))).toBe(true);
  }
}

const FIXED: SegmentShape[] = [
  { idType: 'int64', dims: [768], rows: 0, nullVectors: false, prev: false, seed: 1 },
  { idType: 'int64', dims: [768], rows: 1, nullVectors: false, prev: false, seed: 2 },
  { idType: 'string', dims: [1], rows: 50, nullVectors: true, prev: true, seed: 3 },
  { idType: 'uuid', dims: [4096, 3], rows: 9, nullVectors: true, prev: false, seed: 4 },
  { idType: 'int64', dims: [], rows: 5, nullVectors: false, prev: true, seed: 5 },
  { idType: 'string', dims: [8, 16, 1], rows: 200, nullVectors: true, prev: true, seed: 6 },
  { idType: 'int64', dims: [768], rows: 1260, nullVectors: false, prev: false, seed: 7 },
];

describe('segment codec: direct writer and reader against parquet-wasm', () => {
  for (const shape of FIXED) {
    it(`round trips ${JSON.stringify(shape)}`, () => {
      const { layout, rows } = makeSegment(shape);
      for (const vectorCompression of ['none', 'zstd'] as const) {
        const bytes = encodeSegment(layout, rows, { vectorCompression });
        same(decodeSegment(layout, bytes, 'k'), rows);
        same(decodeSegmentGeneric(layout, bytes, 'k'), rows);
        // The direct reader itself (no fallback) reads both writers' files.
        same(readSegmentParquet(layout, bytes), rows);
        same(readSegmentParquet(layout, encodeSegmentGeneric(layout, rows, { vectorCompression })), rows);
      }
    });
  }

  it('round trips generated layouts, both codecs both ways', () => {
    fc.assert(
      fc.property(shapeArbitrary, fc.constantFrom('none' as const, 'zstd' as const), (shape, vectorCompression) => {
        const { layout, rows } = makeSegment(shape);
        const bytes = encodeSegment(layout, rows, { vectorCompression });
        same(decodeSegment(layout, bytes, 'k'), rows);
        same(decodeSegmentGeneric(layout, bytes, 'k'), rows);
        same(readSegmentParquet(layout, encodeSegmentGeneric(layout, rows, { vectorCompression })), rows);
      }),
      { numRuns: 60, seed: 18 },
    );
  });

  it('encodes deterministically: the same rows give the same bytes', () => {
    const { layout, rows } = makeSegment(FIXED[5]!);
    expect(Buffer.from(encodeSegment(layout, rows)).equals(Buffer.from(encodeSegment(layout, rows)))).toBe(true);
  });

  it('reads Parquet of other shapes (row groups, v2 pages, dictionaries, snappy, small pages) through parquet-wasm', () => {
    const { layout, rows } = makeSegment({ idType: 'string', dims: [768, 2], rows: 300, nullVectors: true, prev: true, seed: 9 });
    const old = encodeSegmentGeneric(layout, rows, { vectorCompression: 'none' });
    const variants: [string, (b: parquet.WriterPropertiesBuilder) => parquet.WriterPropertiesBuilder, boolean][] = [
      ['row groups of 7 rows', (b) => b.setMaxRowGroupSize(7), false],
      ['v2 data pages', (b) => b.setWriterVersion(parquet.WriterVersion.V2), false],
      ['dictionaries everywhere', (b) => b.setDictionaryEnabled(true), false],
      ['snappy', (b) => b.setCompression(parquet.Compression.SNAPPY), false],
      // Many small v1 pages, uncompressed, no dictionary: still the direct reader's shape.
      [
        '4 KiB pages',
        (b) => b.setDataPageSizeLimit(4096).setDictionaryEnabled(false).setCompression(parquet.Compression.UNCOMPRESSED),
        true,
      ],
    ];
    for (const [, props, direct] of variants) {
      const builder = props(new parquet.WriterPropertiesBuilder());
      const bytes = parquet.writeParquet(parquet.readParquet(old), builder.build());
      same(decodeSegment(layout, bytes, 'k'), rows);
      if (direct) same(readSegmentParquet(layout, bytes), rows);
      else expect(() => readSegmentParquet(layout, bytes)).toThrow(Unsupported);
    }
  });
});
