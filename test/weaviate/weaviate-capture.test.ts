/**
 * Weaviate change capture by modification time (`_lastUpdateTimeUnix`, classes with
 * `invertedIndexConfig.indexTimestamps`) against a real Weaviate: a chain over inserts, vector-only
 * and payload-only updates, deletes, a re-insert and an empty link, each link restored and compared
 * with the state kept aside; the default skew's re-reads; the fallback to a fingerprint diff; and
 * classes created with timestamps on restore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WeaviateAdapter, weaviateAdapter } from '../../adapters/weaviate/index.js';
import { sleep } from '../../src/async.js';
import type { VectordrError } from '../../src/errors.js';
import { idToUuid } from '../../src/id-mapping.js';
import type { Checkpoint, CollectionSchema, VectorRecord } from '../../src/model.js';
import { recordAt } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { memoryRepository } from '../helpers/repository.js';
import { weaviateRest } from '../helpers/weaviate.js';

const url = process.env.WEAVIATE_URL;
const grpcAddress = process.env.WEAVIATE_GRPC;
const hasWeaviate = engineAvailable('weaviate', url !== undefined && grpcAddress !== undefined);

const DIMS = 8;
const className = (n: string): string => `${n.charAt(0).toUpperCase()}${n.slice(1)}`;

const rest = weaviateRest;

/** Every record the collection holds, by a scan, in id order. */
async function stateOf(a: WeaviateAdapter, collection: string): Promise<VectorRecord[]> {
  const s = await a.scan(collection, { batchSize: 500 });
  const out: VectorRecord[] = [];
  try {
    for await (const b of s.batches()) for (let i = 0; i < b.length; i++) out.push(recordAt(b, i));
  } finally {
    await s.close();
  }
  return out.sort((x, y) => (String(x.id) < String(y.id) ? -1 : String(x.id) > String(y.id) ? 1 : 0));
}

function vectorBytes(r: VectorRecord | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(r?.vectors ?? {}).map(([k, v]) => [
      k,
      v ? Buffer.from((v as Float32Array).buffer, (v as Float32Array).byteOffset, (v as Float32Array).byteLength).toString('hex') : 'null',
    ]),
  );
}

describe.runIf(hasWeaviate)('weaviate change capture by modification time', () => {
  // Skew 0 on the single test node, and a pause past the next whole second before each link (the
  // node clock comes from the Date header, whole seconds): link counts are then exact.
  let a: WeaviateAdapter;
  let skewed: WeaviateAdapter;
  let repo: Repository;
  const { name, created } = createdNames();

  beforeAll(async () => {
    a = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, captureSkewMs: 0 });
    skewed = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string });
    repo = await memoryRepository();
  });
  afterAll(async () => {
    for (const c of created) await a.drop(c).catch(() => undefined);
    await a.close();
    await skewed.close();
  });

  describe('a chain of timestamp links', () => {
    const n = name('ts_chain');
    const schema = testSchema(n, DIMS);
    const records = makeRecords(300, DIMS, 16);
    const states: { id: string; rows: VectorRecord[] }[] = [];
    const write = (rs: VectorRecord[]): Promise<void> => a.write(n, makeBatch(schema, rs), { mode: 'upsert' });

    it('a class vectordr creates indexes timestamps, so it plans timestamp capture; the full snapshot starts the feed', async () => {
      await a.create(schema, { indexes: 'now' });
      await write(records);
      expect(await a.planCapture(n)).toEqual({ mode: 'timestamp' });
      expect(a.capabilities.changeCapture).toBe('timestamp');
      await sleep(1100); // the writes are now before the whole second the full snapshot starts at
      const r = await repo.snapshot(a, n, { incremental: true });
      expect(r.kind).toBe('full');
      expect(r.manifest.checkpoint).toMatchObject({ engine: 'weaviate', kind: 'weaviate-time', value: { skewMs: 0, clock: 'server' } });
      const since = r.manifest.checkpoint?.value.since as number;
      expect(Math.abs(since - Date.now())).toBeLessThan(60_000);
      expect(since % 1000).toBe(0); // the Date header: whole seconds
      states.push({ id: r.manifest.id, rows: await stateOf(a, n) });
    });

    it('each link holds what changed: inserts, vector-only and payload-only updates, deletes, a re-insert, nothing', async () => {
      const rec = (id: number): VectorRecord => records[id - 1] as VectorRecord;
      const steps: [string, () => Promise<void>, number, number][] = [
        ['insert', () => write(makeRecords(2, DIMS, 99, 301n)), 2, 0],
        ['vector only', () => write([{ ...rec(7), vectors: { embedding: new Float32Array(DIMS).fill(0.25) } }]), 1, 0],
        ['payload only', () => write([8, 9, 10].map((i) => ({ ...rec(i), payload: { ...rec(i).payload, title: 'payload only' } }))), 3, 0],
        ['delete', () => a.delete(n, [11n, 12n, 301n]), 0, 3],
        ['re-insert', () => write([{ ...rec(11), payload: { title: 're-inserted' } }]), 1, 0],
        ['nothing', async () => undefined, 0, 0],
      ];
      let prevSince = (await repo.readManifest(n, states[0]?.id as string)).checkpoint?.value.since as number;
      for (const [what, step, upserts, deletes] of steps) {
        await step();
        await sleep(1100); // past the whole second this link's start is rounded down to
        const r = await repo.snapshot(a, n, { incremental: true });
        expect(r.kind, what).toBe('incremental');
        expect(r.manifest.rows, what).toEqual({ upserts, deletes });
        expect(r.manifest.capture, what).toEqual({ mode: 'timestamp', exact: false });
        expect(r.manifest.parent).toBe(states[states.length - 1]?.id);
        const cp = r.manifest.checkpoint as Checkpoint;
        expect(cp).toMatchObject({ engine: 'weaviate', kind: 'weaviate-time' });
        expect(cp.value.since as number).toBeGreaterThan(prevSince);
        expect(r.manifest.watermark).toBe(new Date(cp.value.since as number).toISOString()); // since − skew (0)
        prevSince = cp.value.since as number;
        states.push({ id: r.manifest.id, rows: await stateOf(a, n) });
      }
      expect((await repo.readManifest(n, 'latest')).depth).toBe(steps.length);
    });

    it('restores every link to exactly the state kept aside (by id and by date), with parity', async () => {
      for (const [i, s] of states.entries()) {
        const target = name(`ts_pitr${i}`);
        const r = await repo.restore(a, { collection: n, snapshot: s.id, target });
        expect(r.rows).toBe(s.rows.length);
        const back = await stateOf(a, target);
        expect(back).toEqual(s.rows);
        expect(back.map(vectorBytes)).toEqual(s.rows.map(vectorBytes));
        expect((await repo.verifyParity(a, { collection: n, snapshot: s.id, live: target })).ok).toBe(true);
      }
      const m = await repo.readManifest(n, states[3]?.id as string);
      const target = name('ts_at');
      await repo.restore(a, { collection: n, at: new Date(Date.parse(m.watermark as string) + 1), target });
      expect(await stateOf(a, target)).toEqual(states[3]?.rows);
      expect((await repo.verifyParity(a, { collection: n, snapshot: 'latest' })).ok).toBe(true);
    });

    it('with the default skew (5 s) a link re-reads objects updated within it before the parent started and drops the unchanged ones; the state stays exact', async () => {
      const before = await repo.readManifest(n, 'latest');
      await write([{ ...(records[20] as VectorRecord), payload: { title: 'inside the skew' } }]);
      const r1 = await repo.snapshot(skewed, n, { incremental: true });
      // The object, and any written less than 5 s before the parent started (the re-insert above).
      expect(r1.manifest.rows.upserts).toBeGreaterThanOrEqual(1);
      expect(r1.manifest.rows.deletes).toBe(0);
      // No change since r1: the object written less than 5 s before r1 started is read again, and dropped (same digest).
      const r2 = await repo.snapshot(skewed, n, { incremental: true });
      expect(r2.manifest.capture).toEqual({ mode: 'timestamp', exact: false });
      expect(r2.manifest.rows.upserts).toBe(0);
      expect(r2.manifest.rows.deletes).toBe(0);
      expect(r2.manifest.checkpoint?.value.skewMs).toBe(5000);
      expect(r2.manifest.watermark).toBe(new Date((r2.manifest.checkpoint?.value.since as number) - 5000).toISOString());
      expect(r2.manifest.digest).toEqual(r1.manifest.digest);
      expect(before.id).toBe(r1.manifest.parent);
      const target = name('ts_skew');
      await repo.restore(a, { collection: n, snapshot: r2.manifest.id, target });
      expect(await stateOf(a, target)).toEqual(await stateOf(a, n));
    });
  });

  it('changes() renders an object exactly like the scan (vectors bit for bit, dates to the microsecond), and ids() lists every uuid', async () => {
    const n = name('ts_native');
    const cls = className(n);
    const made = await rest('POST', '/v1/schema', {
      class: cls,
      properties: [
        { name: 'title', dataType: ['text'] },
        { name: 'published', dataType: ['date'] },
        { name: 'rating', dataType: ['number'] },
      ],
      vectorConfig: {
        a: { vectorizer: { none: {} }, vectorIndexType: 'flat', vectorIndexConfig: { distance: 'l2-squared' } },
        b: { vectorizer: { none: {} }, vectorIndexType: 'hnsw' },
      },
      invertedIndexConfig: { indexTimestamps: true },
    });
    expect(made.status, JSON.stringify(made.json)).toBe(200);
    const uuids = Array.from({ length: 25 }, (_, i) => idToUuid(`o${i}`, 'string'));
    for (const [i, id] of uuids.entries()) {
      const r = await rest('POST', '/v1/objects', {
        class: cls,
        id,
        properties: { title: `t${i}`, published: `2025-01-0${(i % 9) + 1}T01:02:03.${String(100001 + i)}Z`, rating: i / 7 },
        vectors: { a: [Math.fround(i / 3), -0.1, 1e-7], b: [i, Math.PI, Math.E, -i] },
      });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
    }
    const from: Checkpoint = {
      engine: 'weaviate',
      kind: 'weaviate-time',
      value: { since: 0, skewMs: 0 },
      takenAt: new Date(0).toISOString(),
    };
    const s = await a.captureChanges(n, from, { captureId: 'test' });
    const changed: VectorRecord[] = [];
    for await (const batch of s.changes()) for (const c of batch) if (c.op === 'upsert') changed.push(c.record);
    const ids: string[] = [];
    for await (const batch of s.ids?.() ?? []) ids.push(...(batch as string[]));
    const { checkpoint, watermark } = s.end();
    await s.commit(checkpoint);
    await s.close();
    expect(s.capture).toEqual({ mode: 'timestamp', exact: false });
    expect(checkpoint).toMatchObject({ kind: 'weaviate-time', value: { skewMs: 0 } });
    expect(watermark).toBe(checkpoint.takenAt);
    expect(ids.sort()).toEqual([...uuids].sort());
    const scanned = await stateOf(a, n);
    changed.sort((x, y) => (String(x.id) < String(y.id) ? -1 : 1));
    expect(changed).toEqual(scanned);
    expect(changed.map(vectorBytes)).toEqual(scanned.map(vectorBytes));
    expect(changed.find((r) => r.id === uuids[3])?.payload.published).toBe('2025-01-04T01:02:03.100004Z');
    expect(await a.fetch(n, [uuids[3] as string])).toEqual([changed.find((r) => r.id === uuids[3])]);

    // Only objects updated at or after `since` (a page smaller than the changes: keyset paging over equal times).
    const paged = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, captureSkewMs: 0, scanPageRows: 4 });
    try {
      await sleep(1100); // the writes above are now before the whole second `all` starts at
      const all = await paged.captureChanges(n, from, { captureId: 'test' });
      let count = 0;
      for await (const batch of all.changes()) count += batch.length;
      expect(count).toBe(25);
      await sleep(1100);
      const later = await paged.captureChanges(n, all.end().checkpoint, { captureId: 'test' });
      await rest('PATCH', `/v1/objects/${cls}/${uuids[5]}`, { class: cls, properties: { title: 'patched' } });
      const got: VectorRecord[] = [];
      for await (const batch of later.changes()) for (const c of batch) if (c.op === 'upsert') got.push(c.record);
      expect(got.map((r) => [r.id, r.payload.title])).toEqual([[uuids[5], 'patched']]);
    } finally {
      await paged.close();
    }
  });

  it('a class without indexTimestamps plans a fingerprint diff, and its links say why', async () => {
    const plain = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, indexTimestamps: false });
    try {
      const n = name('ts_none');
      const schema = testSchema(n, DIMS);
      await plain.create(schema, { indexes: 'now' });
      await plain.write(n, makeBatch(schema, makeRecords(50, DIMS, 3)), { mode: 'upsert' });
      // A write returns with its batches in flight; `a`, another connection, does not wait for
      // them: count through `plain` settles them (else the full snapshot could miss some).
      expect(await plain.count(n)).toBe(50);
      const cls = (await rest('GET', `/v1/schema/${className(n)}`)).json;
      expect((cls.invertedIndexConfig as Record<string, unknown>).indexTimestamps).toBeUndefined();
      const plan = await a.planCapture(n);
      expect(plan.mode).toBe('digest');
      expect(plan.reason).toMatch(/does not index timestamps; create it with invertedIndexConfig\.indexTimestamps/);
      const full = await repo.snapshot(a, n, { incremental: true });
      await plain.write(n, makeBatch(schema, makeRecords(1, DIMS, 4, 1000n)), { mode: 'upsert' });
      expect(await plain.count(n)).toBe(51);
      const link = await repo.snapshot(a, n, { incremental: true });
      expect(link.kind).toBe('incremental');
      expect(link.manifest.capture).toEqual({ mode: 'fingerprint-diff', exact: false, reason: plan.reason });
      expect(link.manifest.rows).toEqual({ upserts: 1, deletes: 0 });
      expect(link.manifest.checkpoint).toMatchObject({ engine: 'weaviate', kind: 'weaviate-time' }); // the scan's: a feed can continue from it
      // Asked directly, the feed refuses with CHAIN_BROKEN / no-feed (the core then diffs fingerprints).
      const err = (await expectError(
        a.captureChanges(n, full.manifest.checkpoint as Checkpoint, { captureId: 'x' }),
        'CHAIN_BROKEN',
      )) as VectordrError;
      expect(err.details.reason).toBe('no-feed');
      expect(err.message).toMatch(/does not index timestamps/);
    } finally {
      await plain.close();
    }
  });

  it('a checkpoint of another kind is refused with CHAIN_BROKEN / no-feed', async () => {
    const n = name('ts_kind');
    await a.create(testSchema(n, DIMS), { indexes: 'now' });
    const other: Checkpoint = { engine: 'pgvector', kind: 'lsn', value: { lsn: '0/16B3748' }, takenAt: new Date().toISOString() };
    const err = (await expectError(a.captureChanges(n, other, { captureId: 'x' }), 'CHAIN_BROKEN')) as VectordrError;
    expect(err.details).toMatchObject({ reason: 'no-feed', collection: n });
    const old: Checkpoint = { engine: 'weaviate', kind: 'scan-start', value: { unixMs: 1 }, takenAt: new Date().toISOString() };
    expect(((await expectError(a.captureChanges(n, old, { captureId: 'x' }), 'CHAIN_BROKEN')) as VectordrError).details.reason).toBe(
      'no-feed',
    );
  });

  it('restores create classes with timestamps indexed, keeping the other recorded inverted-index settings; an explicit false and the option off are kept', async () => {
    const n = name('ts_src');
    const cls = className(n);
    const made = await rest('POST', '/v1/schema', {
      class: cls,
      properties: [{ name: 'title', dataType: ['text'] }],
      vectorConfig: { v: { vectorizer: { none: {} }, vectorIndexType: 'flat' } },
      invertedIndexConfig: { bm25: { b: 0.5, k1: 1.5 }, cleanupIntervalSeconds: 30, indexNullState: true },
    });
    expect(made.status, JSON.stringify(made.json)).toBe(200);
    await rest('POST', '/v1/objects', { class: cls, id: idToUuid('x', 'string'), properties: { title: 'x' }, vectors: { v: [1, 2, 3] } });
    const { manifest } = await repo.snapshot(a, n);
    const recorded = { bm25: { b: 0.5, k1: 1.5 }, cleanupIntervalSeconds: 30, indexNullState: true };

    const on = name('ts_on');
    await repo.restore(a, { collection: n, snapshot: manifest.id, target: on });
    expect((await rest('GET', `/v1/schema/${className(on)}`)).json.invertedIndexConfig).toMatchObject({
      ...recorded,
      indexTimestamps: true,
    });
    expect((await a.planCapture(on)).mode).toBe('timestamp');

    const plain = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string, indexTimestamps: false });
    try {
      const off = name('ts_off');
      await repo.restore(plain, { collection: n, snapshot: manifest.id, target: off });
      const config = (await rest('GET', `/v1/schema/${className(off)}`)).json.invertedIndexConfig as Record<string, unknown>;
      expect(config).toMatchObject(recorded);
      expect(config.indexTimestamps).toBeUndefined();
    } finally {
      await plain.close();
    }

    const explicit = name('ts_explicit');
    const schema: CollectionSchema = { ...testSchema(explicit, DIMS), native: { invertedIndexConfig: { indexTimestamps: false } } };
    await a.create(schema, { indexes: 'now' });
    expect(
      ((await rest('GET', `/v1/schema/${className(explicit)}`)).json.invertedIndexConfig as Record<string, unknown>).indexTimestamps,
    ).toBeUndefined();
  });
});
