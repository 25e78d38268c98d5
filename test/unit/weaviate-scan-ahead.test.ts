/**
 * The Weaviate scan reads one page ahead: pages come out in order and whole, the page read ahead
 * asks for the one after the last object of the page before it, a failure of the page read ahead
 * surfaces where that page is consumed (never as an unhandled rejection), and a scan closed early
 * asks for nothing more.
 */
import { describe, expect, it } from 'vitest';
import type { WeaviateConnection } from '../../adapters/weaviate/weaviate-connection.js';
import type { Resolved } from '../../adapters/weaviate/weaviate-describe.js';
import { scanSession } from '../../adapters/weaviate/weaviate-scan.js';
import type { CollectionSchema, RecordBatch } from '../../src/model.js';

const schema: CollectionSchema = {
  name: 'docs',
  idField: 'id',
  idType: 'uuid',
  vectors: [{ name: 'v', dims: 2, metric: 'cosine', element: 'float32', nullable: false }],
  payload: [],
  indexes: [],
};
const r: Resolved = {
  className: 'Docs',
  schema,
  vectors: [{ field: schema.vectors[0] as Resolved['vectors'][number]['field'], w: 'v' }],
  legacy: false,
  props: [],
  batchProps: undefined,
  originalIds: false,
};
const uuid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** A connection whose client's fetchObjects serves `total` objects by cursor, failing the page after `failAfter`. */
function fakeConnection(total: number, opts: { failAfter?: string } = {}) {
  const asked: (string | undefined)[] = [];
  const col = {
    query: {
      fetchObjects: (q: { after?: string; limit: number }) => {
        asked.push(q.after);
        if (opts.failAfter !== undefined && q.after === opts.failAfter) return Promise.reject(new Error('UNAVAILABLE: the node went away'));
        const start = q.after === undefined ? 0 : Number(q.after.slice(-12)) + 1;
        const objects = [];
        for (let i = start; i < Math.min(total, start + q.limit); i++)
          objects.push({ uuid: uuid(i), properties: {}, vectors: { v: [i, -i] } });
        return Promise.resolve({ objects });
      },
    },
  };
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const conn = {
    options: { scanPageRows: 3, scanDecoder: 'client' },
    logger,
    collection: () => Promise.resolve(col),
  } as unknown as WeaviateConnection;
  return { conn, asked };
}

const ids = (batches: RecordBatch[]): string[] => batches.flatMap((b) => [...(b.ids as string[])]);

describe('weaviate scan: one page ahead', () => {
  it('yields every object once, in order, asking for each page after the last object of the one before', async () => {
    const { conn, asked } = fakeConnection(8);
    const s = await scanSession(conn, r, { batchSize: 2 }, { kind: 'weaviate-time', value: '0' } as never, 8);
    const out: RecordBatch[] = [];
    for await (const b of s.batches()) out.push(b);
    expect(ids(out)).toEqual(Array.from({ length: 8 }, (_, i) => uuid(i)));
    expect(asked).toEqual([undefined, uuid(2), uuid(5)]);
    expect(out.map((b) => b.length)).toEqual([2, 1, 2, 1, 2]); // batches never span pages
    expect(Array.from((out[4]?.vectors.v as { data: Float32Array }).data)).toEqual([6, -6, 7, -7]);
  });

  it('a failure of the page read ahead surfaces after the page before it, as the error it was', async () => {
    const { conn } = fakeConnection(9, { failAfter: uuid(5) });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const s = await scanSession(conn, r, { batchSize: 3 }, { kind: 'weaviate-time', value: '0' } as never, 9);
      const got: string[] = [];
      const err = await (async () => {
        for await (const b of s.batches()) got.push(...(b.ids as string[]));
      })().catch((e: unknown) => e);
      expect(got).toEqual([0, 1, 2, 3, 4, 5].map(uuid));
      expect(String((err as Error).message)).toMatch(/UNAVAILABLE/);
      await new Promise((res) => setTimeout(res, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a scan closed after its first batch asks for no page beyond the one already read ahead', async () => {
    const { conn, asked } = fakeConnection(100);
    const s = await scanSession(conn, r, { batchSize: 3 }, { kind: 'weaviate-time', value: '0' } as never, 100);
    for await (const b of s.batches()) {
      expect(b.length).toBe(3);
      await s.close();
    }
    expect(asked).toEqual([undefined, uuid(2)]);
  });
});
