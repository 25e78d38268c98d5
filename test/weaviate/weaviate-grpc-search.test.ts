/**
 * vectordr's own scan page codec against weaviate-client's generated protobuf code and its
 * deserializer: the request is the bytes the client sends for the same fetchObjects; every answer the
 * decoder reads, it reads to the values the client produces (vectors as float32, exactly); every
 * answer it does not read (a kind it leaves to the client, a malformed message) it says so, and never
 * throws or returns a partial page.
 */
import { describe, expect, it } from 'vitest';
import { decodeScanPage, encodeScanPage, type ScanPageObject } from '../../adapters/weaviate/weaviate-grpc-search.js';
import { decodeBatchReply } from '../../adapters/weaviate/weaviate-grpc-batch.js';
import { SearchReply, SearchRequest, SearchResult } from '../../node_modules/weaviate-client/dist/node/esm/proto/v1/search_get.js';
import { ProtobufWriter } from '../../src/wire/protobuf-writer.js';
import { BatchObjectsReply } from '../../node_modules/weaviate-client/dist/node/esm/proto/v1/batch.js';
import { Vectors_VectorType } from '../../node_modules/weaviate-client/dist/node/esm/proto/v1/base.js';
import { Deserialize } from '../../node_modules/weaviate-client/dist/node/esm/collections/deserialize/index.js';
import { Serialize } from '../../node_modules/weaviate-client/dist/node/esm/collections/serialize/index.js';

/** The bytes weaviate-client sends for `fetchObjects(opts)` on collection `c` (grpc/searcher.js). */
function clientRequest(c: string, opts: Record<string, unknown>): Uint8Array {
  const msg = SearchRequest.fromPartial({
    ...(Serialize.search.fetchObjects(opts) as object),
    collection: c,
    uses123Api: true,
    uses125Api: true,
    uses127Api: true,
  });
  return SearchRequest.encode(msg).finish();
}

const f32 = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);
const f64 = (xs: number[]): Uint8Array => new Uint8Array(Float64Array.from(xs).buffer);
const i64 = (xs: bigint[]): Uint8Array => new Uint8Array(BigInt64Array.from(xs).buffer);
function multi(dims: number, vs: number[][]): Uint8Array {
  const out = new Uint8Array(2 + vs.length * dims * 4);
  new DataView(out.buffer).setUint16(0, dims, true);
  out.set(f32(vs.flat()), 2);
  return out;
}

/** What the client makes of `reply`, in the shape the scan reads (uuid, properties, vectors). */
async function clientObjects(
  reply: Uint8Array,
): Promise<{ uuid: string; properties: Record<string, unknown>; vectors: Record<string, unknown> }[]> {
  const d = await Deserialize.use(undefined as never);
  const res = (await d.query(SearchReply.decode(reply))) as {
    objects: { uuid: string; properties: Record<string, unknown>; vectors: Record<string, unknown> }[];
  };
  return res.objects.map((o) => ({ uuid: o.uuid, properties: o.properties, vectors: o.vectors }));
}

/** Ours in the client's shape: Float32Array vectors as number[] (compared exactly, -0 included). */
function asClient(objs: ScanPageObject[]): { uuid: string; properties: Record<string, unknown>; vectors: Record<string, unknown> }[] {
  return objs.map((o) => ({
    uuid: o.uuid,
    properties: { ...o.properties },
    vectors: Object.fromEntries(Object.entries(o.vectors).map(([k, v]) => [k, v instanceof Float32Array ? Array.from(v) : v])),
  }));
}

type Fields = Record<string, Record<string, unknown>>;
function result(id: string, fields: Fields, metadata: Record<string, unknown>): Record<string, unknown> {
  return { properties: { nonRefProps: { fields }, refProps: [], refPropsRequested: false }, metadata: { id, ...metadata } };
}
const encodeReply = (results: Record<string, unknown>[]): Uint8Array =>
  SearchReply.encode(SearchReply.fromPartial({ took: 1.5, results } as never)).finish();

const U1 = '0b1c6c8e-9a3b-4f9b-8a51-0a7d6c0f2e11';
const U2 = '0b1c6c8e-9a3b-4f9b-8a51-0a7d6c0f2e12';

describe('Weaviate scan page: request', () => {
  it.each([
    ['named vectors, after', { after: U1, limit: 2000, includeVector: ['a', 'b'], returnProperties: ['vdr_id', 'title', 'tags'] }],
    ['first page', { limit: 7, includeVector: ['v'], returnProperties: ['x'] }],
    ['legacy vector, no properties', { limit: 10_000, includeVector: true, returnProperties: [] }],
  ])('is the bytes weaviate-client sends (%s)', (_, opts) => {
    const o = opts as { after?: string; limit: number; includeVector: string[] | true; returnProperties: string[] };
    const ours = encodeScanPage({
      collection: 'Docs_1',
      after: o.after,
      limit: o.limit,
      properties: o.returnProperties,
      vectors: o.includeVector === true ? 'legacy' : o.includeVector,
    });
    expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(clientRequest('Docs_1', o)).toString('hex'));
  });
});

describe('Weaviate scan page: answer', () => {
  it('reads every value kind of a scan to what the client reads, vectors exactly', async () => {
    const v1 = [0.1, -0, 3e-38, Math.fround(1 / 3), -2.5, 1e-45];
    const reply = encodeReply([
      result(
        U1,
        {
          vdr_id: { textValue: '42' },
          title: { textValue: 'héllo "q" ✓ 𝄞' },
          ref: { uuidValue: U2 },
          n: { intValue: -9007199254740991 },
          score: { numberValue: -0.1 },
          ok: { boolValue: false },
          gone: { nullValue: 0 },
          tags: { listValue: { textValues: { values: ['a', '', 'ü'] } } },
          ids: { listValue: { uuidValues: { values: [U1, U2] } } },
          counts: { listValue: { intValues: { values: i64([0n, -1n, 9007199254740991n]) } } },
          ratios: { listValue: { numberValues: { values: f64([1.5, -0, Number.MIN_VALUE]) } } },
          flags: { listValue: { boolValues: { values: [true, false, true] } } },
          none: { listValue: { textValues: { values: [] } } },
        },
        {
          vectors: [
            { name: 'a', index: 0, vectorBytes: f32(v1), type: Vectors_VectorType.VECTOR_TYPE_SINGLE_FP32 },
            {
              name: 'm',
              index: 0,
              vectorBytes: multi(2, [
                [1, 2],
                [3, -0],
              ]),
              type: Vectors_VectorType.VECTOR_TYPE_MULTI_FP32,
            },
            { name: 'empty', index: 0, vectorBytes: new Uint8Array(0), type: Vectors_VectorType.VECTOR_TYPE_SINGLE_FP32 },
          ],
        },
      ),
      result(U2, { vdr_id: { textValue: '43' } }, { vectorBytes: f32([7, 8, 9]) }),
    ]);
    const ours = decodeScanPage(reply);
    if (!('objects' in ours)) throw new Error(ours.unsupported);
    expect(ours.objects[0]?.vectors.a).toBeInstanceOf(Float32Array);
    expect(Object.is((ours.objects[0]?.vectors.a as Float32Array)[1], -0)).toBe(true);
    expect(asClient(ours.objects)).toStrictEqual(await clientObjects(reply));
    // The unnamed vector is the object's only one, under 'default', as the client reads it.
    expect(Array.from(ours.objects[1]?.vectors.default as Float32Array)).toEqual([7, 8, 9]);
  });

  it('reads an empty answer and an answer with fields it does not use', async () => {
    const empty = encodeReply([]);
    expect(decodeScanPage(empty)).toEqual({ objects: [] });
    const extra = SearchReply.encode(
      SearchReply.fromPartial({ took: 2, results: [result(U1, {}, { creationTimeUnix: 5, creationTimeUnixPresent: true })] } as never),
    ).finish();
    const ours = decodeScanPage(extra);
    if (!('objects' in ours)) throw new Error(ours.unsupported);
    expect(asClient(ours.objects)).toStrictEqual(await clientObjects(extra));
  });

  it.each([
    ['a date (read over REST)', { d: { dateValue: '2024-01-01T00:00:00Z' } }],
    ['an object', { o: { objectValue: { fields: { x: { textValue: 'y' } } } } }],
    ['a geo coordinate', { g: { geoValue: { latitude: 1, longitude: 2 } } }],
    ['a blob', { b: { blobValue: 'AAE=' } }],
    ['a list of dates', { d: { listValue: { dateValues: { values: ['2024-01-01T00:00:00Z'] } } } }],
    ['a list of objects', { o: { listValue: { objectValues: { values: [] } } } }],
    ['an int beyond 2^53', { n: { intValue: 2 ** 53 + 2 } }],
    ['a list int beyond 2^53', { n: { listValue: { intValues: { values: i64([9007199254740993n]) } } } }],
    ['an empty value', { e: {} }],
    ['an empty list', { e: { listValue: {} } }],
  ])('leaves a page holding %s to the client', (_, fields) => {
    const reply = encodeReply([result(U1, fields as Fields, {})]);
    expect(decodeScanPage(reply)).toHaveProperty('unsupported');
  });

  it('leaves malformed vectors and objects without a uuid to the client', () => {
    const bad = [
      result(U1, {}, { vectors: [{ name: 'a', index: 0, vectorBytes: new Uint8Array(6), type: 1 }] }),
      result(U1, {}, { vectors: [{ name: 'm', index: 0, vectorBytes: multi(3, [[1, 2, 3]]).subarray(0, 9), type: 2 }] }),
      result(U1, {}, { vectors: [{ name: 'm', index: 0, vectorBytes: new Uint8Array([0, 0, 1, 2, 3, 4]), type: 2 }] }),
      result(U1, {}, { vectors: [{ name: 'x', index: 0, vectorBytes: f32([1]), type: 7 }] }),
      result('', {}, {}),
    ];
    for (const b of bad) expect(decodeScanPage(encodeReply([b]))).toHaveProperty('unsupported');
  });

  it('leaves to the client what protobuf.js reads otherwise: a message field twice, a bool beyond 1, field number 0', () => {
    const one = (fields: Fields, metadata: Record<string, unknown>): Uint8Array =>
      SearchResult.encode(SearchResult.fromPartial(result(U1, fields, metadata) as never)).finish();
    const reply = (...results: Uint8Array[]): Uint8Array => {
      const w = new ProtobufWriter();
      for (const r of results) w.bytes(2, r);
      return w.finish();
    };
    const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
    // Two metadata messages in one result: the client keeps the second alone, protobuf would merge.
    const twice = concat(one({}, { vectors: [{ name: 'a', index: 0, vectorBytes: f32([1, 2]), type: 1 }] }), one({}, {}));
    expect(decodeScanPage(reply(one({}, {})))).toHaveProperty('objects');
    expect(decodeScanPage(reply(twice))).toHaveProperty('unsupported');
    // A bool encoded as 2 (protobuf.js reads the low 32 bits of a bool varint).
    const entry = new ProtobufWriter()
      .string(1, 'ok')
      .bytes(2, Uint8Array.from([0x18, 0x02]))
      .finish();
    const props = new ProtobufWriter().bytes(1, entry).finish();
    const withBool = new ProtobufWriter()
      .bytes(1, new ProtobufWriter().bytes(11, props).finish())
      .bytes(2, new ProtobufWriter().string(1, U1).finish())
      .finish();
    expect(decodeScanPage(reply(withBool))).toHaveProperty('unsupported');
    // Field number 0 inside the metadata (protobuf.js stops reading the message there).
    const zero = new ProtobufWriter().bytes(2, concat(new ProtobufWriter().string(1, U1).finish(), Uint8Array.from([0x00, 0x00]))).finish();
    expect(decodeScanPage(reply(zero))).toHaveProperty('unsupported');
  });

  it('never throws or returns a partial page on a truncated or corrupted answer', () => {
    const reply = encodeReply([
      result(
        U1,
        { t: { textValue: 'abc' }, l: { listValue: { numberValues: { values: f64([1, 2]) } } } },
        { vectors: [{ name: 'a', index: 0, vectorBytes: f32([1, 2, 3]), type: 1 }] },
      ),
      result(U2, { t: { textValue: 'def' } }, { vectors: [{ name: 'a', index: 0, vectorBytes: f32([4, 5, 6]), type: 1 }] }),
    ]);
    const full = decodeScanPage(reply);
    expect(full).toHaveProperty('objects');
    for (let n = 1; n < reply.length; n++) {
      const out = decodeScanPage(reply.subarray(0, n));
      // A cut at a result boundary is a shorter, well-formed page; anywhere else is refused.
      if ('objects' in out) expect(out.objects.length).toBeLessThan(2);
    }
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const copy = Uint8Array.from(reply);
      seed = (seed * 1103515245 + 12345) >>> 0;
      const at = seed % copy.length;
      copy[at] = (copy[at] as number) ^ (1 + ((seed >>> 24) % 255));
      expect(() => decodeScanPage(copy)).not.toThrow();
    }
  });
});

describe('Weaviate BatchObjects reply', () => {
  it('reads the per-object errors the client encodes, and refuses a malformed reply with a typed error', () => {
    const bytes = BatchObjectsReply.encode(
      BatchObjectsReply.fromPartial({
        took: 1,
        errors: [
          { index: 3, error: 'bad ✓' },
          { index: 0, error: '' },
        ],
      } as never),
    ).finish();
    expect(decodeBatchReply(bytes)).toEqual([
      { index: 3, error: 'bad ✓' },
      { index: 0, error: '' },
    ]);
    for (let n = 1; n < bytes.length; n++) {
      try {
        decodeBatchReply(bytes.subarray(0, n));
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ENGINE_ERROR');
      }
    }
    expect(() => decodeBatchReply(Uint8Array.from([0x12, 0x80]))).toThrow(/Unreadable BatchObjects reply/);
  });
});
