/**
 * Incremental snapshots and point-in-time restore on the embedded engine (PGlite: fingerprint diff),
 * end to end: a chain of links over inserts, vector-only and payload-only updates, deletes, a
 * re-insert and an empty link; each link restored and compared with the state kept aside.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { Repository } from '../../src/repository/repository.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';
import { expectError } from '../helpers/errors.js';
import { manifestKey } from '../../src/format/keys.js';

let db: PGlite;
let adapter: PgvectorAdapter;
let repo: Repository;

const rowsOf = async (table: string): Promise<string[]> =>
  (await db.query<{ r: string }>(`SELECT (id, embedding::text, title, meta::text)::text AS r FROM ${table} ORDER BY id`)).rows.map(
    (x) => x.r,
  );

beforeAll(async () => {
  ({ db, adapter } = await openPglite(`
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE docs (id bigint PRIMARY KEY, embedding vector(4) NOT NULL, title text, meta jsonb);
    INSERT INTO docs SELECT g, ARRAY[g, g + 0.5, -g, 1]::vector, 'doc ' || g, jsonb_build_object('g', g) FROM generate_series(1, 500) g;
  `));
  repo = await memoryRepository();
});

afterAll(async () => {
  await db.close();
});

describe('incremental snapshots on PGlite (fingerprint diff)', () => {
  const states: { id: string; rows: string[] }[] = [];

  it('the first incremental of a collection without snapshots is a full snapshot that says why', async () => {
    const r = await repo.snapshot(adapter, 'docs', { incremental: true, segmentBytes: 64 * 1024 });
    expect(r.kind).toBe('full');
    expect(r.autoFull).toMatch(/no snapshot yet/);
    expect(r.manifest.features).toEqual(['incremental']);
    expect(r.manifest.deltaIndex?.length).toBe(1);
    expect(r.manifest).toMatchObject({ chain: r.manifest.id, depth: 0, autoFull: r.autoFull });
    states.push({ id: r.manifest.id, rows: await rowsOf('docs') });
  });

  it('a chain of links records only what changed, with counts of upserts and deletes', async () => {
    const steps: [string, number, number][] = [
      [`INSERT INTO docs VALUES (501, '[1,2,3,4]', 'new', '{"x":1}'), (502, '[5,6,7,8]', NULL, NULL)`, 2, 0],
      [`UPDATE docs SET embedding = '[9,9,9,9]' WHERE id = 7`, 1, 0],
      [`UPDATE docs SET title = 'payload only' WHERE id IN (8, 9, 10)`, 3, 0],
      [`DELETE FROM docs WHERE id IN (11, 12, 501)`, 0, 3],
      [`INSERT INTO docs VALUES (11, '[0,0,0,1]', 're-inserted', NULL)`, 1, 0],
      [`SELECT 1`, 0, 0],
      [
        `UPDATE docs SET meta = '{"m":2}' WHERE id % 50 = 0; DELETE FROM docs WHERE id = 499; INSERT INTO docs VALUES (600, '[6,0,0,6]', 's', NULL)`,
        11,
        1,
      ],
    ];
    for (const [sql, upserts, deletes] of steps) {
      await db.exec(sql);
      const r = await repo.snapshot(adapter, 'docs', { incremental: true, segmentBytes: 64 * 1024 });
      expect(r.kind).toBe('incremental');
      expect(r.manifest.rows).toEqual({ upserts, deletes });
      expect(r.manifest.parent).toBe(states[states.length - 1]?.id);
      expect(r.manifest.capture).toMatchObject({ mode: 'fingerprint-diff', exact: false });
      states.push({ id: r.manifest.id, rows: await rowsOf('docs') });
    }
    expect((await repo.readManifest('docs', 'latest')).depth).toBe(7);
  });

  it('restores every link to exactly the state it recorded (point in time by id and by date)', async () => {
    for (const [i, s] of states.entries()) {
      const target = `pitr_${i}`;
      const r = await repo.restore(adapter, { collection: 'docs', snapshot: s.id, target });
      expect(await rowsOf(target)).toEqual(s.rows);
      expect(r.rows).toBe(s.rows.length);
    }
    const m = await repo.readManifest('docs', states[3]?.id as string);
    await repo.restore(adapter, { collection: 'docs', at: new Date(Date.parse(m.watermark as string) + 1), target: 'pitr_date' });
    expect(await rowsOf('pitr_date')).toEqual(states[3]?.rows);
  });

  it('list() shows each link with its parent, watermark, capture mode, own rows and the records of its state', async () => {
    const list = await repo.list({ collection: 'docs' });
    expect(list.map((s) => s.id)).toEqual(states.map((s) => s.id));
    const [full, first] = list;
    expect(full).toMatchObject({ kind: 'full', parent: null, capture: 'scan', records: 500, rows: 500 });
    expect(first).toMatchObject({ kind: 'incremental', parent: full?.id, capture: 'fingerprint-diff', rows: 2, records: 502 });
    expect(typeof first?.watermark).toBe('string');
  });

  it('the chain head has parity with the live table', async () => {
    const p = await repo.verifyParity(adapter, { collection: 'docs', snapshot: 'latest' });
    expect(p.ok).toBe(true);
  });

  it('refuses a point in time before the first snapshot, and a parent of another collection', async () => {
    await expectError(repo.restore(adapter, { collection: 'docs', at: new Date('2000-01-01'), target: 'never' }), 'SNAPSHOT_NOT_FOUND');
    await db.exec(`CREATE TABLE other (id bigint PRIMARY KEY, embedding vector(4))`);
    await expectError(repo.snapshot(adapter, 'other', { incremental: true, parent: states[0]?.id as string }), 'NO_PARENT');
    await expectError(repo.snapshot(adapter, 'other', { incremental: true, onNoParent: 'error' }), 'NO_PARENT');
  });
});

describe('verify on chains', () => {
  it('verifies every link clean, and names a damaged link and a missing parent', async () => {
    const r = await repo.verify({ collection: 'docs' });
    expect(r.ok).toBe(true);
    expect(r.snapshots.length).toBeGreaterThanOrEqual(8);
  });
});

describe('chain damage, retention and prune', () => {
  it('a missing middle link is named by verify and refused (CHAIN_INVALID) by restore and by the next incremental; prune keeps every link a kept snapshot needs', async () => {
    const r2 = await memoryRepository();
    await db.exec(`CREATE TABLE chainy (id bigint PRIMARY KEY, embedding vector(4) NOT NULL, title text, meta jsonb);
      INSERT INTO chainy SELECT g, ARRAY[g, 1, 1, 1]::vector, 't' FROM generate_series(1, 50) g`);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      await db.exec(`UPDATE chainy SET title = 'v${i}' WHERE id = ${i + 1}`);
      ids.push((await r2.snapshot(adapter, 'chainy', { incremental: true })).manifest.id);
    }
    // Forget keeps the whole chain of the kept head; prune then deletes nothing a link needs.
    const f = await r2.forget({ keepLast: 1 }, { collection: 'chainy' });
    expect(f.removed).toBe(0);
    await r2.prune({ graceMs: 0 });
    expect((await r2.verify({ collection: 'chainy' })).ok).toBe(true);
    await r2.restore(adapter, { collection: 'chainy', target: 'chainy_back' });
    expect(await rowsOf('chainy_back')).toEqual(await rowsOf('chainy'));

    await r2.storage.delete(manifestKey('chainy', ids[1] as string));
    const v = await r2.verify({ collection: 'chainy' });
    expect(v.ok).toBe(false);
    expect(v.snapshots.find((s) => s.snapshot === ids[2])?.problems[0]?.code).toBe('CHAIN_INVALID');
    await expectError(r2.restore(adapter, { collection: 'chainy', snapshot: ids[3] as string, target: 'never2' }), 'CHAIN_INVALID');
    await expectError(r2.snapshot(adapter, 'chainy', { incremental: true }), 'CHAIN_INVALID');
    expect(await adapter.exists('never2')).toBe(false);
  });
});

describe('forget by id', () => {
  it('removes exactly the named snapshots, refuses one a staying link builds on and an unknown id, and writes nothing then', async () => {
    const r3 = await memoryRepository();
    await db.exec(`CREATE TABLE byid (id bigint PRIMARY KEY, embedding vector(4) NOT NULL, title text, meta jsonb);
      INSERT INTO byid SELECT g, ARRAY[g, 2, 2, 2]::vector, 't' FROM generate_series(1, 20) g`);
    const plain = (await r3.snapshot(adapter, 'byid')).manifest.id;
    const chain: string[] = [];
    for (let i = 0; i < 3; i++) {
      await db.exec(`UPDATE byid SET title = 'w${i}' WHERE id = ${i + 1}`);
      chain.push((await r3.snapshot(adapter, 'byid', { incremental: true })).manifest.id);
    }
    const count = async (): Promise<number> => (await r3.list({ collection: 'byid' })).length;
    await expectError(r3.forgetSnapshots([chain[1] as string], { collection: 'byid' }), 'INVALID_ARGUMENT');
    await expectError(r3.forgetSnapshots(['01NOPE', plain], { collection: 'byid' }), 'SNAPSHOT_NOT_FOUND');
    expect(await count()).toBe(4);
    const dry = await r3.forgetSnapshots([plain], { collection: 'byid', dryRun: true });
    expect(dry.collections[0]?.remove.map((r) => r.id)).toEqual([plain]);
    expect(await count()).toBe(4);
    expect((await r3.forgetSnapshots([plain], { collection: 'byid' })).removed).toBe(1);
    // A link and its descendants together: the head first, so no link is ever left without its parent.
    expect((await r3.forgetSnapshots([chain[1] as string, chain[2] as string], { collection: 'byid' })).removed).toBe(2);
    expect((await r3.list({ collection: 'byid' })).map((s) => s.id)).toEqual([chain[0]]);
    expect((await r3.verify({ collection: 'byid' })).ok).toBe(true);
  });
});

describe('compact', () => {
  it('folds a chain into a full snapshot of the same state without reading the engine; the next link continues from it', async () => {
    const head = await repo.readManifest('docs', 'latest');
    const c = await repo.compact('docs');
    expect(c.manifest).toMatchObject({ kind: 'full', parent: null, depth: 0, watermark: head.watermark });
    expect(c.manifest.digest.collection).toBe(head.digest.collection);
    expect(c.manifest.capture?.reason).toMatch(/compacted from link/);
    await repo.restore(adapter, { collection: 'docs', snapshot: c.manifest.id, target: 'compacted' });
    expect(await rowsOf('compacted')).toEqual(await rowsOf('docs'));
    await db.exec(`UPDATE docs SET title = 'after compact' WHERE id = 2`);
    const next = await repo.snapshot(adapter, 'docs', { incremental: true });
    expect(next.manifest).toMatchObject({ kind: 'incremental', parent: c.manifest.id, depth: 1, rows: { upserts: 1, deletes: 0 } });
    await expectError(repo.compact('docs', { snapshot: c.manifest.id }), 'UNSUPPORTED_OPERATION');
  });
});
