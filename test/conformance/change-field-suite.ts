/**
 * Incremental chains from a user-maintained change field (Qdrant, Milvus: the adapter option
 * `changeField`), run by each adapter's test file against its real server: a chain of links over
 * inserts, vector-only and payload-only updates, deletes, a re-insert, an empty link and a late
 * writer inside the lag, each link restored into a new collection and compared with the state kept
 * aside; links rendered exactly like the scan; without the option, fingerprint diffs that say why;
 * a checkpoint the field cannot continue falls back to a fingerprint diff.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
import type { VectordrError } from '../../src/errors.js';
import { canonicalPayload } from '../../src/format/canonical-json.js';
import { type CollectionSchema, type VectorRecord, batchFromRecords, recordAt } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { rng } from '../helpers/data.js';
import { createdNames } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { memoryRepository } from '../helpers/repository.js';

export interface ChangeFieldSuiteOptions {
  name: string;
  engine: 'qdrant' | 'milvus';
  /** An adapter for the server; `changeField` and `changeFieldLagMs` as given (absent: none). */
  adapter(options: { changeField?: string; changeFieldLagMs?: number }): VectorAdapter;
}

const DIMS = 8;

/** A collection with two integer fields an application maintains (`updated_at` in epoch ms, `version`). */
export function changeFieldSchema(name: string): CollectionSchema {
  return {
    name,
    idField: 'id',
    idType: 'int64',
    vectors: [{ name: 'embedding', dims: DIMS, metric: 'l2', element: 'float32', nullable: false }],
    payload: [
      { name: 'title', type: 'string', array: false, nullable: true },
      { name: 'updated_at', type: 'int64', array: false, nullable: false },
      { name: 'version', type: 'int64', array: false, nullable: false },
    ],
    indexes: [
      { kind: 'hnsw', field: 'embedding', metric: 'l2', params: { m: 8, ef_construction: 32 } },
      { kind: 'btree', field: 'updated_at', params: {} },
    ],
  };
}

/** Every record of a collection as sortable text: id, vector bytes, canonical payload. */
export async function dump(adapter: VectorAdapter, collection: string): Promise<string[]> {
  const out: string[] = [];
  const session = await adapter.scan(collection, { batchSize: 500 });
  try {
    for await (const b of session.batches()) for (let i = 0; i < b.length; i++) out.push(recordText(recordAt(b, i)));
  } finally {
    await session.close();
  }
  return out.sort();
}

function recordText(r: VectorRecord): string {
  const vectors = Object.entries(r.vectors).map(
    ([k, v]) =>
      `${k}=${v ? Buffer.from((v as Float32Array).buffer, (v as Float32Array).byteOffset, (v as Float32Array).byteLength).toString('hex') : 'null'}`,
  );
  return `${String(r.id).padStart(20, '0')} ${vectors.join(',')} ${canonicalPayload(r.payload)}`;
}

export function testChangeField(o: ChangeFieldSuiteOptions): void {
  describe(`${o.name}: change field (mode timestamp) and fingerprint diffs`, () => {
    const { name, created } = createdNames();
    let withField: VectorAdapter;
    let plain: VectorAdapter;
    let repo: Repository;
    let collection: string;
    const random = rng(16);
    let clock = 0;
    /** Epoch milliseconds that only grow, like an application's updated_at. */
    const now = (): number => (clock = Math.max(clock + 1, Date.now()));
    let version = 0;
    const record = (id: number, title: string | null, at = now()): VectorRecord => {
      const v = new Float32Array(DIMS);
      for (let d = 0; d < DIMS; d++) v[d] = random() * 2 - 1;
      return { id: BigInt(id), vectors: { embedding: v }, payload: { ...(title ? { title } : {}), updated_at: at, version: ++version } };
    };
    const upsert = async (records: VectorRecord[]): Promise<void> =>
      withField.write(collection, batchFromRecords(changeFieldSchema(collection), records), { mode: 'upsert' });
    const byId = async (id: number): Promise<VectorRecord> => {
      const [r] = await withField.fetch(collection, [BigInt(id)]);
      if (!r) throw new Error(`no record ${id}`);
      return r;
    };
    const states: { id: string; rows: string[] }[] = [];

    beforeAll(async () => {
      withField = o.adapter({ changeField: 'updated_at' });
      plain = o.adapter({});
      repo = await memoryRepository();
      collection = name('cf');
      await withField.create(changeFieldSchema(collection), { indexes: 'now' });
      await upsert(Array.from({ length: 300 }, (_, i) => record(i + 1, `doc ${i + 1}`)));
    });
    afterAll(async () => {
      for (const c of created) await withField.drop(c).catch(() => undefined);
      await withField.close?.();
      await plain.close?.();
    });

    it('plans timestamp where the field is usable, and a fingerprint diff that says why otherwise', async () => {
      expect(withField.capabilities.changeCapture).toBe('timestamp');
      expect(plain.capabilities.changeCapture).toBe('digest');
      expect(await withField.planCapture?.(collection)).toEqual({ mode: 'timestamp' });
      const digest = await plain.planCapture?.(collection);
      expect(digest?.mode).toBe('digest');
      expect(digest?.reason).toMatch(/has no change feed/);
      expect(digest?.reason).toMatch(/vectors included/);
      expect(digest?.reason).toMatch(/changeField/);
      const missing = o.adapter({ changeField: 'nope' });
      const plan = await missing.planCapture?.(collection);
      expect(plan?.mode).toBe('digest');
      expect(plan?.reason).toMatch(/changeField is not usable: .*"nope"/);
      const notInteger = await o.adapter({ changeField: 'title' }).planCapture?.(collection);
      expect(notInteger?.mode).toBe('digest');
    });

    it('starts a chain with a full snapshot whose checkpoint is the field at scan start', async () => {
      const r = await repo.snapshot(withField, collection, { incremental: true, segmentBytes: 64 * 1024 });
      expect(r.kind).toBe('full');
      expect(r.manifest.checkpoint).toMatchObject({
        engine: o.engine,
        kind: `${o.engine}-field`,
        value: { field: 'updated_at', type: 'integer' },
      });
      expect(Number(r.manifest.checkpoint?.value.since)).toBe(clock);
      states.push({ id: r.manifest.id, rows: await dump(withField, collection) });
    });

    it('a change-field link renders records exactly as the scan does, and lists every id', async () => {
      const first = await repo.readManifest(collection, states[0]?.id as string);
      const session = await withField.captureChanges?.(collection, first.checkpoint as NonNullable<typeof first.checkpoint>, {
        captureId: 'x',
      });
      if (!session) throw new Error('no session');
      const changed: VectorRecord[] = [];
      for await (const batch of session.changes()) for (const c of batch) if (c.op === 'upsert') changed.push(c.record);
      const ids: string[] = [];
      for await (const batch of session.ids?.() ?? []) ids.push(...batch.map(String));
      const { checkpoint, watermark } = session.end();
      await session.close();
      // At least the records at the parent's largest value (>= since), and whatever the 5 s lag re-reads.
      expect(changed.length).toBeGreaterThan(0);
      const scanned = new Map<string, VectorRecord>();
      const scan = await withField.scan(collection, { batchSize: 100 });
      for await (const b of scan.batches()) for (let i = 0; i < b.length; i++) scanned.set(String(b.ids[i]), recordAt(b, i));
      await scan.close();
      for (const c of changed) expect(recordText(c)).toBe(recordText(scanned.get(String(c.id)) as VectorRecord));
      for (const c of changed) expect(c).toEqual(scanned.get(String(c.id)));
      expect(ids.sort()).toEqual([...scanned.keys()].sort());
      expect(checkpoint).toMatchObject({ kind: `${o.engine}-field`, value: { field: 'updated_at', since: String(clock) } });
      expect(Date.parse(watermark)).not.toBeNaN();
    });

    it('a chain of links records what changed (a late writer inside the lag is caught), each with capture timestamp', async () => {
      const steps: [string, () => Promise<void>, number, number][] = [
        ['insert', () => upsert([record(301, 'new'), record(302, null)]), 2, 0],
        [
          'vector only',
          async () => upsert([{ ...record(7, null), payload: { ...(await byId(7)).payload, updated_at: now(), version: ++version } }]),
          1,
          0,
        ],
        [
          'payload only',
          async () =>
            upsert(
              await Promise.all(
                [8, 9, 10].map(async (id) => ({
                  ...(await byId(id)),
                  payload: { title: 'payload only', updated_at: now(), version: ++version },
                })),
              ),
            ),
          3,
          0,
        ],
        ['delete', () => withField.delete(collection, [11n, 12n, 301n]), 0, 3],
        ['re-insert', () => upsert([record(11, 're-inserted')]), 1, 0],
        ['empty', async () => undefined, 0, 0],
        ['late writer (2 s behind the last link)', () => upsert([record(20, 'late', clock - 2000)]), 1, 0],
      ];
      for (const [what, step, upserts, deletes] of steps) {
        await step();
        const r = await repo.snapshot(withField, collection, { incremental: true, segmentBytes: 64 * 1024 });
        expect(r.kind, what).toBe('incremental');
        expect(r.manifest.capture, what).toEqual({ mode: 'timestamp', exact: false });
        expect(r.manifest.rows, what).toEqual({ upserts, deletes });
        expect(r.manifest.checkpoint?.kind, what).toBe(`${o.engine}-field`);
        expect(r.manifest.parent, what).toBe(states[states.length - 1]?.id);
        states.push({ id: r.manifest.id, rows: await dump(withField, collection) });
      }
    });

    it('restores every link into a new collection exactly as it was, and the head has parity', async () => {
      for (const [i, s] of states.entries()) {
        const target = name(`pitr${i}`);
        await repo.restore(withField, { collection, snapshot: s.id, target });
        expect(await dump(withField, target), `link ${i}`).toEqual(s.rows);
        await withField.drop(target);
      }
      const parity = await repo.verifyParity(withField, { collection, snapshot: 'latest' });
      expect(parity.ok).toBe(true);
    });

    it('a checkpoint of another kind or a field that vanished is CHAIN_BROKEN no-feed; the core then takes a fingerprint diff', async () => {
      const head = await repo.readManifest(collection, 'latest');
      const checkpoint = head.checkpoint as NonNullable<typeof head.checkpoint>;
      const other = { ...checkpoint, kind: 'pgoutput' };
      const e1 = await expectError(withField.captureChanges?.(collection, other, { captureId: 'x' }) as Promise<unknown>, 'CHAIN_BROKEN');
      expect((e1 as VectordrError).details.reason).toBe('no-feed');
      const gone = o.adapter({ changeField: 'nope' });
      const e2 = await expectError(gone.captureChanges?.(collection, checkpoint, { captureId: 'x' }) as Promise<unknown>, 'CHAIN_BROKEN');
      expect((e2 as VectordrError).details).toMatchObject({ reason: 'no-feed', field: 'nope' });
      // Another usable field than the chain followed: the plan says timestamp, the checkpoint cannot continue.
      const byVersion = o.adapter({ changeField: 'version' });
      await upsert([record(30, 'after')]);
      const r = await repo.snapshot(byVersion, collection, { incremental: true, segmentBytes: 64 * 1024 });
      expect(r.kind).toBe('incremental');
      expect(r.manifest.capture).toMatchObject({ mode: 'fingerprint-diff', exact: false });
      expect(r.manifest.capture?.reason).toMatch(/checkpoint follows field "updated_at" \(integer\), the adapter now "version"/);
      expect(r.manifest.rows).toEqual({ upserts: 1, deletes: 0 });
      // That link's scan started a feed on the new field: the next link follows it again.
      expect(r.manifest.checkpoint).toMatchObject({ kind: `${o.engine}-field`, value: { field: 'version' } });
      await upsert([record(31, 'then')]);
      const next = await repo.snapshot(byVersion, collection, { incremental: true, segmentBytes: 64 * 1024 });
      expect(next.manifest.capture).toEqual({ mode: 'timestamp', exact: false });
      expect(next.manifest.rows).toEqual({ upserts: 1, deletes: 0 });
      await gone.close?.();
      await byVersion.close?.();
    });

    it('without changeField every link is a fingerprint diff, and the manifest says why', async () => {
      const plainRepo = await memoryRepository();
      const full = await plainRepo.snapshot(plain, collection, { incremental: true, segmentBytes: 64 * 1024 });
      expect(full.kind).toBe('full');
      expect(full.manifest.checkpoint).toBeNull();
      await upsert([record(40, 'plain')]);
      await withField.delete(collection, [2n]);
      const r = await plainRepo.snapshot(plain, collection, { incremental: true, segmentBytes: 64 * 1024 });
      expect(r.manifest.capture?.mode).toBe('fingerprint-diff');
      expect(r.manifest.capture?.reason).toMatch(/has no change feed .* every link reads all .*, vectors included/);
      expect(r.manifest.rows).toEqual({ upserts: 1, deletes: 1 });
      const target = name('plainpitr');
      await plainRepo.restore(plain, { collection, snapshot: r.manifest.id, target });
      expect(await dump(plain, target)).toEqual(await dump(plain, collection));
    });
  });
}
