/**
 * Encryption, dedup, retention, prune and locks on a filesystem repository, with PGlite as the source.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { KeyWrapper } from '../../src/format/encryption.js';
import { applyRetention } from '../../src/repository/retention.js';
import { openRepository, type OpenRepositoryOptions } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { flipRandomBit, tempDir, writeDeadProcessLock } from '../helpers/repository.js';

const FAST_KDF = { N: 2 ** 14, r: 8, p: 1 };

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out.sort();
}

async function bytesUnder(dir: string): Promise<number> {
  let n = 0;
  for (const f of await filesUnder(dir)) n += (await readFile(f)).length;
  return n;
}

/** A stand-in for a KMS: AES-256-GCM under a key the "KMS" holds. */
function testKms(keyId: string): KeyWrapper {
  const kek = randomBytes(32);
  return {
    keyId,
    async wrap(key) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', kek, iv);
      return Buffer.concat([iv, c.update(key), c.final(), c.getAuthTag()]);
    },
    async unwrap(blob) {
      const b = Buffer.from(blob);
      const d = createDecipheriv('aes-256-gcm', kek, b.subarray(0, 12));
      d.setAuthTag(b.subarray(b.length - 16));
      return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
    },
  };
}

describe('repository lifecycle: encryption, dedup, retention, prune, locks', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  const dirs: string[] = [];
  const newDir = async (): Promise<string> => {
    const d = await tempDir('vectordr-life-');
    dirs.push(d);
    return d;
  };
  const open = (dir: string, extra: Partial<OpenRepositoryOptions> = {}) =>
    openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true, ...extra });

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(8), t text);
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, 7]::real[]::vector, 'secret-payload-' || g FROM generate_series(1, 3000) g;
      CREATE TABLE docs_copy AS SELECT * FROM docs; ALTER TABLE docs_copy ADD PRIMARY KEY (id);`));
  });
  afterAll(async () => {
    await db.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  describe('encryption', () => {
    it('encrypts segments and manifests; the config holds a key check and a wrapped key, never the key', async () => {
      const dir = await newDir();
      const repo = await open(dir, { encryption: { passphrase: 'correct horse battery', scrypt: FAST_KDF } });
      expect(repo.encrypted).toBe(true);
      const { manifest } = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      for (const f of await filesUnder(dir)) {
        const raw = await readFile(f);
        if (f.endsWith('vectordr.json')) continue;
        expect(raw.includes('secret-payload-'), f).toBe(false);
        expect(raw.includes('"collection"'), f).toBe(false);
        expect(raw.subarray(0, 4).toString()).toBe('VDRE');
      }
      const config = JSON.parse(await readFile(path.join(dir, 'vectordr.json'), 'utf8'));
      expect(config.encryption).toMatchObject({
        algorithm: 'aes-256-gcm',
        segmentIds: 'hmac-sha256',
        wrap: { kind: 'scrypt', N: FAST_KDF.N },
      });
      expect(Object.keys(config.encryption).sort()).toEqual(['algorithm', 'keyCheck', 'segmentIds', 'wrap', 'wrappedKey']);

      // Reopen with the passphrase: restore and verify work, ids round-trip.
      const again = await open(dir, { encryption: { passphrase: 'correct horse battery' } });
      expect((await again.verify()).ok).toBe(true);
      await again.restore(adapter, { collection: 'docs', snapshot: manifest.id, target: 'docs_enc_restored' });
      const parity = await again.verifyParity(adapter, { collection: 'docs', live: 'docs_enc_restored', snapshot: manifest.id });
      expect(parity.ok).toBe(true);
    });

    it('a wrong passphrase fails fast with WRONG_KEY; no key gives KEY_REQUIRED; a key for a plaintext repository gives NOT_ENCRYPTED', async () => {
      const dir = await newDir();
      await open(dir, { encryption: { passphrase: 'correct horse battery', scrypt: FAST_KDF } });
      const t0 = performance.now();
      const err = await expectError(open(dir, { encryption: { passphrase: 'wrong horse battery' } }), 'WRONG_KEY');
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(err.message).not.toContain('wrong horse');
      await expectError(open(dir), 'KEY_REQUIRED');
      await expectError(open(dir, { encryption: { key: new Uint8Array(32) } }), 'WRONG_KEY');
      const plain = await newDir();
      await open(plain);
      await expectError(open(plain, { encryption: { passphrase: 'whatever123' } }), 'NOT_ENCRYPTED');
      await expectError(open(await newDir(), { encryption: { passphrase: 'short' } }), 'INVALID_OPTIONS');
      await expectError(open(await newDir(), { encryption: { key: new Uint8Array(16) } }), 'INVALID_OPTIONS');
      await expectError(open(await newDir(), { encryption: { key: 'k'.repeat(32) as unknown as Uint8Array } }), 'INVALID_OPTIONS');
    });

    it('works with a raw 32-byte key and with a KMS hook', async () => {
      const key: Uint8Array = randomBytes(32); // typed as a plain Uint8Array (ArrayBufferLike), as a user's key often is
      const d1 = await newDir();
      await (await open(d1, { encryption: { key } })).snapshot(adapter, 'docs');
      expect((await (await open(d1, { encryption: { key } })).verify()).ok).toBe(true);
      await expectError(open(d1, { encryption: { key: randomBytes(32) } }), 'WRONG_KEY');

      const kms = testKms('arn:aws:kms:eu-west-1:000000000000:key/test');
      const d2 = await newDir();
      await (await open(d2, { encryption: { kms } })).snapshot(adapter, 'docs');
      expect((await (await open(d2, { encryption: { kms } })).verify()).ok).toBe(true);
      await expectError(open(d2, { encryption: { kms: testKms('other') } }), 'WRONG_KEY');
      const config = JSON.parse(await readFile(path.join(d2, 'vectordr.json'), 'utf8'));
      expect(config.encryption.wrap).toEqual({ kind: 'kms', keyId: 'arn:aws:kms:eu-west-1:000000000000:key/test' });
    });

    it('a flipped bit in an encrypted segment or manifest is detected by verify and refused by restore', async () => {
      const dir = await newDir();
      const opts = { encryption: { passphrase: 'correct horse battery', scrypt: FAST_KDF } };
      const repo = await open(dir, opts);
      const { manifest } = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      const seg = path.join(dir, manifest.segments[1]?.key as string);
      const original = await readFile(seg);
      for (let trial = 0; trial < 5; trial++) {
        await writeFile(seg, flipRandomBit(original).bad);
        const report = await repo.verify();
        expect(report.ok).toBe(false);
        expect(report.snapshots[0]?.problems.map((p) => p.code)).toContain('SEGMENT_CORRUPT');
        await expectError(repo.restore(adapter, { collection: 'docs', target: 'docs_never' }), 'SEGMENT_CORRUPT');
      }
      await writeFile(seg, original);
      expect((await repo.verify()).ok).toBe(true);
      const mfile = path.join(dir, 'snapshots', 'docs', `${manifest.id}.json`);
      const m = await readFile(mfile);
      m[100] = (m[100] as number) ^ 4;
      await writeFile(mfile, m);
      expect((await repo.verify()).snapshots[0]?.problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);
      await expectError(repo.restore(adapter, { collection: 'docs', snapshot: manifest.id, target: 'docs_never' }), 'MANIFEST_INVALID');
      expect((await db.query(`SELECT to_regclass('docs_never') AS t`)).rows[0]).toEqual({ t: null });
    });
  });

  describe('dedup', () => {
    it('stores unchanged segments once across snapshots and collections, plaintext and encrypted', async () => {
      for (const encryption of [undefined, { passphrase: 'correct horse battery', scrypt: FAST_KDF }]) {
        const dir = await newDir();
        const repo = await open(dir, encryption ? { encryption } : {});
        const first = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
        const after1 = await bytesUnder(path.join(dir, 'data'));
        const second = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
        const other = await repo.snapshot(adapter, 'docs_copy', { segmentBytes: 64 * 1024 });
        const after3 = await bytesUnder(path.join(dir, 'data'));
        expect(first.uploadedSegments).toBe(first.manifest.segments.length);
        expect(second.uploadedSegments).toBe(0);
        expect(other.uploadedSegments).toBe(0);
        // Three snapshots' worth of data, stored once: a 3x saving.
        const logical = [first, second, other].reduce((s, r) => s + r.manifest.segments.reduce((t, x) => t + x.bytes, 0), 0);
        expect(after3).toBe(after1);
        expect(logical / after3).toBeGreaterThan(2.9);
      }
    });

    it('two encrypted repositories address equal content differently (keyed hashes leak nothing)', async () => {
      const keysOf = async (): Promise<string[]> => {
        const dir = await newDir();
        const repo = await open(dir, { encryption: { passphrase: 'correct horse battery', scrypt: FAST_KDF } });
        return (await repo.snapshot(adapter, 'docs')).manifest.segments.map((s) => s.key);
      };
      const [a, b] = [await keysOf(), await keysOf()];
      const plainDir = await newDir();
      const plain = (await (await open(plainDir)).snapshot(adapter, 'docs')).manifest.segments.map((s) => s.key);
      expect(a.some((k) => b.includes(k) || plain.includes(k))).toBe(false);
    });
  });

  describe('retention', () => {
    const at = (iso: string, i: number) => ({ id: `S${String(i).padStart(3, '0')}`, createdAt: iso, parent: null });
    // Every 6 hours for 70 days, newest last.
    const series = Array.from({ length: 70 * 4 }, (_, i) => at(new Date(Date.UTC(2026, 0, 1) + i * 6 * 3_600_000).toISOString(), i));

    it('keepLast / keepDaily / keepWeekly / keepMonthly keep what restic would', () => {
      expect(applyRetention(series, { keepLast: 3 }).keep.map((k) => k.id)).toEqual(['S279', 'S278', 'S277']);
      const daily = applyRetention(series, { keepDaily: 7 }).keep;
      expect(daily).toHaveLength(7);
      expect(daily.every((k) => k.createdAt.endsWith('T18:00:00.000Z'))).toBe(true); // newest of each day
      const weekly = applyRetention(series, { keepWeekly: 4 }).keep;
      expect(weekly).toHaveLength(4);
      expect(new Set(weekly.map((k) => k.reasons[0])).size).toBe(4);
      const monthly = applyRetention(series, { keepMonthly: 12 }).keep;
      expect(monthly.map((k) => k.createdAt.slice(0, 7))).toEqual(['2026-03', '2026-02', '2026-01']);
      expect(monthly[2]?.createdAt).toBe('2026-01-31T18:00:00.000Z');
      const combined = applyRetention(series, { keepLast: 2, keepDaily: 3, keepMonthly: 2 });
      expect(combined.keep.length + combined.remove.length).toBe(series.length);
      expect(combined.keep[0]?.reasons).toEqual(['last 1/2', 'daily 2026-03-11', 'monthly 2026-03']);
    });

    it('keeps the parents of a kept incremental snapshot, and refuses an empty policy', async () => {
      const chain = [
        { id: 'A', createdAt: '2026-01-01T00:00:00Z', parent: null },
        { id: 'B', createdAt: '2026-01-02T00:00:00Z', parent: 'A' },
        { id: 'C', createdAt: '2026-01-03T00:00:00Z', parent: 'B' },
      ];
      const d = applyRetention(chain, { keepLast: 1 });
      expect(d.keep.map((k) => [k.id, k.reasons[0]])).toEqual([
        ['C', 'last 1/1'],
        ['B', 'parent of C'],
        ['A', 'parent of C'],
      ]);
      expect(() => applyRetention(chain, {})).toThrow(/must keep something/);
      expect(() => applyRetention(chain, { keepLast: 0 })).toThrow(/must keep something/);
      expect(() => applyRetention(chain, { keepLast: -1 })).toThrow(/Invalid retention policy/);
    });
  });

  describe('forget and prune', () => {
    it('forget removes manifests by policy (dry run changes nothing); prune deletes only unreferenced data', async () => {
      const dir = await newDir();
      const repo = await open(dir);
      await db.exec(`CREATE TABLE churn AS SELECT * FROM docs; ALTER TABLE churn ADD PRIMARY KEY (id);`);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        await db.exec(`UPDATE churn SET t = 'v${i}-' || id WHERE id > ${3000 - 500 * (i + 1)}`);
        ids.push((await repo.snapshot(adapter, 'churn', { segmentBytes: 64 * 1024 })).manifest.id);
      }
      const before = await filesUnder(dir);
      const dry = await repo.forget({ keepLast: 2 }, { dryRun: true });
      expect(dry.collections[0]?.remove.map((r) => r.id).sort()).toEqual(ids.slice(0, 2).sort());
      expect(dry.removed).toBe(0);
      expect(await filesUnder(dir)).toEqual(before);

      const done = await repo.forget({ keepLast: 2 });
      expect(done.removed).toBe(2);
      expect((await repo.list()).map((s) => s.id)).toEqual(ids.slice(2));

      const dryPrune = await repo.prune({ dryRun: true });
      expect(dryPrune.unreferenced.segments).toBeGreaterThan(0);
      expect(dryPrune.deleted).toBe(0);
      const segsBefore = (await filesUnder(path.join(dir, 'data'))).length;
      const pruned = await repo.prune({ graceMs: 0 }); // the forgotten data was written moments ago
      expect(pruned.deleted).toBe(dryPrune.unreferenced.segments);
      expect((await filesUnder(path.join(dir, 'data'))).length).toBe(segsBefore - pruned.deleted);
      expect(pruned.referenced.segments).toBe((await filesUnder(path.join(dir, 'data'))).length);
      expect((await repo.verify()).ok).toBe(true);
      expect((await repo.prune()).deleted).toBe(0);
      await repo.restore(adapter, { collection: 'churn', snapshot: ids[2] as string, target: 'churn_restored' });
      expect((await repo.verifyParity(adapter, { collection: 'churn', snapshot: ids[2] as string, live: 'churn_restored' })).ok).toBe(true);
    });

    it('prune refuses to delete anything when a manifest cannot be read', async () => {
      const dir = await newDir();
      const repo = await open(dir);
      const { manifest } = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      await writeFile(path.join(dir, 'data', 'ab', `ab${'0'.repeat(62)}`), 'orphan').catch(async () => {
        await (await import('node:fs/promises')).mkdir(path.join(dir, 'data', 'ab'), { recursive: true });
        await writeFile(path.join(dir, 'data', 'ab', `ab${'0'.repeat(62)}`), 'orphan');
      });
      await writeFile(path.join(dir, 'snapshots', 'docs', `${manifest.id}.json`), '{ damaged');
      const before = await filesUnder(dir);
      await expectError(repo.prune(), 'PRUNE_UNSAFE');
      expect((await filesUnder(dir)).filter((f) => !f.includes(`${path.sep}locks${path.sep}`))).toEqual(before);
    });
  });

  describe('locks', () => {
    it('prune waits for or refuses a live snapshot lock, names the holder, and removes a stale one', async () => {
      const dir = await newDir();
      const repo = await open(dir);
      const shared = await repo.lock({ exclusive: false, operation: 'snapshot docs' });
      const err = await expectError(repo.prune(), 'LOCKED');
      expect(err.message).toContain('"snapshot docs"');
      expect(err.message).toContain(`pid ${process.pid}`);
      // Two shared locks coexist.
      const other = await repo.lock({ exclusive: false, operation: 'restore docs' });
      await other.release();
      await shared.release();
      // With waitMs, prune gets the lock once the holder lets go.
      const waited = await openRepository({ storage: fsStorage({ path: dir }), locks: { waitMs: 5_000 } });
      const s2 = await waited.lock({ exclusive: false, operation: 'snapshot x' });
      setTimeout(() => void s2.release(), 300);
      expect((await waited.prune()).deleted).toBe(0);

      // A lock of a process on this host (same PID namespace, same boot) that is gone: stale at once.
      await writeDeadProcessLock(dir);
      // A lock of another host: live until it has not been refreshed for staleAfterMs.
      const foreign = path.join(dir, 'locks', '01J00000000000000000000001.json');
      await writeFile(
        foreign,
        JSON.stringify({
          formatVersion: 1,
          exclusive: false,
          operation: 'snapshot elsewhere',
          host: 'other-host',
          pid: 1,
          createdAt: new Date().toISOString(),
        }),
      );
      expect((await repo.locks()).map((l) => [l.operation, l.stale])).toEqual([
        ['snapshot crashed', true],
        ['snapshot elsewhere', false],
      ]);
      await expectError(repo.prune(), 'LOCKED');
      const old = new Date(Date.now() - 2 * 3_600_000);
      await utimes(foreign, old, old);
      const r = await repo.prune();
      expect(r.staleLocksRemoved).toBe(2);
      expect(await readdir(path.join(dir, 'locks'))).toEqual([]);
    });

    it('prune racing a running snapshot: refused (LOCKED) or, with waitMs, run after it; the snapshot is intact', async () => {
      const dir = await newDir();
      const inner = fsStorage({ path: dir, fsync: false });
      // Every segment upload takes 40 ms, so the snapshot is still uploading when prune starts.
      const slow: Storage = {
        name: inner.name,
        location: inner.location,
        get: (k, o) => inner.get(k, o),
        stat: (k) => inner.stat(k),
        list: (p, o) => inner.list(p, o),
        delete: (k) => inner.delete(k),
        put: async (k, d, o) => {
          if (k.startsWith('data/')) await new Promise((r) => setTimeout(r, 40));
          return inner.put(k, d, o);
        },
      };
      const repo = await openRepository({ storage: slow, create: true });
      await db.exec(`UPDATE docs_copy SET t = 'race ' || id`);
      const running = repo.snapshot(adapter, 'docs_copy', { segmentBytes: 64 * 1024 });
      await new Promise((r) => setTimeout(r, 150));
      const err = await expectError(repo.prune(), 'LOCKED');
      expect(err.message).toContain('"snapshot docs_copy"');
      const patient = await openRepository({ storage: slow, locks: { waitMs: 30_000 } });
      const pruned = await patient.prune();
      const { manifest } = await running;
      expect(pruned.deleted).toBe(0);
      expect((await repo.verify()).ok).toBe(true);
      expect((await repo.list()).map((x) => x.id)).toEqual([manifest.id]);
    });

    it('a snapshot whose lock was not refreshed in time commits nothing (LOCK_LOST)', async () => {
      const dir = await newDir();
      const repo = await open(dir, { locks: { staleAfterMs: 1_000, refreshMs: 60_000 } });
      const stall = (e: { phase: string }): void => {
        if (e.phase !== 'commit') return;
        const until = Date.now() + 700;
        while (Date.now() < until); // a paused process: no refresh can run
      };
      await expectError(repo.snapshot(adapter, 'docs', { onProgress: stall }), 'LOCK_LOST');
      expect(await repo.list()).toEqual([]);
      expect((await repo.prune({ graceMs: 0 })).deleted).toBeGreaterThan(0);
    });
  });
});
