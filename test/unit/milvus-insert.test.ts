/**
 * The column-wise insert request (adapters/milvus/milvus-insert.ts) against the SDK's own `insert`:
 * the SDK's `_insert` runs on a stand-in client whose channel pool captures the request it would
 * send, and the request vectordr builds for the same rows must be the same, field by field.
 */
import { DataType, LOADER_OPTIONS, MilvusClient, getGRPCService } from '@zilliz/milvus2-sdk-node';
import { describe, expect, it } from 'vitest';
import { type ColumnTarget, type MutationRequest, mutationRequest, sendMutation } from '../../adapters/milvus/milvus-insert.js';
import { liftFloatVectors, queryRows } from '../../adapters/milvus/milvus-rpc.js';
import { float16Bytes, reverseBits } from '../../adapters/milvus/milvus-vectors.js';
import type { MilvusFieldInfo } from '../../adapters/milvus/milvus-types.js';
import { MilvusWriter } from '../../adapters/milvus/milvus-write.js';
import { milvusServerInfo } from '../../adapters/milvus/milvus-version.js';
import type { MilvusContext } from '../../adapters/milvus/milvus-client.js';
import { expectError } from '../helpers/errors.js';
import type { AnyVectorColumn } from '../../src/model.js';

const FIELDS: MilvusFieldInfo[] = [
  { name: 'id', data_type: 'Int64', is_primary_key: true, autoID: false },
  { name: 'v', data_type: 'FloatVector', dim: 4 },
  { name: 'h', data_type: 'Float16Vector', dim: 2 },
  { name: 'b', data_type: 'BinaryVector', dim: 16 },
  { name: 'title', data_type: 'VarChar', max_length: 64 },
  { name: 'ok', data_type: 'Bool' },
  { name: 'n', data_type: 'Int32' },
  { name: 'score', data_type: 'Double', nullable: true },
  { name: 'tags', data_type: 'Array', element_type: 'Int64', max_capacity: 8 },
  { name: 'doc', data_type: 'JSON', nullable: true },
  { name: '$meta', data_type: 'JSON', is_dynamic: true },
];

interface Captured {
  method: string;
  params: Record<string, unknown>;
}

/** The request the SDK's own insert/upsert sends for `rows`, captured at its channel pool. */
async function sdkRequest(
  fields: MilvusFieldInfo[],
  dynamic: boolean,
  rows: Record<string, unknown>[],
  upsert: boolean,
): Promise<Captured> {
  let captured: Captured | undefined;
  // A real describe gives every field an element type ('None' but on arrays).
  fields = fields.map((f) => ({ element_type: 'None', ...f }));
  const grpc = new Proxy(
    {},
    {
      // Not a thenable: the pool's promise resolves to it.
      get: (_, method: string) =>
        method === 'then'
          ? undefined
          : (params: Record<string, unknown>, ...rest: unknown[]) => {
              captured = { method, params };
              (rest.at(-1) as (e: unknown, r: unknown) => void)(null, { status: { error_code: 'Success', code: 0 } });
            },
    },
  );
  const stand = {
    channelPool: { acquire: () => Promise.resolve(grpc), release: () => undefined },
    describeCollection: () =>
      Promise.resolve({
        status: { error_code: 'Success', code: 0 },
        properties: [],
        schema: { fields, enable_dynamic_field: dynamic },
      }),
    normalizeFieldOps: () => [],
  };
  const transformers = { [DataType.Float16Vector]: (bits: number[]) => float16Bytes(Uint16Array.from(bits)) };
  const insert = (MilvusClient.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)._insert;
  await insert?.call(stand, { collection_name: 'c', data: rows, transformers }, upsert, false);
  if (!captured) throw new Error('the SDK sent nothing');
  return captured;
}

/** Column `i..` values per row as the old path gave them to the SDK (rows of numbers). */
function sdkRows(rows: Record<string, unknown>[], cols: Record<string, AnyVectorColumn>, offset: number): Record<string, unknown>[] {
  return rows.map((r, k) => {
    const i = offset + k;
    const v = cols.v as { data: Float32Array };
    const h = cols.h as { data: Uint16Array };
    const b = cols.b as { data: Uint8Array };
    return {
      ...r,
      v: Array.from(v.data.subarray(i * 4, i * 4 + 4)),
      h: Array.from(h.data.subarray(i * 2, i * 2 + 2)),
      b: reverseBits(b.data.subarray(i * 2, i * 2 + 2)),
    };
  });
}

function columns(n: number): Record<string, AnyVectorColumn> {
  return {
    v: { dims: 4, data: Float32Array.from({ length: n * 4 }, (_, i) => Math.fround(Math.sin(i) * 1e3)) },
    h: { kind: 'dense', element: 'float16', dims: 2, data: Uint16Array.from({ length: n * 2 }, (_, i) => (i * 7919) & 0x7bff) },
    b: { kind: 'dense', element: 'binary', dims: 16, data: Uint8Array.from({ length: n * 2 }, (_, i) => (i * 37) & 0xff) },
  };
}

/** The SDK's own proto definitions of the Milvus service: how its client encodes and decodes each call. */
const SERVICE = (
  getGRPCService({ serviceName: 'milvus.proto.milvus.MilvusService' } as never, LOADER_OPTIONS as never) as unknown as {
    service: Record<
      string,
      {
        requestSerialize: (r: unknown) => Buffer;
        requestDeserialize: (b: Buffer) => Record<string, unknown>;
        responseSerialize: (r: unknown) => Buffer;
        responseDeserialize: (b: Buffer) => Record<string, unknown>;
      }
    >;
  }
).service;

/** A request as Milvus receives it: encoded the way it is sent, decoded by the SDK's deserializer, fields by name. */
function onTheWire(method: 'Insert' | 'Upsert', request: unknown, tail: Buffer = Buffer.alloc(0)): unknown {
  const m = SERVICE[method];
  if (!m) throw new Error(`no ${method}`);
  const decoded = m.requestDeserialize(Buffer.concat([m.requestSerialize(request), tail]));
  const list = decoded.fields_data as { field_name: string }[];
  return { ...decoded, fields_data: [...list].sort((a, b) => a.field_name.localeCompare(b.field_name)) };
}

const ours = (method: 'Insert' | 'Upsert', m: MutationRequest): unknown => onTheWire(method, m.request, m.tail);

/** What the SDK sent, as Milvus receives it, less its `schema_timestamp` (vectordr sends none, as with the SDK's skip_check_schema). */
const sdkSent = (method: 'Insert' | 'Upsert', c: Captured): unknown => ({
  ...(onTheWire(method, c.params) as object),
  schema_timestamp: '0',
});

describe('milvus column-wise insert request', () => {
  const rows: Record<string, unknown>[] = [
    { id: '1', title: 'a', ok: true, n: 3, score: 1.5, tags: ['1', '2'], doc: { x: [1, 'two'] }, extra: 'dyn', deep: { k: null } },
    { id: '-9223372036854775807', title: 'é✓', ok: false, n: -2147483648, score: null, tags: [], doc: null },
    { id: '9007199254740993', title: '', ok: true, n: 0, score: 1e-300, tags: ['9223372036854775807'], doc: { y: 1 }, z: 0.1 },
  ];

  it.each([false, true])('is what the SDK would send for the same rows (upsert %s), dynamic keys included', async (upsert) => {
    const cols = columns(5);
    const offset = 2;
    const target: ColumnTarget = { fields: FIELDS, dynamic: true };
    const method = upsert ? 'Upsert' : 'Insert';
    const mine = mutationRequest('c', target, rows, offset, cols, upsert);
    const theirs = await sdkRequest(FIELDS, true, sdkRows(rows, cols, offset), upsert);
    expect(theirs.method).toBe(method);
    const sdk = sdkSent(method, theirs) as { fields_data: unknown[] };
    expect(ours(method, mine)).toEqual(sdk);
    expect(sdk.fields_data.length).toBe(FIELDS.length);
  });

  it('without a dynamic field: the same request, and a key with no field is SCHEMA_MISMATCH', async () => {
    const fields = FIELDS.filter((f) => !f.is_dynamic);
    const plain = rows.map(({ extra: _e, deep: _d, z: _z, ...r }) => r);
    const cols = columns(3);
    const mine = mutationRequest('c', { fields, dynamic: false }, plain, 0, cols, false);
    const theirs = await sdkRequest(fields, false, sdkRows(plain, cols, 0), false);
    expect(ours('Insert', mine)).toEqual(sdkSent('Insert', theirs));
    expect(() => mutationRequest('c', { fields, dynamic: false }, rows, 0, cols, false)).toThrow(
      expect.objectContaining({ code: 'SCHEMA_MISMATCH' }) as Error,
    );
  });

  it('a nullable vector field (Milvus 2.6) carries valid_data, every row valid, as the SDK sends it', async () => {
    const fields: MilvusFieldInfo[] = [
      { name: 'id', data_type: 'Int64', is_primary_key: true },
      { name: 'v', data_type: 'FloatVector', dim: 4, nullable: true },
      { name: 'h', data_type: 'Float16Vector', dim: 2 },
      { name: 'b', data_type: 'BinaryVector', dim: 16 },
    ];
    const plain = [{ id: '1' }, { id: '2' }, { id: '3' }, { id: '4' }];
    const cols = columns(4);
    const mine = mutationRequest('c', { fields, dynamic: false }, plain, 0, cols, false);
    const theirs = await sdkRequest(fields, false, sdkRows(plain, cols, 0), false);
    expect(ours('Insert', mine)).toEqual(sdkSent('Insert', theirs));
  });

  it('rows of 768 dims (lengths of several varint bytes, beside a nullable field) as the SDK sends them', async () => {
    const fields: MilvusFieldInfo[] = [
      { name: 'id', data_type: 'Int64', is_primary_key: true },
      { name: 'véctor', data_type: 'FloatVector', dim: 768, nullable: true },
      { name: 'h', data_type: 'Float16Vector', dim: 768 },
      { name: 'b', data_type: 'BinaryVector', dim: 768 },
    ];
    const n = 30;
    const cols: Record<string, AnyVectorColumn> = {
      véctor: { dims: 768, data: Float32Array.from({ length: n * 768 }, (_, i) => Math.fround(Math.cos(i) * 3)) },
      h: { kind: 'dense', element: 'float16', dims: 768, data: Uint16Array.from({ length: n * 768 }, (_, i) => (i * 31) & 0x7bff) },
      b: { kind: 'dense', element: 'binary', dims: 768, data: Uint8Array.from({ length: n * 96 }, (_, i) => (i * 13) & 0xff) },
    };
    const plain = Array.from({ length: n }, (_, i) => ({ id: String(i) }));
    const given = plain.map((r, i) => ({
      ...r,
      véctor: Array.from((cols.véctor as { data: Float32Array }).data.subarray(i * 768, (i + 1) * 768)),
      h: Array.from((cols.h as { data: Uint16Array }).data.subarray(i * 768, (i + 1) * 768)),
      b: reverseBits((cols.b as { data: Uint8Array }).data.subarray(i * 96, (i + 1) * 96)),
    }));
    const mine = mutationRequest('c', { fields, dynamic: false }, plain, 0, cols, false);
    expect(mine.tail.length).toBeGreaterThan(16_384 * 4);
    const theirs = await sdkRequest(fields, false, given, false);
    expect(ours('Insert', mine)).toEqual(sdkSent('Insert', theirs));
  });

  it('sparse rows as the SDK encodes them', async () => {
    const fields: MilvusFieldInfo[] = [
      { name: 'id', data_type: 'VarChar', is_primary_key: true, max_length: 16 },
      { name: 's', data_type: 'SparseFloatVector' },
    ];
    const sparse = [
      { id: 'a', s: { indices: [0, 7, 4294967294], values: [0.5, 1, 3e38] } },
      { id: 'b', s: { indices: [3], values: [1e-45] } },
    ];
    const mine = mutationRequest('c', { fields, dynamic: false }, sparse, 0, {}, false);
    const theirs = await sdkRequest(fields, false, sparse, false);
    expect(mine.tail.length).toBe(0);
    expect(ours('Insert', mine)).toEqual(sdkSent('Insert', theirs));
  });

  it('sends through a pooled client: the request logs as one short line, its bytes carry every field', async () => {
    let sent: Record<string, unknown> | undefined;
    const pool = poolOf(
      {
        Insert: (bytes) => {
          sent = SERVICE.Insert?.requestDeserialize(bytes as Buffer);
          return { status: { error_code: 'Success', code: 0 }, insert_cnt: '3' };
        },
      },
      { Insert: SERVICE.Insert?.requestSerialize },
    );
    const client = { channelPool: pool, timeout: 0 } as unknown as MilvusClient;
    const mutation = mutationRequest('c', { fields: FIELDS, dynamic: true }, rows, 0, columns(3), false);
    const res = await sendMutation(client, 'Insert', mutation);
    expect(res.insert_cnt).toBe('3');
    expect(pool.requests[0]).toBe(mutation.request);
    expect(JSON.stringify(pool.requests[0])).toBe('"Insert c (request)"');
    expect(JSON.stringify(res)).toMatch(/^"Insert c \(response/);
    expect(Object.keys(mutation.request)).toEqual(['collection_name', 'num_rows', 'fields_data']);
    expect((sent?.fields_data as { field_name: string }[]).map((f) => f.field_name).sort()).toEqual(FIELDS.map((f) => f.name).sort());
    expect(pool.released).toBe(1);
  });
});

/** A query's answer as the SDK's proto decoding gives it: ids, a float vector, a nullable double, JSON, dynamic keys. */
function queryResults(): Record<string, unknown> {
  const dim = 3;
  return {
    status: { error_code: 'Success', code: 0 },
    fields_data: [
      {
        field_name: 'id',
        type: 'Int64',
        scalars: { data: 'long_data', long_data: { data: ['1', '-9223372036854775807', '7'] } },
        valid_data: [],
      },
      {
        field_name: 'v',
        type: 'FloatVector',
        vectors: {
          data: 'float_vector',
          dim: String(dim),
          float_vector: { data: [0.5, -1, 3.4028234663852886e38, Math.fround(1e-45), -0, 2, 7, 8, 9] },
        },
        valid_data: [],
      },
      {
        field_name: 'score',
        type: 'Double',
        scalars: { data: 'double_data', double_data: { data: [1.5, 2.5] } },
        valid_data: [true, false, true],
      },
      {
        field_name: 'tags',
        type: 'Array',
        scalars: {
          data: 'array_data',
          array_data: { data: [{ data: 'long_data', long_data: { data: ['1'] } }, {}, { data: 'long_data', long_data: { data: [] } }] },
        },
        valid_data: [],
      },
      {
        field_name: '$meta',
        type: 'JSON',
        is_dynamic: true,
        scalars: {
          data: 'json_data',
          json_data: { data: [Buffer.from('{"a":1}'), Buffer.from('{}'), Buffer.from('{"a":[2],"__proto__":3}')] },
        },
        valid_data: [],
      },
      { field_name: 'a', type: 'JSON', is_dynamic: true, scalars: { data: 'json_data', json_data: { data: [] } }, valid_data: [] },
    ],
  };
}

interface FakePool {
  acquire(): Promise<unknown>;
  release(): void;
  released: number;
  /** The request objects the calls were given. */
  requests: unknown[];
}

/**
 * A channel pool of one gRPC client whose methods answer with `answers` (given what the request
 * serialized to: the request itself, or its bytes with a serializer from `serializers`).
 */
function poolOf(
  answers: Record<string, (request: unknown) => unknown>,
  serializers: Record<string, ((r: unknown) => Buffer) | undefined> = {},
): FakePool {
  const service = Object.fromEntries(
    Object.entries(answers).map(([name, answer]) => [
      name,
      {
        path: `/milvus/${name}`,
        requestSerialize: serializers[name] ?? ((r: unknown) => r),
        responseDeserialize: (r: unknown) => answer(r),
      },
    ]),
  );
  const requests: unknown[] = [];
  class Grpc {
    static service = service;
    makeUnaryRequest(
      path: string,
      serialize: (r: unknown) => unknown,
      deserialize: (b: unknown) => unknown,
      request: unknown,
      _o: unknown,
      cb: (e: unknown, r: unknown) => void,
    ): void {
      expect(path).toMatch(/^\/milvus\//);
      requests.push(request);
      cb(null, deserialize(serialize(request)));
    }
  }
  const pool: FakePool = {
    acquire: () => Promise.resolve(new Grpc()),
    release: () => void pool.released++,
    released: 0,
    requests,
  };
  return pool;
}

describe('milvus query without the SDK row copy', () => {
  it("gives the rows the SDK's query gives for the same answer, float vectors as views (the values a float32 wire gives)", async () => {
    let sdkSent: Record<string, unknown> | undefined;
    const grpc = {
      Query: (params: Record<string, unknown>, ...rest: unknown[]) => {
        sdkSent = params;
        (rest.at(-1) as (e: unknown, r: unknown) => void)(null, queryResults());
      },
    };
    const stand = { channelPool: { acquire: () => Promise.resolve(grpc), release: () => undefined }, timeout: 1000 };
    const q = {
      collection_name: 'c',
      filter: 'id > 5',
      limit: 4096,
      output_fields: ['*'],
      consistency_level: 'Strong',
      params: { iterator: true, reduce_stop_for_best: true },
    };
    const query = (MilvusClient.prototype as unknown as Record<string, (...a: unknown[]) => Promise<{ data: Record<string, unknown>[] }>>)
      ._query;
    const theirs = await query?.call(stand, { ...q });
    let ourSent: Record<string, unknown> | undefined;
    const client = {
      channelPool: poolOf({
        Query: (r) => {
          ourSent = r as Record<string, unknown>;
          return queryResults();
        },
      }),
      timeout: 1000,
    } as unknown as MilvusClient;
    const ours = await queryRows(client, q);
    const plain = (rows: Record<string, unknown>[] | undefined): unknown =>
      rows?.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Float32Array ? Array.from(v) : v])));
    expect(plain(ours.data)).toEqual(plain(theirs?.data));
    expect(ours.data[0]?.v).toBeInstanceOf(Float32Array);
    for (const key of ['collection_name', 'expr', 'output_fields', 'consistency_level', 'query_params'])
      expect(ourSent?.[key], key).toEqual(sdkSent?.[key]);
  });
});

/** A lifted column's chunks as one list of numbers. */
const flat = (chunks: Float32Array[] | undefined): number[] => (chunks ?? []).flatMap((c) => Array.from(c));

describe('float vectors lifted out of a query answer', () => {
  const query = SERVICE.Query as NonNullable<(typeof SERVICE)['Query']>;
  /** The answer above, as Milvus sends it: with oneof names the decoder reads, encoded by the SDK's own serializer. */
  const encoded = (): Buffer => {
    const r = queryResults() as { fields_data: Record<string, unknown>[] };
    const asSent = r.fields_data.map((f) => {
      const { vectors, scalars, ...rest } = f as { vectors?: Record<string, unknown>; scalars?: Record<string, unknown> };
      const strip = (o: Record<string, unknown> | undefined): Record<string, unknown> | undefined =>
        o && Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'data' || typeof o.data !== 'string'));
      return { ...rest, ...(vectors ? { vectors: strip(vectors) } : {}), ...(scalars ? { scalars: strip(scalars) } : {}) };
    });
    return query.responseSerialize({ ...r, fields_data: asSent, collection_name: 'c', output_fields: ['*'] });
  };

  it('takes out exactly the float values and leaves every other byte of the answer as it was', () => {
    const bytes = encoded();
    const { rest, vectors } = liftFloatVectors(bytes);
    expect([...vectors.keys()]).toEqual(['v']);
    const whole = query.responseDeserialize(bytes) as {
      fields_data: { field_name: string; vectors?: { float_vector?: { data: number[] } } }[];
    };
    const lifted = query.responseDeserialize(rest) as typeof whole;
    const v = whole.fields_data.find((f) => f.field_name === 'v');
    expect(flat(vectors.get('v'))).toEqual(v?.vectors?.float_vector?.data);
    expect(Object.is(flat(vectors.get('v'))[4], -0)).toBe(true);
    (v?.vectors?.float_vector as { data: number[] }).data = [];
    expect(lifted).toEqual(whole);
    expect(rest.length).toBe(bytes.length - 9 * 4 - 2); // the values, their key and their length
  });

  it('cuts the values into buffers of chunkRows whole vectors, each its own, the last one shorter', () => {
    const bytes = encoded();
    const one = liftFloatVectors(bytes).vectors.get('v') ?? [];
    expect(one.map((c) => c.length)).toEqual([9]);
    for (const [rows, lengths] of [
      [1, [3, 3, 3]],
      [2, [6, 3]],
      [3, [9]],
      [4096, [9]],
    ] as const) {
      const { rest, vectors } = liftFloatVectors(bytes, rows);
      const chunks = vectors.get('v') ?? [];
      expect(chunks.map((c) => c.length)).toEqual(lengths);
      for (const c of chunks) expect(c.byteOffset === 0 && c.buffer.byteLength === c.byteLength).toBe(true);
      expect(flat(chunks)).toEqual(flat(one));
      expect(Object.is(flat(chunks)[4], -0)).toBe(true);
      expect(rest.equals(liftFloatVectors(bytes).rest)).toBe(true);
    }
  });

  it('queryRows over the encoded answer gives the rows the SDK gives', async () => {
    const bytes = encoded();
    class Grpc {
      static service = {
        Query: { path: '/milvus/Query', requestSerialize: (r: unknown) => r, responseDeserialize: query.responseDeserialize },
      };
      makeUnaryRequest(
        _p: string,
        _s: unknown,
        deserialize: (b: Buffer) => unknown,
        _r: unknown,
        _o: unknown,
        cb: (e: unknown, r: unknown) => void,
      ): void {
        cb(null, deserialize(bytes));
      }
    }
    const client = {
      channelPool: { acquire: () => Promise.resolve(new Grpc()), release: () => undefined },
      timeout: 0,
    } as unknown as MilvusClient;
    const ours = await queryRows(client, { collection_name: 'c', filter: '', output_fields: ['*'] });
    const grpc = {
      Query: (_p: unknown, ...rest: unknown[]) => (rest.at(-1) as (e: unknown, r: unknown) => void)(null, query.responseDeserialize(bytes)),
    };
    const stand = { channelPool: { acquire: () => Promise.resolve(grpc), release: () => undefined }, timeout: 0 };
    const sdkQuery = (
      MilvusClient.prototype as unknown as Record<string, (...a: unknown[]) => Promise<{ data: Record<string, unknown>[] }>>
    )._query;
    const theirs = await sdkQuery?.call(stand, { collection_name: 'c', filter: '', output_fields: ['*'] });
    const plain = (rows: Record<string, unknown>[] | undefined): unknown =>
      rows?.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Float32Array ? Array.from(v) : v])));
    expect(plain(ours.data)).toEqual(plain(theirs?.data));
    expect(ours.data[1]?.v).toBeInstanceOf(Float32Array);
  });

  it('a truncated, malformed or duplicated answer is left whole to the decoder; a cut that stays well formed decodes as before', () => {
    const bytes = encoded();
    // Each cut is a view of a longer buffer: reading past its end would see the bytes after it.
    const longer = Buffer.concat([bytes, bytes]);
    let lifted = 0;
    for (let cut = 1; cut < bytes.length; cut++) {
      const input = longer.subarray(0, cut);
      const { rest, vectors } = liftFloatVectors(input);
      if (vectors.size === 0) {
        expect(rest.equals(input)).toBe(true);
        continue;
      }
      lifted++;
      const whole = query.responseDeserialize(input) as {
        fields_data: { field_name: string; vectors?: { float_vector?: { data: number[] } } }[];
      };
      const v = whole.fields_data.find((f) => f.field_name === 'v');
      expect(flat(vectors.get('v'))).toEqual(v?.vectors?.float_vector?.data);
      (v?.vectors?.float_vector as { data: number[] }).data = [];
      expect(query.responseDeserialize(rest)).toEqual(whole);
    }
    expect(lifted).toBeGreaterThan(0);
    expect(liftFloatVectors(Buffer.from([0xff, 0xff, 0xff])).vectors.size).toBe(0);
    expect(liftFloatVectors(Buffer.from([0x12, 0x7f, 0x01])).vectors.size).toBe(0);
    const twice = Buffer.concat([bytes, bytes]); // every column twice: a name twice
    expect(liftFloatVectors(twice).rest).toBe(twice);
  });
});

describe('milvus write refusals', () => {
  it('a vector column the collection has no field for is SCHEMA_MISMATCH before anything is sent', async () => {
    const fields = FIELDS.map((f) => ({ element_type: 'None', ...f }));
    let sent = 0;
    const client = {
      describeCollection: () =>
        Promise.resolve({ status: { error_code: 'Success', code: 0 }, properties: [], schema: { fields, enable_dynamic_field: true } }),
      channelPool: { acquire: () => ((sent += 1), Promise.reject(new Error('nothing may be sent'))), release: () => undefined },
    };
    const ctx = {
      client,
      options: { writeBatchBytes: 1 << 20 },
      logger: console,
      server: () => Promise.resolve(milvusServerInfo('v2.5.4')),
    } as unknown as MilvusContext;
    const writer = new MilvusWriter(ctx);
    const cols = { ...columns(1), extra: { dims: 4, data: new Float32Array(4) } };
    const batch = { length: 1, ids: BigInt64Array.from([1n]), vectors: cols, payloads: [{ title: 'a', ok: true, n: 1, tags: [] }] };
    const err = await expectError(writer.write('c', batch, { mode: 'insert' }), 'SCHEMA_MISMATCH');
    expect(err.message).toContain('"extra" has no vector field');
    expect(sent).toBe(0);
  });
});
