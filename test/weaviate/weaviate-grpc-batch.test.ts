/**
 * vectordr's own BatchObjects encoder against weaviate-client's generated protobuf code: what we
 * encode, the client's decoder reads back as the message the client itself would send.
 */
import { describe, expect, it } from 'vitest';
import { decodeBatchReply, encodeBatchObjects, batchPropertyOf, type BatchProperty } from '../../adapters/weaviate/weaviate-grpc-batch.js';
import { BatchObjectsReply, BatchObjectsRequest } from '../../node_modules/weaviate-client/dist/node/esm/proto/v1/batch.js';
import { Vectors_VectorType } from '../../node_modules/weaviate-client/dist/node/esm/proto/v1/base.js';
import { Deserialize } from '../../node_modules/weaviate-client/dist/node/esm/collections/deserialize/index.js';
import { Serialize } from '../../node_modules/weaviate-client/dist/node/esm/collections/serialize/index.js';

const props = new Map<string, BatchProperty>(
  [
    ['title', 'text'],
    ['n', 'int'],
    ['score', 'number'],
    ['ok', 'boolean'],
    ['at', 'date'],
    ['ref', 'uuid'],
    ['raw', 'blob'],
    ['tags', 'text[]'],
    ['counts', 'int[]'],
    ['ratios', 'number[]'],
    ['flags', 'boolean[]'],
    ['days', 'date[]'],
    ['none', 'text[]'],
  ].map(([n, t]) => [n as string, batchPropertyOf(n as string, t as string) as BatchProperty]),
);

describe('Weaviate BatchObjects encoder', () => {
  it('decodes with the client generated code to the same objects, vectors and properties', () => {
    const v1 = Float32Array.from([0.1, -2.5, 3e-7, Math.fround(1 / 3)]);
    const v2 = Float32Array.from([1, 2]);
    const bytes = encodeBatchObjects(
      'Docs',
      [
        {
          uuid: '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c',
          properties: {
            title: 'héllo "q" ✓',
            n: -9007199254740991,
            score: 0.1,
            ok: false,
            at: '2024-01-01T00:00:00.123456Z',
            ref: '7f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c',
            raw: 'AAEC',
            tags: ['a', ''],
            counts: [0, -1, 9007199254740991],
            ratios: [0.5, -1e300],
            flags: [true, false],
            days: ['2024-02-29T00:00:00Z'],
            none: [],
          },
          vectors: { content: v1, title_vec: v2 },
        },
        { uuid: '00000000-0000-0000-0000-000000000001', properties: {}, vectors: { content: v1 } },
      ],
      props,
      undefined,
    );
    const req = BatchObjectsRequest.decode(bytes);
    expect(req.objects).toHaveLength(2);
    const [o] = req.objects;
    expect(o?.uuid).toBe('6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c');
    expect(o?.collection).toBe('Docs');
    expect(o?.properties?.nonRefProperties).toEqual({
      title: 'héllo "q" ✓',
      n: -9007199254740991,
      score: 0.1,
      ok: false,
      at: '2024-01-01T00:00:00.123456Z',
      ref: '7f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c',
      raw: 'AAEC',
    });
    expect(o?.properties?.textArrayProperties).toEqual([
      { propName: 'tags', values: ['a', ''] },
      { propName: 'days', values: ['2024-02-29T00:00:00Z'] },
    ]);
    expect(o?.properties?.intArrayProperties.map((p) => [p.propName, p.values.map(Number)])).toEqual([
      ['counts', [0, -1, 9007199254740991]],
    ]);
    const ratios = o?.properties?.numberArrayProperties[0];
    expect(ratios?.propName).toBe('ratios');
    expect(Array.from(new Float64Array(Uint8Array.from(ratios?.valuesBytes ?? []).buffer))).toEqual([0.5, -1e300]);
    expect(o?.properties?.booleanArrayProperties).toEqual([{ propName: 'flags', values: [true, false] }]);
    expect(o?.properties?.emptyListProps).toEqual(['none']);
    expect(o?.vectors.map((v) => [v.name, v.type, Array.from(new Float32Array(Uint8Array.from(v.vectorBytes).buffer))])).toEqual([
      ['content', 1, Array.from(v1)],
      ['title_vec', 1, Array.from(v2)],
    ]);
    expect(req.objects[1]?.properties?.nonRefProperties).toBeUndefined();
  });

  it('writes lengths of one, two and three bytes (bodies of 127, 128 and 16384 bytes and more) and grows past its size hint', () => {
    const big = Float32Array.from({ length: 5000 }, (_, i) => i / 7);
    const titles = ['x'.repeat(117), 'é'.repeat(64), '✓'.repeat(6000), ''];
    const bytes = encodeBatchObjects(
      'Docs',
      titles.map((title, i) => ({
        uuid: `00000000-0000-0000-0000-00000000000${i}`,
        properties: { title, tags: [title, 'b'] },
        vectors: { content: i === 2 ? big : big.subarray(0, 3) },
      })),
      props,
      undefined,
      16,
    );
    const req = BatchObjectsRequest.decode(bytes);
    expect(req.objects.map((o) => o.properties?.nonRefProperties?.title)).toEqual(titles);
    expect(req.objects.map((o) => o.properties?.textArrayProperties[0]?.values[0])).toEqual(titles);
    expect(Array.from(new Float32Array(Uint8Array.from(req.objects[2]?.vectors[0]?.vectorBytes ?? []).buffer))).toEqual(Array.from(big));
    expect(req.objects[3]?.uuid).toBe('00000000-0000-0000-0000-000000000003');
  });

  it('sends a multi-vector as MULTI_FP32 in the form the client itself encodes and decodes', async () => {
    const rows = [
      [0.25, -1, 3],
      [Math.fround(1 / 3), 0, -0.5],
    ];
    const req = BatchObjectsRequest.decode(
      encodeBatchObjects(
        'Docs',
        [
          {
            uuid: '00000000-0000-0000-0000-000000000004',
            properties: {},
            vectors: { late: { kind: 'multi', dims: 3, data: Float32Array.from(rows.flat()) }, dense: Float32Array.of(1, 2) },
          },
        ],
        props,
        undefined,
      ),
    );
    const [late, dense] = req.objects[0]?.vectors ?? [];
    // The client's own (private) multi-vector byte codecs.
    const client = {
      decode: (Deserialize as unknown as { vectorsFromBytes(b: Uint8Array): Promise<number[][]> }).vectorsFromBytes,
      encode: (Serialize as unknown as { vectorsToBytes(v: number[][]): Promise<Uint8Array> }).vectorsToBytes,
    };
    expect([late?.name, late?.type, dense?.name, dense?.type]).toEqual(['late', Vectors_VectorType.VECTOR_TYPE_MULTI_FP32, 'dense', 1]);
    expect(await client.decode(late?.vectorBytes ?? new Uint8Array())).toEqual(rows);
    expect(Array.from(late?.vectorBytes ?? [])).toEqual(Array.from(await client.encode(rows)));
  });

  it('puts the unnamed vector in vector_bytes', () => {
    const v = Float32Array.from([1.5, 2.5]);
    const req = BatchObjectsRequest.decode(
      encodeBatchObjects(
        'Legacy',
        [{ uuid: '00000000-0000-0000-0000-000000000002', properties: {}, vectors: { default: v } }],
        props,
        'default',
      ),
    );
    expect(Array.from(new Float32Array(Uint8Array.from(req.objects[0]?.vectorBytes ?? []).buffer))).toEqual([1.5, 2.5]);
    expect(req.objects[0]?.vectors).toEqual([]);
  });

  it('reads per-object errors from a reply', () => {
    const reply = BatchObjectsReply.encode(
      BatchObjectsReply.fromPartial({
        took: 0.5,
        errors: [
          { index: 3, error: 'bad ✓' },
          { index: 0, error: 'x' },
        ],
      }),
    ).finish();
    expect(decodeBatchReply(reply)).toEqual([
      { index: 3, error: 'bad ✓' },
      { index: 0, error: 'x' },
    ]);
    expect(decodeBatchReply(BatchObjectsReply.encode(BatchObjectsReply.fromPartial({ took: 1 })).finish())).toEqual([]);
  });

  it('leaves objects, geo coordinates and phone numbers to the client', () => {
    expect(batchPropertyOf('a', 'object')).toBeUndefined();
    expect(batchPropertyOf('a', 'geoCoordinates')).toBeUndefined();
    expect(batchPropertyOf('a', 'phoneNumber')).toBeUndefined();
    expect(batchPropertyOf('a', 'blob[]')).toBeUndefined();
  });
});
