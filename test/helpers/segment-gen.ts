/**
 * Generated segments for the codec tests (test/unit/segment-*.test.ts, test/format/): layouts of every
 * id type with 0..3 vector fields, null vectors, optional prev_digest links, unicode payloads.
 */
import fc from 'fast-check';
import { canonicalPayload, parsePayload } from '../../src/format/canonical-json.js';
import { digestVectorOrder, hashRecords } from '../../src/format/rows.js';
import { type SegmentLayout, type SegmentRows, segmentLayout } from '../../src/format/segment-codec.js';
import {
  type AnyVector,
  type CollectionSchema,
  type Payload,
  type RecordOp,
  type VectorColumn,
  type VectorField,
  type VectorRecord,
  batchFromRecords,
} from '../../src/model.js';

export interface GeneratedSegment {
  layout: SegmentLayout;
  rows: SegmentRows;
}

export interface SegmentShape {
  idType: 'int64' | 'string' | 'uuid';
  dims: number[];
  rows: number;
  nullVectors: boolean;
  prev: boolean;
  seed: number;
}

/** A small deterministic PRNG (mulberry32), so a shape always gives the same segment. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['', 'a', 'é', 'ß', '日本語', '🙂', 'x'.repeat(300), 'tab\there', 'quote"', 'nul\u0000', 'Ω≈ç√'];

function uuid(r: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function makeSegment(shape: SegmentShape): GeneratedSegment {
  const r = rng(shape.seed);
  const n = shape.rows;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const vectors: Record<string, VectorColumn> = {};
  const layoutVectors = shape.dims.map((dims, k) => ({ name: k === 0 ? 'embedding' : `v${k}_${pick(['x', 'é', 'long_name'])}`, dims }));
  for (const v of layoutVectors) {
    const data = new Float32Array(n * v.dims);
    const valid = new Uint8Array(n).fill(1);
    let nulls = 0;
    for (let i = 0; i < n; i++) {
      if (shape.nullVectors && r() < 0.3) {
        valid[i] = 0;
        nulls++;
        continue;
      }
      for (let d = 0; d < v.dims; d++) data[i * v.dims + d] = Math.fround((r() - 0.5) * 10 ** Math.floor(r() * 8 - 4));
    }
    if (n > 0 && valid[0] === 1 && r() < 0.1) data[0] = -0; // signed zero survives bytewise
    vectors[v.name] = nulls > 0 ? { dims: v.dims, data, valid } : { dims: v.dims, data };
  }
  let ids: BigInt64Array | string[];
  if (shape.idType === 'int64') {
    ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = pick([0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(Math.floor(r() * 1e15)) - 10n ** 14n]);
  } else if (shape.idType === 'uuid') ids = Array.from({ length: n }, () => uuid(r));
  else ids = Array.from({ length: n }, (_, i) => (i === 0 && r() < 0.5 ? '' : `${pick(WORDS)}${i}`));
  const payloads: Payload[] = [];
  const payloadJson: string[] = [];
  for (let i = 0; i < n; i++) {
    const p: Payload = r() < 0.2 ? {} : { title: pick(WORDS), n: Math.floor(r() * 1e6), tags: [pick(WORDS), pick(WORDS)], ok: r() < 0.5 };
    const json = canonicalPayload(p);
    payloadJson.push(json);
    payloads.push(parsePayload(json));
  }
  const ops: RecordOp[] = Array.from({ length: n }, () => (shape.prev && r() < 0.3 ? 'delete' : 'upsert'));
  const digests = new Uint8Array(n * 32);
  for (let i = 0; i < digests.length; i++) digests[i] = Math.floor(r() * 256);
  let prev: SegmentRows['prev'];
  if (shape.prev) {
    const pd = new Uint8Array(n * 32);
    const valid = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (r() < 0.4) continue;
      valid[i] = 1;
      for (let k = 0; k < 32; k++) pd[i * 32 + k] = Math.floor(r() * 256);
    }
    prev = { digests: pd, valid };
  }
  return {
    layout: { idType: shape.idType, vectors: layoutVectors },
    rows: { batch: { length: n, ids, vectors, payloads, ops }, payloadJson, digests, ops, ...(prev ? { prev } : {}) },
  };
}

export const shapeArbitrary: fc.Arbitrary<SegmentShape> = fc.record({
  idType: fc.constantFrom('int64' as const, 'string' as const, 'uuid' as const),
  dims: fc.array(fc.constantFrom(1, 2, 3, 7, 8, 9, 16, 768, 4096), { maxLength: 3 }),
  rows: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 40 })),
  nullVectors: fc.boolean(),
  prev: fc.boolean(),
  seed: fc.integer(),
});

/** The fields of {@link makeKindsSegment}: one of every kind and element (docs/format.md, "Vector kinds"). */
export const KIND_FIELDS: readonly VectorField[] = [
  { name: 'dense', dims: 4, metric: 'cosine', element: 'float32', nullable: true },
  { name: 'half', dims: 5, metric: 'l2', element: 'float16', nullable: true },
  { name: 'brain', dims: 3, metric: 'dot', element: 'bfloat16', nullable: true },
  { name: 'bytes', dims: 6, metric: 'l2', element: 'uint8', nullable: true },
  { name: 'signed', dims: 4, metric: 'dot', element: 'int8', nullable: true },
  { name: 'bits', dims: 10, metric: 'hamming', element: 'binary', nullable: true },
  { name: 'sparse', kind: 'sparse', dims: 1000, metric: 'dot', element: 'float32', nullable: true },
  { name: 'multi', kind: 'multi', dims: 3, metric: 'cosine', element: 'float32', nullable: true },
];

/** A 16-bit float pattern made finite: an all-ones exponent (`mask`) loses its top bit. */
const finite = (bits: number, mask: number): number => ((bits & mask) === mask ? bits & ~0x4000 : bits);

/** One vector of `field` (finite, canonical: sparse indices ascending, binary padding zero). */
export function randomVector(field: VectorField, r: () => number): AnyVector {
  const dims = field.dims ?? 1 << 20;
  const float = (): number => Math.fround((r() - 0.5) * 10 ** Math.floor(r() * 6 - 3));
  if (field.kind === 'sparse') {
    const set = new Set<number>();
    const count = Math.floor(r() * 6);
    while (set.size < count) set.add(Math.floor(r() * dims));
    const indices = Uint32Array.from([...set].sort((a, b) => a - b));
    return { kind: 'sparse', indices, values: Float32Array.from(indices, float) };
  }
  if (field.kind === 'multi') {
    const count = Math.floor(r() * 4);
    return { kind: 'multi', dims, data: Float32Array.from({ length: count * dims }, float) };
  }
  switch (field.element) {
    case 'float32':
      return Float32Array.from({ length: dims }, float);
    case 'float16':
      // Any pattern but the exponent 31 (Infinity, NaN).
      return {
        kind: 'dense',
        element: 'float16',
        data: Uint16Array.from({ length: dims }, () => finite(Math.floor(r() * 0x10000), 0x7c00)),
      };
    case 'bfloat16':
      return {
        kind: 'dense',
        element: 'bfloat16',
        data: Uint16Array.from({ length: dims }, () => finite(Math.floor(r() * 0x10000), 0x7f80)),
      };
    case 'uint8':
      return { kind: 'dense', element: 'uint8', data: Uint8Array.from({ length: dims }, () => Math.floor(r() * 256)) };
    case 'int8':
      return { kind: 'dense', element: 'int8', data: Int8Array.from({ length: dims }, () => Math.floor(r() * 256) - 128) };
    case 'binary': {
      const data = Uint8Array.from({ length: Math.ceil(dims / 8) }, () => Math.floor(r() * 256));
      if (dims % 8 !== 0) data[data.length - 1] = (data[data.length - 1] as number) & (0xff << (8 - (dims % 8)));
      return { kind: 'dense', element: 'binary', data };
    }
  }
}

/**
 * A segment of {@link KIND_FIELDS} (or `fields`) with real record digests, nulls in about a quarter
 * of the rows, for the codec, digest and foreign-reader tests of every kind.
 */
export function makeKindsSegment(
  seed: number,
  n: number,
  fields: readonly VectorField[] = KIND_FIELDS,
): GeneratedSegment & { schema: Pick<CollectionSchema, 'idType' | 'vectors'> } {
  const r = rng(seed);
  const schema = { idType: 'int64' as const, vectors: [...fields] };
  const records: VectorRecord[] = Array.from({ length: n }, (_, i) => ({
    id: BigInt(i * 7 - 3),
    vectors: Object.fromEntries(fields.map((f) => [f.name, r() < 0.25 ? null : randomVector(f, r)])),
    payload: (r() < 0.5 ? {} : { title: `row ${i}` }) as Payload,
  }));
  const batch = batchFromRecords(schema, records);
  const payloadJson = batch.payloads.map(canonicalPayload);
  const { digests } = hashRecords('int64', digestVectorOrder(schema), batch, payloadJson, 1);
  const ops: RecordOp[] = new Array<RecordOp>(n).fill('upsert');
  return { schema, layout: segmentLayout(schema), rows: { batch: { ...batch, ops }, payloadJson, digests, ops } };
}
