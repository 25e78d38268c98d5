/**
 * Native change capture on a real PostgreSQL (PG_URL, wal_level = logical): a chain starts with a
 * slot and an exported snapshot the base scan runs under; each link streams the slot up to a
 * marker and advances it only on commit. Every table and capture id is random (the server is shared)
 * and every slot is dropped by the test that made it (slots are cluster-wide and pin WAL). On
 * PGlite, where there is no logical decoding, the adapter says so.
 */
import { spawnSync } from 'node:child_process';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgReplicationClient, type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { Change, ChangeSession } from '../../src/adapter.js';
import { type VectordrError, isVectordrError } from '../../src/errors.js';
import type { Checkpoint, Id, VectorRecord } from '../../src/model.js';
import { recordAt } from '../../src/model.js';
import { expectError } from '../helpers/errors.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { pgClient, pgvectorPool } from '../helpers/pg.js';
import { memoryRepository } from '../helpers/repository.js';

const PG_URL = process.env.PG_URL;

describe('change capture on PGlite', () => {
  it('plans fingerprints (no logical decoding) and refuses to start a feed', async () => {
    engineAvailable('pglite', true);
    const db = await PGlite.create({ extensions: { vector } });
    try {
      await db.exec('CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE t (id int8 PRIMARY KEY, e vector(2))');
      const a = pgvectorAdapter({ pglite: db });
      expect(a.capabilities.changeCapture).toBe('digest');
      expect(await a.planCapture('t')).toEqual({ mode: 'digest', reason: 'PGlite has no logical decoding' });
      await expectError(a.scan('t', { batchSize: 10, startCapture: { captureId: 'x1' } }), 'UNSUPPORTED_OPERATION');
      expect(await a.captureStatus('x1')).toMatchObject({ exists: false });
      await a.dropCapture('x1');
    } finally {
      await db.close();
    }
  });
});

const PG16_URL = process.env.PG16_URL;

/** The last state per id after `changes` (the core's fold, for the test's checks). */
function fold(state: Map<string, VectorRecord>, changes: readonly Change[]): Map<string, VectorRecord> {
  for (const c of changes) {
    if (c.op === 'delete') state.delete(String(c.id));
    else state.set(String(c.record.id), c.record);
  }
  return state;
}

async function drain(session: ChangeSession): Promise<Change[]> {
  const out: Change[] = [];
  for await (const batch of session.changes()) {
    expect(batch.length).toBeLessThanOrEqual(1000);
    out.push(...batch);
  }
  return out;
}

// PostgreSQL 18 (PG_URL, shared with every other suite), and PostgreSQL 16 (PG16_URL, a server of
// this file alone): only there does the slot-invalidation case change max_slot_wal_keep_size, which
// applies to every slot of the cluster and would invalidate slots other suites hold meanwhile.
captureSuite('PostgreSQL 18', PG_URL, { ownServer: false });
captureSuite('PostgreSQL 16, a server of its own', PG16_URL, { ownServer: true });

function captureSuite(label: string, url: string | undefined, server: { ownServer: boolean }): void {
  describe.runIf(engineAvailable('pgvector', url !== undefined))(`change capture on ${label} (pgoutput)`, () => {
    let pool: pg.Pool;
    let adapter: PgvectorAdapter;
    const { name: tableName, created: tables } = createdNames();
    const captures: string[] = [];
    const newCaptureId = (): string => {
      const id = `t${Math.random().toString(36).slice(2, 12)}`;
      captures.push(id);
      return id;
    };

    beforeAll(async () => {
      pool = await pgvectorPool(url);
      adapter = pgvectorAdapter({ pool });
    });
    afterAll(async () => {
      // Also any feed the core started on one of these tables under a name the test did not learn.
      const named = await pool.query(`SELECT pubname FROM pg_publication_tables WHERE tablename = ANY($1::text[])`, [tables]);
      for (const r of named.rows) captures.push(String(r.pubname).replace(/^vectordr_/, ''));
      for (const c of captures) await adapter.dropCapture(c).catch(() => undefined);
      for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t}"`).catch(() => undefined);
      await pool.end();
    });

    /** Starts a chain: the base scan's records by id and its checkpoint. */
    async function startChain(
      t: string,
      captureId: string,
      a: PgvectorAdapter = adapter,
    ): Promise<{ records: Map<string, VectorRecord>; checkpoint: Checkpoint }> {
      const scan = await a.scan(t, { batchSize: 100, startCapture: { captureId } });
      const records = new Map<string, VectorRecord>();
      try {
        for await (const batch of scan.batches())
          for (let i = 0; i < batch.length; i++) records.set(String(batch.ids[i]), recordAt(batch, i));
      } finally {
        await scan.close();
      }
      if (scan.checkpoint === undefined) throw new Error('a scan that starts a capture has a checkpoint');
      return { records, checkpoint: scan.checkpoint };
    }

    /** One link: its changes and where it ends; committed (slot advanced) when `commit`. */
    async function link(
      t: string,
      captureId: string,
      from: Checkpoint,
      commit = true,
    ): Promise<{ changes: Change[]; checkpoint: Checkpoint; watermark: string }> {
      const session = await adapter.captureChanges(t, from, { captureId });
      try {
        const changes = await drain(session);
        const { checkpoint, watermark } = session.end();
        if (commit) await session.commit(checkpoint);
        return { changes, checkpoint, watermark };
      } finally {
        await session.close();
      }
    }

    /** Every row of the table now, by a fresh scan. */
    async function scanAll(t: string): Promise<Map<string, VectorRecord>> {
      const scan = await adapter.scan(t, { batchSize: 500 });
      const out = new Map<string, VectorRecord>();
      try {
        for await (const batch of scan.batches()) for (let i = 0; i < batch.length; i++) out.set(String(batch.ids[i]), recordAt(batch, i));
      } finally {
        await scan.close();
      }
      return out;
    }

    /** An adapter whose replication client runs `after` once each command returned (to act between slot and scan). */
    function adapterWithReplicationHook(after: (command: string, result: pg.QueryResult) => Promise<void> | void): PgvectorAdapter {
      return pgvectorAdapter({
        pool,
        replicationClient: () => {
          const c = pgClient({ connectionString: url, replication: 'database' } as pg.ClientConfig);
          const query = c.query.bind(c) as (text: string) => Promise<pg.QueryResult>;
          (c as unknown as { query: (text: string) => Promise<pg.QueryResult> }).query = async (text: string) => {
            const r = await query(text);
            await after(text, r);
            return r;
          };
          return c as unknown as PgReplicationClient;
        },
      });
    }

    async function slotExists(captureId: string): Promise<boolean> {
      const r = await pool.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`vectordr_${captureId}`]);
      return r.rows.length > 0;
    }

    async function smallTable(prefix: string, rows = 20): Promise<string> {
      const t = tableName(prefix);
      await pool.query(`CREATE TABLE "${t}" (id int8 PRIMARY KEY, e vector(3), title text, n int4)`);
      await pool.query(`INSERT INTO "${t}" SELECT g, ARRAY[g, 0.5, -1]::real[]::vector, 'row ' || g, g FROM generate_series(1, ${rows}) g`);
      return t;
    }

    it('declares native capture and plans it for a table with a key; refuses a bad capture id', async () => {
      expect(adapter.capabilities.changeCapture).toBe('native');
      const t = await smallTable('cap_plan', 1);
      expect(await adapter.planCapture(t)).toEqual({ mode: 'native' });
      await pool.query(`ALTER TABLE "${t}" REPLICA IDENTITY NOTHING`);
      expect(await adapter.planCapture(t)).toMatchObject({ mode: 'digest', reason: expect.stringContaining('NOTHING') });
      // Refused before a publication exists: one that publishes deletes would make the table refuse DELETE.
      const refused = newCaptureId();
      await expectError(adapter.scan(t, { batchSize: 10, startCapture: { captureId: refused } }), 'UNSUPPORTED_OPERATION');
      expect(await slotExists(refused)).toBe(false);
      await pool.query(`DELETE FROM "${t}"`);
      await expectError(adapter.scan(t, { batchSize: 10, startCapture: { captureId: 'Bad-Id' } }), 'INVALID_ARGUMENT');
      await expectError(adapter.dropCapture('x'.repeat(41)), 'INVALID_ARGUMENT');
    });

    it('starts gap-free: a row committed after the slot and before the scan is in the first link, not in the scan', async () => {
      const t = await smallTable('cap_gap');
      const id = newCaptureId();
      // A row committed right after CREATE_REPLICATION_SLOT returns, before the scan starts.
      const a = adapterWithReplicationHook(async (command) => {
        if (command.startsWith('CREATE_REPLICATION_SLOT')) await pool.query(`INSERT INTO "${t}" VALUES (999, '[9,9,9]', 'between', 9)`);
      });
      try {
        const { records, checkpoint } = await startChain(t, id, a);
        expect(checkpoint).toMatchObject({
          engine: 'pgvector',
          kind: 'pg-slot',
          value: { slot: `vectordr_${id}`, publication: `vectordr_${id}` },
        });
        expect(records.size).toBe(20);
        expect(records.has('999')).toBe(false);
        const { changes } = await link(t, id, checkpoint);
        expect(changes.map((c) => c.op === 'upsert' && c.record.id)).toEqual([999n]);
        expect(fold(records, changes)).toEqual(await scanAll(t));
      } finally {
        await adapter.dropCapture(id);
      }
    });

    it('captures inserts, updates, deletes and a re-insert; links fold to the table; an empty link has no changes', async () => {
      const t = await smallTable('cap_ops');
      const id = newCaptureId();
      try {
        const start = await startChain(t, id);
        await pool.query(`INSERT INTO "${t}" VALUES (21, '[21,0,0]', 'new', 21), (22, '[22,0,0]', 'new', 22)`);
        await pool.query(`UPDATE "${t}" SET e = '[1,1,1]' WHERE id = 21`);
        await pool.query(`UPDATE "${t}" SET title = NULL, n = -1 WHERE id = 3`);
        await pool.query(`DELETE FROM "${t}" WHERE id IN (5, 22)`);
        await pool.query(`INSERT INTO "${t}" VALUES (5, '[5,5,5]', 'back', 5)`);
        await pool.query(`UPDATE "${t}" SET id = 100 WHERE id = 7`); // a key change: delete 7, upsert 100
        const one = await link(t, id, start.checkpoint);
        expect(one.changes.map((c) => (c.op === 'delete' ? `-${c.id}` : `+${c.record.id}`))).toEqual([
          '+21',
          '+22',
          '+21',
          '+3',
          '-5',
          '-22',
          '+5',
          '-7',
          '+100',
        ]);
        const state = fold(start.records, one.changes);
        expect(state).toEqual(await scanAll(t));
        expect(Date.parse(one.watermark)).toBeGreaterThan(Date.parse(start.checkpoint.takenAt) - 60_000);

        const empty = await link(t, id, one.checkpoint);
        expect(empty.changes).toEqual([]);
        expect(BigInt(`0x${String(empty.checkpoint.value.lsn).replace('/', '').padStart(16, '0')}`)).toBeGreaterThan(0n);
        await pool.query(`DELETE FROM "${t}" WHERE id = 1`);
        const three = await link(t, id, empty.checkpoint);
        expect(three.changes).toEqual([{ op: 'delete', id: 1n }]);
      } finally {
        await adapter.dropCapture(id);
      }
    });

    it('does not advance the slot before commit: the same link reads the same changes again; commit is idempotent', async () => {
      const t = await smallTable('cap_commit');
      const id = newCaptureId();
      try {
        const start = await startChain(t, id);
        await pool.query(`INSERT INTO "${t}" VALUES (50, '[1,2,3]', 'x', 1)`);
        await pool.query(`UPDATE "${t}" SET n = 2 WHERE id = 50`);
        const first = await link(t, id, start.checkpoint, false);
        const again = await link(t, id, start.checkpoint, false);
        expect(first.changes).toHaveLength(2);
        expect(again.changes).toEqual(first.changes);
        const session = await adapter.captureChanges(t, start.checkpoint, { captureId: id });
        await drain(session);
        const { checkpoint } = session.end();
        await session.commit(checkpoint);
        await session.commit(checkpoint);
        await session.close();
        const empty = await link(t, id, checkpoint);
        expect(empty.changes).toEqual([]);
        // A rerun from the parent after the advance: the slot is past it, the changes are gone.
        await expectError(adapter.captureChanges(t, start.checkpoint, { captureId: id }), 'CHAIN_BROKEN');
        // A crash after the manifest but before the advance: the next link advances first.
        await pool.query(`INSERT INTO "${t}" VALUES (51, '[1,2,3]', 'y', 1)`);
        const unadvanced = await link(t, id, empty.checkpoint, false);
        await pool.query(`INSERT INTO "${t}" VALUES (52, '[1,2,3]', 'z', 1)`);
        const next = await link(t, id, unadvanced.checkpoint);
        expect(next.changes.map((c) => c.op === 'upsert' && c.record.id)).toEqual([52n]);
      } finally {
        await adapter.dropCapture(id);
      }
    });

    it('loses no row of a writer running during the link: each is in this link or the next, in commit order', async () => {
      const t = await smallTable('cap_writer', 0);
      const id = newCaptureId();
      try {
        const start = await startChain(t, id);
        let next = 1;
        let stop = false;
        const writer = (async () => {
          while (!stop) {
            await pool.query(`INSERT INTO "${t}" VALUES ($1, '[1,1,1]', 'w', 0)`, [next]);
            next++;
          }
        })();
        while (next < 50) await new Promise((r) => setTimeout(r, 10));
        const committedBefore = next - 1;
        const one = await link(t, id, start.checkpoint);
        stop = true;
        await writer;
        const written = next - 1;
        const two = await link(t, id, one.checkpoint);
        const ids = (cs: Change[]): number[] => cs.map((c) => (c.op === 'upsert' ? Number(c.record.id) : -1));
        const [a, b] = [ids(one.changes), ids(two.changes)];
        expect(a.length).toBeGreaterThanOrEqual(committedBefore);
        expect([...a, ...b]).toEqual(Array.from({ length: written }, (_, i) => i + 1));
      } finally {
        await adapter.dropCapture(id);
      }
    });

    it('streams a transaction larger than a batch in batches of at most 1000 to a slow consumer', async () => {
      const t = await smallTable('cap_bulk', 0);
      const id = newCaptureId();
      try {
        const start = await startChain(t, id);
        await pool.query(`INSERT INTO "${t}" SELECT g, ARRAY[g, 0, 0]::real[]::vector, 'bulk', g FROM generate_series(1, 6500) g`);
        await pool.query(`DELETE FROM "${t}" WHERE id % 2 = 0`);
        const session = await adapter.captureChanges(t, start.checkpoint, { captureId: id });
        const sizes: number[] = [];
        const state = new Map<string, VectorRecord>();
        try {
          for await (const batch of session.changes()) {
            sizes.push(batch.length);
            fold(state, batch);
            await new Promise((r) => setTimeout(r, 20)); // a slow consumer
          }
          await session.commit(session.end().checkpoint);
        } finally {
          await session.close();
        }
        expect(Math.max(...sizes)).toBe(1000);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(6500 + 3250);
        expect(state).toEqual(await scanAll(t));
      } finally {
        await adapter.dropCapture(id);
      }
    });

    it('records from captured inserts equal the scanned records of the same rows, over a varied table', async () => {
      const t = tableName('cap_types');
      const id = newCaptureId();
      await pool.query(
        `CREATE TABLE "${t}" (id int8 PRIMARY KEY, v vector(3), ${TYPED_COLUMNS.map(([n, type]) => `"${n}" ${type}`).join(', ')})`,
      );
      try {
        const start = await startChain(t, id);
        expect(start.records.size).toBe(0);
        const rows = Math.max(...TYPED_COLUMNS.map(([, , edges]) => edges.length)) + 1;
        const cols = ['id', 'v', ...TYPED_COLUMNS.map(([n]) => n)].map((n) => `"${n}"`).join(', ');
        for (let k = 0; k < rows; k++) {
          const values = ['$1::int8', '$2::vector', ...TYPED_COLUMNS.map(([, type], i) => castFrom(`$${i + 3}`, type))].join(', ');
          await pool.query(`INSERT INTO "${t}" (${cols}) VALUES (${values})`, [
            k + 1,
            VECTORS[k] ?? null,
            ...TYPED_COLUMNS.map(([, , edges]) => edges[k] ?? null),
          ]);
        }
        const { changes } = await link(t, id, start.checkpoint);
        const captured = fold(new Map(), changes);
        const scanned = await scanAll(t);
        expect(captured.size).toBe(rows);
        for (const [key, record] of scanned) expect(captured.get(key), `row ${key}`).toEqual(record);
      } finally {
        await adapter.dropCapture(id);
      }
    });

    for (const identity of ['DEFAULT', 'FULL'] as const) {
      it(`updates of a TOASTed 768-dim vector and a TOASTed payload under REPLICA IDENTITY ${identity}`, async () => {
        const t = tableName(`cap_toast_${identity.toLowerCase()}`);
        const id = newCaptureId();
        await pool.query(`CREATE TABLE "${t}" (id text PRIMARY KEY, embedding vector(768), title text, doc text)`);
        await pool.query(`ALTER TABLE "${t}" REPLICA IDENTITY ${identity}`);
        // doc: 40 kB of md5 text, too random to compress inline: stored out of line (TOAST).
        await pool.query(
          `INSERT INTO "${t}" SELECT 'k' || g, (SELECT array_agg(random())::real[]::vector FROM generate_series(1, 768)), 'title ' || g,
           (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 1250)) FROM generate_series(1, 3) g`,
        );
        try {
          const start = await startChain(t, id);
          await pool.query(`UPDATE "${t}" SET title = 'changed' WHERE id = 'k1'`);
          await pool.query(
            `UPDATE "${t}" SET embedding = (SELECT array_agg(0.5)::real[]::vector FROM generate_series(1, 768)) WHERE id = 'k2'`,
          );
          const { changes } = await link(t, id, start.checkpoint);
          expect(changes).toHaveLength(2);
          const [payloadOnly, vectorOnly] = changes as Extract<Change, { op: 'upsert' }>[];
          const now = await scanAll(t);
          if (identity === 'DEFAULT') {
            expect(payloadOnly?.unchanged).toEqual(['embedding', 'doc']);
            expect(payloadOnly?.record.vectors.embedding).toBeNull();
            expect(payloadOnly?.record.payload).toEqual({ title: 'changed' });
            expect(vectorOnly?.unchanged).toEqual(['doc']);
            // What the core does: fill the unchanged fields from the chain.
            const filled = (c: Extract<Change, { op: 'upsert' }>): VectorRecord => {
              const before = start.records.get(String(c.record.id)) as VectorRecord;
              const r = structuredClone(c.record);
              for (const f of c.unchanged ?? []) {
                if (f in before.vectors) r.vectors[f] = before.vectors[f] ?? null;
                else r.payload[f] = before.payload[f] ?? null;
              }
              return r;
            };
            expect(filled(payloadOnly!)).toEqual(now.get('k1'));
            expect(filled(vectorOnly!)).toEqual(now.get('k2'));
          } else {
            expect(payloadOnly?.unchanged).toBeUndefined();
            expect(vectorOnly?.unchanged).toBeUndefined();
            expect(payloadOnly?.record).toEqual(now.get('k1'));
            expect(vectorOnly?.record).toEqual(now.get('k2'));
          }
        } finally {
          await adapter.dropCapture(id);
        }
      });
    }

    it('breaks the chain on TRUNCATE and on ALTER TABLE, and refuses a checkpoint of another cluster', async () => {
      const expectBroken = async (p: Promise<unknown>, reason: string): Promise<void> => {
        const err = (await expectError(p, 'CHAIN_BROKEN')) as VectordrError;
        expect(err.details.reason, err.message).toBe(reason);
      };
      const t1 = await smallTable('cap_trunc');
      const id1 = newCaptureId();
      try {
        const start = await startChain(t1, id1);
        await pool.query(`INSERT INTO "${t1}" VALUES (30, '[1,2,3]', 'x', 1)`);
        await pool.query(`TRUNCATE "${t1}"`);
        await expectBroken(link(t1, id1, start.checkpoint), 'truncate');
        const other = { ...start.checkpoint, value: { ...start.checkpoint.value, systemId: '1' } };
        await expectBroken(adapter.captureChanges(t1, other, { captureId: id1 }), 'other-cluster');
      } finally {
        await adapter.dropCapture(id1);
      }
      const t2 = await smallTable('cap_alter');
      const id2 = newCaptureId();
      try {
        const start = await startChain(t2, id2);
        await pool.query(`INSERT INTO "${t2}" VALUES (30, '[1,2,3]', 'x', 1)`);
        await pool.query(`ALTER TABLE "${t2}" ADD COLUMN extra int4`);
        await pool.query(`INSERT INTO "${t2}" VALUES (31, '[1,2,3]', 'x', 1, 7)`);
        await expectBroken(link(t2, id2, start.checkpoint), 'schema-changed');
      } finally {
        await adapter.dropCapture(id2);
      }
    });

    it.runIf(server.ownServer)('breaks the chain with capture-lost when max_slot_wal_keep_size invalidates the slot', async () => {
      const t = await smallTable('cap_lost');
      const id = newCaptureId();
      try {
        const start = await startChain(t, id);
        expect(await adapter.captureStatus(id)).toMatchObject({ exists: true, health: 'reserved' });
        try {
          await pool.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`);
          await pool.query('SELECT pg_reload_conf()');
          await new Promise((r) => setTimeout(r, 300));
          for (let i = 0; i < 4; i++) {
            await pool.query(
              `INSERT INTO "${t}" SELECT 1000 * ${i + 1} + g, '[1,1,1]', repeat('w', 1000), g FROM generate_series(1, 200) g`,
            );
            await pool.query('SELECT pg_switch_wal()');
          }
          await pool.query('CHECKPOINT');
          let status = await adapter.captureStatus(id);
          for (let i = 0; i < 20 && status.health !== 'lost'; i++) {
            await pool.query('SELECT pg_switch_wal()');
            await pool.query('CHECKPOINT');
            status = await adapter.captureStatus(id);
          }
          expect(status.health).toBe('lost');
          expect(status.warnings.join(' ')).toContain('lost WAL');
        } finally {
          await pool.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
          await pool.query('SELECT pg_reload_conf()');
        }
        const err = (await expectError(link(t, id, start.checkpoint), 'CHAIN_BROKEN')) as VectordrError;
        expect(err.details.reason).toBe('capture-lost');
        expect(err.message).toContain('new full snapshot');
      } finally {
        await adapter.dropCapture(id);
      }
    });

    it('reports what the slot retains, and dropCapture leaves no slot or publication (twice is fine)', async () => {
      const t = await smallTable('cap_drop');
      const id = newCaptureId();
      const start = await startChain(t, id);
      await pool.query(`INSERT INTO "${t}" SELECT g, '[1,1,1]', 'x', 1 FROM generate_series(100, 200) g`);
      const status = await adapter.captureStatus(id);
      expect(status.exists).toBe(true);
      expect(status.retainedBytes).toBeGreaterThan(0);
      expect(status.warnings.join(' ')).toContain('max_slot_wal_keep_size = -1');
      // A link left open: its walsender still holds the slot when the drop starts.
      const session = await adapter.captureChanges(t, start.checkpoint, { captureId: id });
      await adapter.dropCapture(id);
      await session.close();
      await adapter.dropCapture(id);
      expect(await slotExists(id)).toBe(false);
      expect((await pool.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [`vectordr_${id}`])).rows).toEqual([]);
      expect(await adapter.captureStatus(id)).toEqual({ exists: false, warnings: [] });
    });

    it('a failure while starting leaves no slot or publication behind', async () => {
      const id = newCaptureId();
      const err = await adapter.scan(tableName('cap_missing'), { batchSize: 10, startCapture: { captureId: id } }).catch((e: unknown) => e);
      expect(isVectordrError(err)).toBe(true);
      expect(await slotExists(id)).toBe(false);
      // The slot exists, then the scan cannot start (here: the snapshot name is lost on the way).
      const t = await smallTable('cap_fail');
      const a = adapterWithReplicationHook((command, result) => {
        if (command.startsWith('CREATE_REPLICATION_SLOT')) result.rows[0].snapshot_name = '00000000-00000000-0';
      });
      await expect(a.scan(t, { batchSize: 10, startCapture: { captureId: id } })).rejects.toThrow(/snapshot/);
      expect(await slotExists(id)).toBe(false);
      expect((await pool.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [`vectordr_${id}`])).rows).toEqual([]);
    });

    it('end to end through the core: a pgoutput chain (TOAST filled from the chain, a delete, a re-insert) restores each link exactly', async () => {
      const t = tableName('cap_e2e');
      await pool.query(`CREATE TABLE "${t}" (id int8 PRIMARY KEY, embedding vector(768), title text, meta jsonb)`);
      await pool.query(
        `INSERT INTO "${t}" SELECT g, (SELECT array_agg(g + i * 0.001)::real[]::vector FROM generate_series(1, 768) i), 'doc ' || g,
         jsonb_build_object('g', g) FROM generate_series(1, 50) g`,
      );
      const rowsOf = async (table: string): Promise<string[]> =>
        (await pool.query(`SELECT (id, embedding::text, title, meta::text)::text AS r FROM "${table}" ORDER BY id`)).rows.map((r) =>
          String(r.r),
        );
      const repo = await memoryRepository();
      const full = await repo.snapshot(adapter, t, { incremental: true });
      // The core names the capture (a hash of the repository and the collection); the checkpoint says which.
      const captureId = String(full.manifest.checkpoint?.value.slot).replace(/^vectordr_/, '');
      captures.push(captureId);
      try {
        expect(full.kind).toBe('full');
        expect(full.manifest.checkpoint).toMatchObject({ kind: 'pg-slot' });
        const states = [{ id: full.manifest.id, rows: await rowsOf(t) }];
        for (const sql of [
          `UPDATE "${t}" SET title = 'payload only' WHERE id IN (3, 4)`,
          `DELETE FROM "${t}" WHERE id = 5; INSERT INTO "${t}" VALUES (51, '[${Array(768).fill(1).join(',')}]', 'new', NULL)`,
          `INSERT INTO "${t}" VALUES (5, '[${Array(768).fill(2).join(',')}]', 'back', '{"r": 1}'); UPDATE "${t}" SET meta = '{"m": 2}' WHERE id = 3`,
          `SELECT 1`,
        ]) {
          await pool.query(sql);
          const r = await repo.snapshot(adapter, t, { incremental: true });
          expect(r.kind, r.autoFull).toBe('incremental');
          expect(r.manifest.capture).toMatchObject({ mode: 'pgoutput', exact: true });
          states.push({ id: r.manifest.id, rows: await rowsOf(t) });
        }
        for (const [i, st] of states.entries()) {
          const target = tableName(`cap_e2e_r${i}`);
          await repo.restore(adapter, { collection: t, snapshot: st.id, target });
          expect(await rowsOf(target), `link ${i}`).toEqual(st.rows);
        }
        expect((await repo.verifyParity(adapter, { collection: t, snapshot: 'latest' })).ok).toBe(true);
      } finally {
        await adapter.dropCapture(captureId);
      }
    });

    it("fills a TOASTed vector from a snapshot taken before the link ends: a vector update racing the fill is the next link's", async () => {
      const t = tableName('cap_fill_race');
      await pool.query(`CREATE TABLE "${t}" (id int8 PRIMARY KEY, embedding vector(768), title text)`);
      await pool.query(
        `INSERT INTO "${t}" SELECT g, (SELECT array_agg(g + i * 0.001)::real[]::vector FROM generate_series(1, 768) i), 'doc ' || g
           FROM generate_series(1, 20) g`,
      );
      const rowsOf = async (table: string): Promise<string[]> =>
        (await pool.query(`SELECT (id, embedding::text, title)::text AS r FROM "${table}" ORDER BY id`)).rows.map((r) => String(r.r));
      const repo = await memoryRepository();
      const full = await repo.snapshot(adapter, t, { incremental: true });
      const captureId = String(full.manifest.checkpoint?.value.slot).replace(/^vectordr_/, '');
      captures.push(captureId);
      try {
        await pool.query(`UPDATE "${t}" SET title = 'payload only' WHERE id IN (3, 4)`);
        const atLink = await rowsOf(t);
        // After the link's end marker, before the core asks for the unsent vectors: a new vector for id 3.
        let filled: Id[] = [];
        const racing = Object.create(adapter) as PgvectorAdapter;
        racing.captureChanges = async (c, from, o) => {
          const session = await adapter.captureChanges(c, from, o);
          const fill = session.fill?.bind(session);
          expect(fill, 'a pool adapter reads unsent fields from its snapshot').toBeDefined();
          return Object.assign(Object.create(session) as ChangeSession, {
            fill: async (ids: readonly Id[]) => {
              await pool.query(
                `UPDATE "${t}" SET embedding = (SELECT array_agg(0.25)::real[]::vector FROM generate_series(1, 768)) WHERE id = 3`,
              );
              filled = [...ids];
              return (fill as NonNullable<ChangeSession['fill']>)(ids);
            },
          });
        };
        const l1 = await repo.snapshot(racing, t, { incremental: true });
        expect(l1.manifest.rows).toEqual({ upserts: 2, deletes: 0 });
        expect(filled).toEqual([3n, 4n]);
        const l2 = await repo.snapshot(adapter, t, { incremental: true });
        expect(l2.manifest.rows).toEqual({ upserts: 1, deletes: 0 });
        const [r1, r2] = [tableName('cap_fill_race_r1'), tableName('cap_fill_race_r2')];
        await repo.restore(adapter, { collection: t, snapshot: l1.manifest.id, target: r1 });
        expect(await rowsOf(r1)).toEqual(atLink);
        await repo.restore(adapter, { collection: t, snapshot: l2.manifest.id, target: r2 });
        expect(await rowsOf(r2)).toEqual(await rowsOf(t));
      } finally {
        await adapter.dropCapture(captureId);
      }
    });

    it('without a second connection (one pg.Client) fills TOASTed vectors from the chain', async () => {
      const t = tableName('cap_fill_client');
      await pool.query(`CREATE TABLE "${t}" (id int8 PRIMARY KEY, embedding vector(768), title text)`);
      await pool.query(
        `INSERT INTO "${t}" SELECT g, (SELECT array_agg(g - i * 0.001)::real[]::vector FROM generate_series(1, 768) i), 'doc ' || g
           FROM generate_series(1, 20) g`,
      );
      const rowsOf = async (table: string): Promise<string[]> =>
        (await pool.query(`SELECT (id, embedding::text, title)::text AS r FROM "${table}" ORDER BY id`)).rows.map((r) => String(r.r));
      const client = pgClient(url as string);
      await client.connect();
      const one = pgvectorAdapter({ client });
      const repo = await memoryRepository();
      let captureId: string | undefined;
      try {
        const full = await repo.snapshot(one, t, { incremental: true });
        captureId = String(full.manifest.checkpoint?.value.slot).replace(/^vectordr_/, '');
        captures.push(captureId);
        await pool.query(`UPDATE "${t}" SET title = 'payload only' WHERE id IN (5, 6, 7)`);
        const session = await one.captureChanges(t, full.manifest.checkpoint as Checkpoint, { captureId });
        expect(session.fill).toBeUndefined();
        await session.close();
        const l1 = await repo.snapshot(one, t, { incremental: true });
        expect(l1.manifest.rows).toEqual({ upserts: 3, deletes: 0 });
        const restored = tableName('cap_fill_client_r');
        await repo.restore(one, { collection: t, snapshot: l1.manifest.id, target: restored });
        expect(await rowsOf(restored)).toEqual(await rowsOf(t));
      } finally {
        if (captureId) await one.dropCapture(captureId);
        await client.end();
      }
    });

    // Only on the server of this file alone: restarting it cannot disturb another suite.
    it.runIf(server.ownServer)(
      'a PostgreSQL restart mid-chain (fast shutdown) loses nothing: the slot survives and the next link continues',
      async () => {
        const t = tableName('cap_restart');
        await pool.query(`CREATE TABLE "${t}" (id int8 PRIMARY KEY, embedding vector(3), title text)`);
        await pool.query(`INSERT INTO "${t}" SELECT g, '[1,2,3]', 't' || g FROM generate_series(1, 100) g`);
        const repo = await memoryRepository();
        const full = await repo.snapshot(adapter, t, { incremental: true });
        const captureId = String(full.manifest.checkpoint?.value.slot).replace(/^vectordr_/, '');
        captures.push(captureId);
        await pool.query(`UPDATE "${t}" SET title = 'before restart' WHERE id = 1`);
        expect((await repo.snapshot(adapter, t, { incremental: true })).manifest.rows).toEqual({ upserts: 1, deletes: 0 });
        await pool.query(`DELETE FROM "${t}" WHERE id = 2; UPDATE "${t}" SET title = 'uncaptured at the restart' WHERE id = 3`);
        const env = { ...process.env, VECTORDR_PG_MAJOR: '16', VECTORDR_PG_PORT: new URL(url as string).port };
        for (const command of ['stop', 'start']) {
          const r = spawnSync('bash', ['scripts/pg-server.sh', command], { env, encoding: 'utf8' });
          expect(r.status, r.stderr).toBe(0);
        }
        // The pool's idle connections died with the server: each fails once (57P01), as it would for the application.
        for (let i = 0; i < 8; i++) await pool.query('SELECT 1').catch(() => undefined);
        const link = await repo.snapshot(adapter, t, { incremental: true });
        expect(link.kind, link.autoFull).toBe('incremental');
        expect(link.manifest.rows).toEqual({ upserts: 1, deletes: 1 });
        await repo.restore(adapter, { collection: t, target: tableName('cap_restart_r') });
        expect((await repo.verifyParity(adapter, { collection: t, snapshot: 'latest' })).ok).toBe(true);
        await adapter.dropCapture(captureId);
      },
    );

    it('ids stay exact on a text key with trailing blanks (char(n)) in deletes', async () => {
      const t = tableName('cap_bpchar');
      const id = newCaptureId();
      await pool.query(`CREATE TABLE "${t}" (id char(5) PRIMARY KEY, e vector(2))`);
      await pool.query(`INSERT INTO "${t}" VALUES ('ab', '[1,2]'), ('cd', '[3,4]')`);
      try {
        const start = await startChain(t, id);
        expect([...start.records.keys()].sort()).toEqual(['ab', 'cd']);
        await pool.query(`DELETE FROM "${t}" WHERE id = 'ab'`);
        await pool.query(`UPDATE "${t}" SET e = '[0,0]' WHERE id = 'cd'`);
        const { changes } = await link(t, id, start.checkpoint);
        expect(changes.map((c): Id => (c.op === 'delete' ? c.id : c.record.id))).toEqual(['ab', 'cd']);
      } finally {
        await adapter.dropCapture(id);
      }
    });
  });

  /** The fidelity corpus's column types (test/pgvector/fidelity.test.ts) with edge values as input text; null = SQL NULL. */
  const TYPED_COLUMNS: [name: string, type: string, edges: (string | null)[]][] = [
    ['__proto__', 'jsonb', ['{"__proto__": {"x": 1}, "constructor": 1}', 'null', null]],
    ['constructor', 'boolean', [null, 'true', 'false']],
    ['i2', 'smallint', ['-32768', '32767', '0', null]],
    ['i4', 'integer', ['-2147483648', '2147483647']],
    ['i8', 'bigint', ['-9223372036854775808', '9223372036854775807', '9007199254740993']],
    ['f4', 'real', ['-0', 'NaN', 'Infinity', '-Infinity', '3.4028235e38', '1e-45', '0.1']],
    ['f8', 'double precision', ['-0', 'NaN', 'Infinity', '-Infinity', '1.7976931348623157e308', '5e-324', '0.1']],
    ['tx', 'text', ['', 'é☃😀', '{"a":1}', 'NULL', `'"\\`, 'L[0:1]={1}', '-0', '(a,"b")']],
    ['vc', 'varchar(10)', ['a ', '']],
    ['bp', 'char(3)', ['a', '']],
    ['nm', 'name', ['x', '']],
    ['u', 'uuid', ['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF']],
    [
      'tz',
      'timestamptz',
      ['infinity', '-infinity', '0044-03-15 10:00:00.5+00 BC', '12345-01-01 00:00:00+00', '2024-02-29 12:34:56.789012+00'],
    ],
    ['ts', 'timestamp', ['-infinity', '0044-03-15 10:00:00.5 BC', '12345-01-01 00:00:00', '2000-01-01 00:00:00']],
    ['d', 'date', ['0044-03-15 BC', '12345-06-07', 'infinity', '-infinity', '5874897-12-31']],
    ['j', 'json', ['{"b":1, "a":2, "b":3}', '1.50', '-0', '9007199254740993', 'null', '  [1, 2]  ']],
    ['jb', 'jsonb', ['{"a": 9007199254740993, "b": 1.50, "c": 1e400}', 'null', '"abc"', '[]', '-0', '0.0000001', '{"10": 1, "2": [1.0]}']],
    ['by', 'bytea', ['\\x', '\\x00ff10']],
    ['ai4', 'integer[]', ['{}', '{1,NULL,3}', '[0:2]={1,2,3}', '{{1,2},{3,4}}', '[-5:-5]={7}']],
    ['ai8', 'bigint[]', ['{9223372036854775807,NULL,-9007199254740993}']],
    ['af8', 'double precision[]', ['{-0,NaN,Infinity,-Infinity,1.5,NULL}']],
    ['af4', 'real[]', ['{-0,0.1,3.4028235e38}']],
    ['atx', 'text[]', ['{"",NULL,"NULL","a,b","é","\\"q\\""}', '{}']],
    ['ab', 'boolean[]', ['{t,NULL,f}']],
    ['au', 'uuid[]', ['{00000000-0000-0000-0000-000000000001,NULL}']],
    [
      'an',
      'numeric[]',
      ['{1.50,NaN,1e40,-0.000}', '{10000000000000000000000000000000000000001,0.1234567890123456789012345678901234567890}'],
    ],
    ['ajb', 'jsonb[]', ['{"\\"abc\\"","\\"123\\"","\\"true\\"",NULL,"null"}', '{"{\\"a\\": 1}"}', '{}']],
    ['aj', 'json[]', ['{"{\\"b\\":1, \\"a\\":2}","1.50",NULL}']],
    ['ad', 'date[]', ['{2024-01-01,NULL,"0044-03-15 BC",12345-01-01}']],
    ['atz', 'timestamptz[]', ['{"2024-01-01 00:00:00.000001+00","0044-03-15 10:00:00+00 BC",infinity}']],
    ['num', 'numeric', ['NaN', '1.50', '-0.000', '1e-40', '123456789012345678901234567890.123']],
    ['ch', '"char"', ['A', '\\201', '']],
    ['ach', '"char"[]', ['{A,"\\\\201",NULL}']],
    ['iv', 'interval', ['1 year 2 mons -3 days 04:05:06.000007']],
    ['ip', 'inet', ['10.0.0.1/8', '::1']],
  ];
  const VECTORS = ['[-0,1,2]', '[1e-45,3.4028235e38,-1]', '[0,0,0]'];

  /** "char" from its input text: text::"char" would take the first byte instead of parsing '\201'. */
  const castFrom = (param: string, type: string): string =>
    type === '"char"' ? `charin(${param}::text::cstring)` : `${param}::text::${type}`;
}
