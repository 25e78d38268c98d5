/**
 * Segments of every vector kind (docs/format.md, "Vector kinds"): byte-exact round trips through the
 * direct codec and the library fallback, the record digest of each kind, validation of canonical
 * order and finiteness, and damaged segments refused with typed errors.
 */
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { VectordrError } from '../../src/errors.js';
import { VECTOR_TAG, idBytes, recordDigest } from '../../src/format/digest.js';
import { decodeSegmentGeneric, encodeSegmentGeneric } from '../../src/format/parquet/generic-codec.js';
import { Unsupported, readSegmentParquet } from '../../src/format/parquet/segment-reader.js';
import { digestVectorOrder } from '../../src/format/rows.js';
import { type SegmentRows, decodeSegment, encodeSegment, hasNestedVectors } from '../../src/format/segment-codec.js';
import { type AnyVector, type AnyVectorColumn, type VectorField, VectorFieldSchema, batchFromRecords, recordAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import { KIND_FIELDS, makeKindsSegment } from '../helpers/segment-gen.js';

/** Every typed array of a column as bytes, for a byte-exact comparison. */
function columnBytes(col: AnyVectorColumn): Record<string, string> {
  const hex = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
  const out: Record<string, string> = { valid: col.valid && col.valid.includes(0) ? hex(col.valid) : 'all' };
  if ('offsets' in col) out.offsets = hex(col.offsets);
  if ('indices' in col) {
    out.indices = hex(col.indices);
    out.values = hex(col.values);
  } else out.data = hex(col.data);
  return out;
}

function sameRows(actual: SegmentRows, expected: SegmentRows): void {
  expect(actual.batch.length).toBe(expected.batch.length);
  expect(actual.batch.ids).toEqual(expected.batch.ids);
  expect(actual.payloadJson).toEqual(expected.payloadJson);
  expect(Buffer.from(actual.digests).equals(Buffer.from(expected.digests))).toBe(true);
  for (const [name, col] of Object.entries(expected.batch.vectors)) {
    const got = actual.batch.vectors[name] as AnyVectorColumn;
    expect({ name, ...columnBytes(got) }).toEqual({ name, ...columnBytes(col) });
  }
}

const DENSE_KINDS = KIND_FIELDS.filter((f) => f.kind === undefined);

describe('vector kinds: segments', () => {
  it('field schema: dims by kind, modifier for sparse only, sparse and multi hold float32', () => {
    const parse = (f: object): boolean => VectorFieldSchema.safeParse({ name: 'v', metric: 'dot', ...f }).success;
    expect(parse({ dims: 8 })).toBe(true);
    expect(parse({})).toBe(false); // dense needs dims
    expect(parse({ kind: 'sparse' })).toBe(true); // unbounded index space
    expect(parse({ kind: 'sparse', modifier: 'idf' })).toBe(true);
    expect(parse({ dims: 8, modifier: 'idf' })).toBe(false);
    expect(parse({ kind: 'multi', dims: 8, element: 'float16' })).toBe(false);
    expect(parse({ dims: 65_536 })).toBe(false);
    expect(parse({ dims: 65_536, element: 'binary' })).toBe(true);
    expect(parse({ dims: 2 ** 24 + 1, element: 'binary' })).toBe(false);
  });

  for (const [label, fields] of [
    ['dense elements (direct codec)', DENSE_KINDS],
    ['every kind (nested: the library)', KIND_FIELDS],
  ] as const) {
    for (const n of [0, 1, 37]) {
      it(`${label}, ${n} rows: byte-exact through encodeSegment/decodeSegment and the generic codec both ways`, () => {
        const { layout, rows } = makeKindsSegment(100 + n, n, fields);
        for (const vectorCompression of ['none', 'zstd'] as const) {
          const bytes = encodeSegment(layout, rows, { vectorCompression });
          sameRows(decodeSegment(layout, bytes), rows);
          sameRows(decodeSegmentGeneric(layout, bytes), rows);
          sameRows(decodeSegment(layout, encodeSegmentGeneric(layout, rows, { vectorCompression })), rows);
          if (!hasNestedVectors(layout))
            sameRows(readSegmentParquet(layout, bytes), rows); // the direct reader, no fallback
          else expect(() => readSegmentParquet(layout, bytes)).toThrow(Unsupported);
        }
        // Deterministic: the same rows give the same bytes (content addressing, invariant 6).
        expect(Buffer.from(encodeSegment(layout, rows)).equals(Buffer.from(encodeSegment(layout, rows)))).toBe(true);
      });
    }
  }

  it('the Arrow types foreign readers see', () => {
    const { layout, rows } = makeKindsSegment(7, 5);
    const table = arrow.tableFromIPC(parquet.readParquet(encodeSegment(layout, rows)).intoIPCStream());
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toMatchObject({
      vec_dense: 'FixedSizeList[4]<Float32>',
      vec_half: 'FixedSizeBinary[10]',
      vec_brain: 'FixedSizeBinary[6]',
      vec_bytes: 'FixedSizeBinary[6]',
      vec_signed: 'FixedSizeBinary[4]',
      vec_bits: 'FixedSizeBinary[2]',
      vec_sparse: 'Struct<{indices:List<Uint32>, values:List<Float32>}>',
      vec_multi: 'List<FixedSizeList[3]<Float32>>',
    });
  });
});

describe('vector kinds: record digests', () => {
  it('dense float32 keeps the v1 bytes; every other kind carries its own tag', () => {
    const ib = idBytes('int64', 42n);
    const payload = '{}';
    // The same 4 bytes as float32 and as two float16 / bfloat16 / four uint8 / int8 / 32 bits differ.
    const raw = Uint8Array.of(0x00, 0x3c, 0x00, 0xc0);
    const u16 = new Uint16Array(raw.buffer.slice(0));
    const digests = new Set([
      recordDigest(ib, [new Float32Array(raw.buffer.slice(0))], payload).toString('hex'),
      recordDigest(ib, [{ kind: 'dense', element: 'float16', data: u16 }], payload).toString('hex'),
      recordDigest(ib, [{ kind: 'dense', element: 'bfloat16', data: u16 }], payload).toString('hex'),
      recordDigest(ib, [{ kind: 'dense', element: 'uint8', data: raw }], payload).toString('hex'),
      recordDigest(ib, [{ kind: 'dense', element: 'int8', data: new Int8Array(raw.buffer.slice(0)) }], payload).toString('hex'),
      recordDigest(ib, [{ kind: 'dense', element: 'binary', data: raw }], payload).toString('hex'),
    ]);
    expect(digests.size).toBe(6);
    expect(Object.values(VECTOR_TAG)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('golden digests (docs/format.md, "Vector kinds": recomputable from the document alone)', () => {
    const ib = idBytes('int64', 1n);
    const golden = (v: Parameters<typeof recordDigest>[1][number]): string => recordDigest(ib, [v], '{"a":1}').toString('hex');
    expect({
      float32: golden(Float32Array.of(1, -2)),
      float16: golden({ kind: 'dense', element: 'float16', data: Uint16Array.of(0x3c00, 0xc000) }),
      bfloat16: golden({ kind: 'dense', element: 'bfloat16', data: Uint16Array.of(0x3f80, 0xc000) }),
      uint8: golden({ kind: 'dense', element: 'uint8', data: Uint8Array.of(1, 254) }),
      int8: golden({ kind: 'dense', element: 'int8', data: Int8Array.of(1, -2) }),
      binary: golden({ kind: 'dense', element: 'binary', data: Uint8Array.of(0b1010_0000, 0b0100_0000) }),
      sparse: golden({ kind: 'sparse', indices: Uint32Array.of(3, 70_000), values: Float32Array.of(0.5, -1) }),
      multi: golden({ kind: 'multi', dims: 2, data: Float32Array.of(1, -2, 0.5, 0) }),
      null: golden(null),
    }).toMatchInlineSnapshot(`
      {
        "bfloat16": "6d637cdd58d9415477c474081d95f568ff18e3a4b204460660200a189795087d",
        "binary": "f8a0b7413e8c42eace32ce1663512bc00ae8c16031034de02c84bad97a5a7411",
        "float16": "f98f58f94bb11bf137502de72343cfa63ab5ec765f10dbda85d4229ecc572cc2",
        "float32": "b6280a04826336cb2b47f4f18805757a90fb0e84dec8ee07bcc22cc4785f50b6",
        "int8": "402507dde7b4682f530220094c6637541e4660a7ebb82cb0734259846cca9422",
        "multi": "8850d56e457a00f4e49d821b87b12c98a7f361eea698fe804df5ae74df8ba9c4",
        "null": "54f4d4ef03a97e2e5d80fc225ef7562697458bfd634adb152df5388f5486a207",
        "sparse": "b9fce9133b9748094fe045163c0591a7d8b8a278d85f1af9ef0868f13f5b7165",
        "uint8": "4cb91d1d1e05bf7fd1828790b7791505ade9d7b85ca0948b67cd678719b85e4b",
      }
    `);
  });

  it('the batch digests (hashRecords) equal the reference recordDigest for every kind', () => {
    const { schema, rows } = makeKindsSegment(3, 40);
    const order = digestVectorOrder(schema);
    for (let i = 0; i < rows.batch.length; i++) {
      const rec = recordAt(rows.batch, i);
      const want = recordDigest(
        idBytes('int64', rec.id),
        order.map((name) => rec.vectors[name] ?? null),
        rows.payloadJson[i] as string,
      );
      expect(Buffer.from(rows.digests.subarray(i * 32, i * 32 + 32)).equals(want)).toBe(true);
    }
  });
});

describe('vector kinds: validation (invariant 8)', () => {
  const schemaOf = (f: VectorField): { idType: 'int64'; vectors: VectorField[] } => ({ idType: 'int64', vectors: [f] });
  const sparse = KIND_FIELDS.find((f) => f.kind === 'sparse') as VectorField;
  const refuse = (f: VectorField, vec: AnyVector): VectordrError => {
    const batch = batchFromRecords(schemaOf(f), [{ id: 1n, vectors: { [f.name]: vec as never }, payload: {} }]);
    try {
      validateBatchVectors(batch, [f]);
    } catch (err) {
      return err as VectordrError;
    }
    throw new Error('accepted');
  };

  it('refuses unsorted or repeated sparse indices, an index past the dims, NaN values', () => {
    expect(refuse(sparse, { kind: 'sparse', indices: Uint32Array.of(5, 2), values: Float32Array.of(1, 1) }).code).toBe('INVALID_VECTOR');
    expect(refuse(sparse, { kind: 'sparse', indices: Uint32Array.of(2, 2), values: Float32Array.of(1, 1) }).message).toMatch(
      /strictly ascending/,
    );
    expect(refuse(sparse, { kind: 'sparse', indices: Uint32Array.of(1000), values: Float32Array.of(1) }).message).toMatch(
      /past its 1000 dims/,
    );
    expect(refuse(sparse, { kind: 'sparse', indices: Uint32Array.of(1), values: Float32Array.of(Number.NaN) }).message).toMatch(/finite/);
  });

  it('refuses a float16 Infinity, binary padding bits, a NaN in a multi-vector, a kind other than declared', () => {
    const [half, bits, multi] = ['half', 'bits', 'multi'].map((n) => KIND_FIELDS.find((f) => f.name === n) as VectorField) as [
      VectorField,
      VectorField,
      VectorField,
    ];
    expect(refuse(half, { kind: 'dense', element: 'float16', data: Uint16Array.of(0, 0, 0x7c00, 0, 0) }).code).toBe('INVALID_VECTOR');
    expect(refuse(bits, { kind: 'dense', element: 'binary', data: Uint8Array.of(0, 0b0010_0000) }).message).toMatch(/past its 10 dims/);
    expect(refuse(multi, { kind: 'multi', dims: 3, data: Float32Array.of(1, 2, Number.NaN) }).code).toBe('INVALID_VECTOR');
    expect(() => batchFromRecords(schemaOf(half), [{ id: 1n, vectors: { half: Float32Array.of(1, 2, 3, 4, 5) }, payload: {} }])).toThrow(
      /not a float16/,
    );
  });
});

describe('vector kinds: damaged segments', () => {
  it('a lying list offset, a truncated file, a flipped byte: SEGMENT_CORRUPT or a refused row, never a crash', () => {
    const { layout, rows } = makeKindsSegment(11, 30);
    const bytes = encodeSegment(layout, rows);
    const outcomes = new Set<string>();
    for (let at = 0; at < bytes.length; at += Math.max(1, Math.floor(bytes.length / 400))) {
      const bad = Uint8Array.from(bytes);
      bad[at] = (bad[at] as number) ^ 0x5a;
      try {
        const back = decodeSegment(layout, bad, 'k');
        validateBatchVectors(back.batch, KIND_FIELDS);
        outcomes.add('decoded');
      } catch (err) {
        if (!(err instanceof VectordrError)) throw new Error(`byte ${at}: ${String(err)}`, { cause: err });
        outcomes.add(err.code);
      }
    }
    for (const cut of [1, 8, 100, Math.floor(bytes.length / 2)]) {
      expect(() => decodeSegment(layout, bytes.subarray(0, bytes.length - cut), 'k')).toThrow(VectordrError);
    }
    expect(outcomes.has('SEGMENT_CORRUPT')).toBe(true);
    // A kind the manifest does not say: the float16 column read as bfloat16 of other dims is refused.
    const lying = { ...layout, vectors: layout.vectors.map((v) => (v.name === 'half' ? { ...v, dims: 6 } : v)) };
    expect(() => decodeSegment(lying, bytes, 'k')).toThrow(/SEGMENT_CORRUPT|bytes per row|damaged/);
  });
});
