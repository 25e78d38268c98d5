/**
 * The hand-written gRPC wire codec (adapters/qdrant/qdrant-grpc-wire.ts) against the code Qdrant
 * generates from its own .proto files (@qdrant/js-client-grpc, a devDependency): every request it
 * writes must read back field for field with the generated decoder, and every answer the generated
 * encoder writes must decode to the same ids, payloads and float bits. Bad bytes: typed errors.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  PointsOperationResponseSchema,
  ScrollPointsSchema,
  ScrollResponseSchema,
  UpdateStatus,
  UpsertPointsSchema,
  type Value,
} from '@qdrant/js-client-grpc';
import { describe, expect, it } from 'vitest';
import { grpcUrlFor } from '../../adapters/qdrant/qdrant-grpc-client.js';
import {
  decodeScrollResponse,
  decodeUpdateStatus,
  encodeScrollRequest,
  encodeUpsertRequest,
  type WirePoint,
  type WireVector,
} from '../../adapters/qdrant/qdrant-grpc-wire.js';
import { EngineError } from '../../src/errors.js';

/** A generated `qdrant.Value` as plain JSON (integers as numbers, as the adapter reads them). */
function json(v: Value | undefined): unknown {
  const k = v?.kind;
  if (!k || k.case === undefined || k.case === 'nullValue') return null;
  if (k.case === 'integerValue') return Number(k.value);
  if (k.case === 'structValue') return Object.fromEntries(Object.entries(k.value.fields).map(([key, x]) => [key, json(x)]));
  if (k.case === 'listValue') return k.value.values.map(json);
  return k.value;
}

/** A plain JSON value as a generated `qdrant.Value` init. */
function value(v: unknown): Record<string, unknown> {
  if (v === null) return { kind: { case: 'nullValue', value: 0 } };
  if (typeof v === 'boolean') return { kind: { case: 'boolValue', value: v } };
  if (typeof v === 'number')
    return Number.isInteger(v) ? { kind: { case: 'integerValue', value: BigInt(v) } } : { kind: { case: 'doubleValue', value: v } };
  if (typeof v === 'string') return { kind: { case: 'stringValue', value: v } };
  if (Array.isArray(v)) return { kind: { case: 'listValue', value: { values: v.map(value) } } };
  return {
    kind: { case: 'structValue', value: { fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, value(x)])) } },
  };
}

const PAYLOAD = {
  title: 'héllo "wörld" ✓ 𝄞',
  n: -9_007_199_254_740_991,
  big: 2 ** 40,
  f: 0.1,
  tiny: -1e-300,
  ok: true,
  no: false,
  nothing: null,
  tags: ['a', 1, 2.5, null, [true], { deep: { x: [1, { y: 'z' }] } }],
  empty: {},
  emptyList: [],
};

const floats = (n: number, seed: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 1000 + i) * 1e3));

describe('qdrant gRPC wire codec', () => {
  it('an upsert request reads back field for field with the generated decoder: ids, payload values, unnamed and named vectors', () => {
    const unnamed: WirePoint[] = [
      { id: 1, payload: PAYLOAD, vector: floats(5, 1) },
      { id: 2 ** 53 - 1, payload: {}, vector: floats(5, 2) },
      { id: '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c', payload: { vdr_id: '-7' }, vector: floats(5, 3) },
    ];
    const m = fromBinary(UpsertPointsSchema, encodeUpsertRequest('coll ✓', unnamed, true));
    expect(m.collectionName).toBe('coll ✓');
    expect(m.wait).toBe(true);
    expect(
      m.points.map((p) => (p.id?.pointIdOptions.case === 'num' ? Number(p.id.pointIdOptions.value) : p.id?.pointIdOptions.value)),
    ).toEqual([1, 2 ** 53 - 1, '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c']);
    m.points.forEach((p, i) => {
      expect(Object.fromEntries(Object.entries(p.payload).map(([k, v]) => [k, json(v)]))).toEqual((unnamed[i] as WirePoint).payload);
      const o = p.vectors?.vectorsOptions;
      expect(o?.case).toBe('vector');
      const v = o?.case === 'vector' ? o.value.vector : undefined;
      expect(v?.case).toBe('dense');
      expect(Float32Array.from(v?.case === 'dense' ? v.value.data : [])).toEqual((unnamed[i] as WirePoint).vector);
    });

    const named: WirePoint = {
      id: 3,
      payload: { a: 1 },
      vector: new Map([
        ['text', floats(3, 4)],
        ['image ✓', floats(7, 5)],
      ]),
    };
    const n = fromBinary(UpsertPointsSchema, encodeUpsertRequest('c', [named], false));
    expect(n.wait).toBe(false);
    const o = n.points[0]?.vectors?.vectorsOptions;
    expect(o?.case).toBe('vectors');
    const got = o?.case === 'vectors' ? o.value.vectors : {};
    expect(Object.keys(got).sort()).toEqual(['image ✓', 'text']);
    for (const [k, want] of named.vector as Map<string, Float32Array>) {
      const v = got[k]?.vector;
      expect(Float32Array.from(v?.case === 'dense' ? v.value.data : [])).toEqual(want);
    }
  });

  it('a scroll request reads back with the generated decoder', () => {
    const m = fromBinary(ScrollPointsSchema, encodeScrollRequest('c', '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c', 4000, null));
    expect(m.collectionName).toBe('c');
    expect(m.limit).toBe(4000);
    expect(m.offset?.pointIdOptions).toEqual({ case: 'uuid', value: '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c' });
    expect(m.withPayload?.selectorOptions).toEqual({ case: 'enable', value: true });
    expect(m.withVectors?.selectorOptions).toEqual({ case: 'enable', value: true });
    const n = fromBinary(ScrollPointsSchema, encodeScrollRequest('c', 2n ** 63n - 1n, 7, ['a', 'b ✓']));
    expect(n.offset?.pointIdOptions).toEqual({ case: 'num', value: 2n ** 63n - 1n });
    const sel = n.withVectors?.selectorOptions;
    expect(sel?.case === 'include' ? sel.value.names : []).toEqual(['a', 'b ✓']);
    expect(fromBinary(ScrollPointsSchema, encodeScrollRequest('c', undefined, 1, null)).offset).toBeUndefined();
  });

  /** A ScrollResponse written by the generated encoder. */
  const answer = (points: Record<string, unknown>[], next?: Record<string, unknown>): Uint8Array =>
    toBinary(ScrollResponseSchema, create(ScrollResponseSchema, { result: points, time: 0.01, ...(next ? { nextPageOffset: next } : {}) }));
  const dense = (f: Float32Array): Record<string, unknown> => ({ vector: { case: 'dense', value: { data: Array.from(f) } } });

  it('a scroll answer decodes to the same ids, payloads and float bits; the deprecated `data` field too; a missing named vector is not valid', () => {
    const v = [floats(4, 1), floats(4, 2), floats(4, 3)];
    const buf = answer(
      [
        {
          id: { pointIdOptions: { case: 'num', value: 5n } },
          payload: Object.fromEntries(Object.entries(PAYLOAD).map(([k, x]) => [k, value(x)])),
          vectors: { vectorsOptions: { case: 'vector', value: dense(v[0] as Float32Array) } },
        },
        {
          id: { pointIdOptions: { case: 'num', value: 2n ** 60n } },
          payload: {},
          vectors: { vectorsOptions: { case: 'vector', value: { data: Array.from(v[1] as Float32Array) } } },
        },
        {
          id: { pointIdOptions: { case: 'uuid', value: '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c' } },
          payload: {},
          vectors: { vectorsOptions: { case: 'vector', value: dense(v[2] as Float32Array) } },
        },
      ],
      { pointIdOptions: { case: 'num', value: 9n } },
    );
    const page = decodeScrollResponse(buf, 10, { names: [''], dims: [4] }, 'c');
    expect(page.ids).toEqual([5, 2n ** 60n, '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c']);
    expect(page.payloads[0]).toEqual(PAYLOAD);
    expect(page.columns[0]).toEqual(Float32Array.from([...(v[0] as Float32Array), ...(v[1] as Float32Array), ...(v[2] as Float32Array)]));
    expect(page.valid[0]).toBeUndefined();
    expect(page.next).toBe(9);

    const named = answer([
      {
        id: { pointIdOptions: { case: 'num', value: 1n } },
        vectors: {
          vectorsOptions: {
            case: 'vectors',
            value: { vectors: { a: dense(floats(2, 7)), b: dense(floats(3, 8)), other: dense(floats(9, 9)) } },
          },
        },
      },
      {
        id: { pointIdOptions: { case: 'num', value: 2n } },
        vectors: { vectorsOptions: { case: 'vectors', value: { vectors: { b: dense(floats(3, 10)) } } } },
      },
    ]);
    const p = decodeScrollResponse(named, 2, { names: ['a', 'b'], dims: [2, 3] }, 'c');
    expect(p.columns[0]?.subarray(0, 2)).toEqual(floats(2, 7));
    expect(Array.from(p.valid[0] ?? [])).toEqual([1, 0]);
    expect(p.valid[1]).toBeUndefined();
    expect(p.columns[1]).toEqual(Float32Array.from([...floats(3, 8), ...floats(3, 10)]));
    expect(p.next).toBeUndefined();
  });

  it('refuses wrong dimensions, sparse vectors, more points than asked for and truncated or corrupt bytes with a typed error', () => {
    const one = (vectors: Record<string, unknown>): Uint8Array =>
      answer([{ id: { pointIdOptions: { case: 'num', value: 1n } }, vectors: { vectorsOptions: { case: 'vector', value: vectors } } }]);
    expect(() => decodeScrollResponse(one(dense(floats(3, 1))), 1, { names: [''], dims: [4] }, 'c')).toThrow(/has 3 values, expected 4/);
    expect(() => decodeScrollResponse(one(dense(floats(5, 1))), 1, { names: [''], dims: [4] }, 'c')).toThrow(/more than 4/);
    const sparse = one({ vector: { case: 'sparse', value: { values: [1], indices: [3] } } });
    expect(() => decodeScrollResponse(sparse, 1, { names: [''], dims: [4] }, 'c')).toThrow(/not a dense vector/);
    const two = answer([
      { id: { pointIdOptions: { case: 'num', value: 1n } }, vectors: { vectorsOptions: { case: 'vector', value: dense(floats(4, 1)) } } },
      { id: { pointIdOptions: { case: 'num', value: 2n } }, vectors: { vectorsOptions: { case: 'vector', value: dense(floats(4, 1)) } } },
    ]);
    expect(() => decodeScrollResponse(two, 1, { names: [''], dims: [4] }, 'c')).toThrow(EngineError);
    const good = one(dense(floats(4, 1)));
    // Every cut inside the point (the answer ends with `time`, a tag and 8 bytes, after it).
    for (let cut = 1; cut < good.length - 9; cut++) {
      let err: unknown;
      try {
        const page = decodeScrollResponse(good.subarray(0, cut), 1, { names: [''], dims: [4] }, 'c');
        if (page.ids.length === 1) err = new Error(`a cut at ${cut} read as a whole point`);
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(EngineError);
    }
    expect(() =>
      decodeScrollResponse(
        Uint8Array.from([0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        1,
        { names: [''], dims: [4] },
        'c',
      ),
    ).toThrow(EngineError);
  });

  it('sparse vectors and multivectors: an upsert reads back with the generated decoder, an answer decodes (sparse sorted, duplicates refused)', () => {
    const point: WirePoint = {
      id: 4,
      payload: {},
      vector: new Map<string, WireVector>([
        ['s', { sparse: { indices: Uint32Array.from([2, 300, 70_000]), values: floats(3, 11) } }],
        ['empty', { sparse: { indices: new Uint32Array(0), values: new Float32Array(0) } }],
        ['m', { multi: floats(6, 12), dims: 3 }],
      ]),
    };
    const m = fromBinary(UpsertPointsSchema, encodeUpsertRequest('c', [point], true));
    const o = m.points[0]?.vectors?.vectorsOptions;
    const got = o?.case === 'vectors' ? o.value.vectors : {};
    const s = got.s?.vector;
    expect(s?.case).toBe('sparse');
    expect(s?.case === 'sparse' ? [s.value.indices, Float32Array.from(s.value.values)] : []).toEqual([[2, 300, 70_000], floats(3, 11)]);
    const e = got.empty?.vector;
    expect(e?.case === 'sparse' ? [e.value.indices, e.value.values] : undefined).toEqual([[], []]);
    const mv = got.m?.vector;
    expect(mv?.case).toBe('multiDense');
    const rows = mv?.case === 'multiDense' ? mv.value.vectors.map((d) => Float32Array.from(d.data)) : [];
    expect(rows).toEqual([floats(6, 12).subarray(0, 3), floats(6, 12).subarray(3, 6)]);

    const buf = answer([
      {
        id: { pointIdOptions: { case: 'num', value: 1n } },
        vectors: {
          vectorsOptions: {
            case: 'vectors',
            value: {
              vectors: {
                s: { vector: { case: 'sparse', value: { indices: [9, 2, 5], values: [0.5, 0.25, 1] } } },
                m: { vector: { case: 'multiDense', value: { vectors: [{ data: [1, 2] }, { data: [3, 4] }] } } },
              },
            },
          },
        },
      },
      { id: { pointIdOptions: { case: 'num', value: 2n } }, vectors: { vectorsOptions: { case: 'vectors', value: { vectors: {} } } } },
    ]);
    const sink = { names: ['s', 'm'], dims: [0, 2], kinds: ['sparse', 'multi'] as const };
    const page = decodeScrollResponse(buf, 2, sink, 'c');
    const [sparse, multi] = page.rows;
    expect(sparse).toEqual([{ indices: Uint32Array.from([2, 5, 9]), values: Float32Array.from([0.25, 1, 0.5]) }, undefined]);
    expect(multi).toEqual([Float32Array.from([1, 2, 3, 4]), undefined]);
    const dup = answer([
      {
        id: { pointIdOptions: { case: 'num', value: 1n } },
        vectors: {
          vectorsOptions: { case: 'vector', value: { vector: { case: 'sparse', value: { indices: [3, 1, 3], values: [1, 2, 3] } } } },
        },
      },
    ]);
    expect(() => decodeScrollResponse(dup, 1, { names: [''], dims: [0], kinds: ['sparse'] }, 'c')).toThrow(/repeats sparse index 3/);
    const ragged = answer([
      {
        id: { pointIdOptions: { case: 'num', value: 1n } },
        vectors: {
          vectorsOptions: { case: 'vector', value: { vector: { case: 'multiDense', value: { vectors: [{ data: [1, 2, 3] }] } } } },
        },
      },
    ]);
    expect(() => decodeScrollResponse(ragged, 1, { names: [''], dims: [2], kinds: ['multi'] }, 'c')).toThrow(EngineError);
  });

  it('reads the update status of an upsert answer', () => {
    const buf = toBinary(
      PointsOperationResponseSchema,
      create(PointsOperationResponseSchema, { result: { operationId: 7n, status: UpdateStatus.Completed }, time: 0.1 }),
    );
    expect(decodeUpdateStatus(buf)).toBe(2);
  });

  it('derives the gRPC URL from the REST URL: port + 1', () => {
    expect(grpcUrlFor('http://127.0.0.1:6333')).toBe('http://127.0.0.1:6334');
    expect(grpcUrlFor('https://qdrant.example.com')).toBe('https://qdrant.example.com:444');
    expect(grpcUrlFor('http://[::1]:6333/')).toBe('http://[::1]:6334');
  });
});
