/**
 * The repository/storage side of the hostile-repository cases of issue 22, played by an attacker who
 * can write any object but does not know the passphrase: every case on a given storage (filesystem,
 * MinIO), plaintext and encrypted. Each asserts a typed error, a skipped object or a finding — never
 * an untyped exception, never an object read whole beyond its cap.
 *   testUntrustedStore({ name: 'fs', create: async () => ({ storage, cleanup, setModified }) })
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { VectordrError } from '../../src/errors.js';
import { withChecksum } from '../../src/format/manifest.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import type { Storage } from '../../src/storage/storage.js';
import { expectError } from './errors.js';
import { openPglite } from './pglite.js';

export interface UntrustedStoreHarness {
  storage: Storage;
  cleanup(): Promise<void>;
  /** Sets an object's lastModified (a filesystem's mtime); absent where the store stamps it itself (S3). */
  setModified?(key: string, at: Date): Promise<void>;
}

export interface UntrustedStoreOptions {
  name: string;
  create(): Promise<UntrustedStoreHarness>;
}

const PASSPHRASE = 'correct horse battery staple';
const ENCRYPTION = { passphrase: PASSPHRASE, scrypt: { N: 2 ** 14 } };
/** A snapshot id newer than any a test writes (2099), and one that is older. */
const FUTURE_ID = '3ZZZZZZZZZ0000000000000000';

async function objectKeys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

export function testUntrustedStore(options: UntrustedStoreOptions): void {
  describe(`untrusted repository, storage side: ${options.name}`, () => {
    let db: PGlite;
    let adapter: PgvectorAdapter;
    beforeAll(async () => {
      ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4), t text);
        INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector, 'row ' || g FROM generate_series(1, 300) g;`));
    });
    afterAll(async () => {
      await db.close();
    });

    for (const encrypted of [false, true]) {
      const mode = encrypted ? 'encrypted' : 'plaintext';
      /** A repository on a fresh store with two snapshots of `docs` (ids s1 < s2). */
      async function twoSnapshots(): Promise<{ h: UntrustedStoreHarness; repo: Repository; s1: string; s2: string }> {
        const h = await options.create();
        const repo = await openRepository({ storage: h.storage, create: true, ...(encrypted ? { encryption: ENCRYPTION } : {}) });
        const s1 = (await repo.snapshot(adapter, 'docs')).manifest.id;
        await db.exec(`UPDATE docs SET t = 'changed' WHERE id = 1`);
        const s2 = (await repo.snapshot(adapter, 'docs')).manifest.id;
        return { h, repo, s1, s2 };
      }
      const reopen = (storage: Storage): Promise<Repository> =>
        openRepository({ storage, ...(encrypted ? { encryption: ENCRYPTION } : {}) });

      describe(mode, () => {
        it('an oversized config is OBJECT_TOO_LARGE naming the key and the cap, not read', async () => {
          const h = await options.create();
          try {
            await h.storage.put('vectordr.json', new Uint8Array(64 * 1024 + 1).fill(0x20));
            const err = (await expectError(reopen(h.storage), 'OBJECT_TOO_LARGE')) as VectordrError;
            expect(err.details).toMatchObject({ key: 'vectordr.json', maxBytes: 65536 });
          } finally {
            await h.cleanup();
          }
        });

        it('a junk object under snapshots/ never blocks list or latest: skipped with its key in listSnapshots().invalid', async () => {
          const { h, repo, s2 } = await twoSnapshots();
          try {
            const junkKey = `snapshots/docs/${FUTURE_ID}.json`;
            await h.storage.put(junkKey, Buffer.from('this is not a manifest'));
            expect((await repo.list()).map((s) => s.id)).toHaveLength(2);
            const listing = await repo.listSnapshots();
            expect(listing.invalid).toEqual([expect.objectContaining({ key: junkKey, code: 'MANIFEST_INVALID' })]);
            expect((await repo.readManifest('docs', 'latest')).id).toBe(s2);
            await db.exec('DROP TABLE IF EXISTS restored_junk');
            await repo.restore(adapter, { collection: 'docs', target: 'restored_junk' });
            expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM restored_junk')).rows[0]?.n).toBe(300);
            await db.exec('DROP TABLE restored_junk');
          } finally {
            await h.cleanup();
          }
        });

        it('an oversized manifest is skipped unread; plaintext latest falls back to the newest valid one, encrypted latest refuses (ROLLBACK_DETECTED)', async () => {
          const { h, repo, s1, s2 } = await twoSnapshots();
          try {
            await h.storage.put(`snapshots/docs/${s2}.json`, new Uint8Array(16 * 1024 * 1024 + 64));
            const listing = await repo.listSnapshots();
            expect(listing.snapshots.map((s) => s.id)).toEqual([s1]);
            expect(listing.invalid.map((i) => i.code)).toEqual(['OBJECT_TOO_LARGE']);
            if (encrypted) {
              const err = await expectError(repo.readManifest('docs', 'latest'), 'ROLLBACK_DETECTED');
              expect(err.message).toContain(s2);
              expect((await repo.headFindings()).map((f) => [f.code, f.snapshotId])).toEqual([['ROLLBACK_DETECTED', s2]]);
            } else {
              expect((await repo.readManifest('docs', 'latest')).id).toBe(s1);
              expect(await repo.headFindings()).toEqual([]);
            }
            // Prune cannot know what an unreadable manifest needs: it deletes nothing.
            await expectError(repo.prune({ graceMs: 0 }), 'PRUNE_UNSAFE');
          } finally {
            await h.cleanup();
          }
        });

        it('verify after the newest manifest was deleted: a head finding when encrypted; plaintext cannot tell (docs/security.md)', async () => {
          const { h, repo, s1, s2 } = await twoSnapshots();
          try {
            await h.storage.delete(`snapshots/docs/${s2}.json`);
            const report = await repo.verify();
            expect(report.snapshots.map((s) => [s.snapshot, s.ok])).toEqual([[s1, true]]);
            expect(report.heads.map((f) => [f.code, f.snapshot])).toEqual(encrypted ? [['ROLLBACK_DETECTED', s2]] : []);
            expect(report.ok).toBe(!encrypted);
          } finally {
            await h.cleanup();
          }
        });

        it('a segment replaced by a larger object is refused by its declared size without being read whole', async () => {
          const { h, repo } = await twoSnapshots();
          try {
            const [segment] = await objectKeys(h.storage, 'data/');
            await h.storage.put(segment as string, new Uint8Array(8 * 1024 * 1024));
            const seen: (number | undefined)[] = [];
            const get = h.storage.get.bind(h.storage);
            h.storage.get = async (key, o) => {
              if (key === segment) seen.push(o?.maxBytes);
              return get(key, o);
            };
            await db.exec('DROP TABLE IF EXISTS restored_big');
            // restore checks the size by stat before it reads; verify reads with the declared size as cap.
            await expectError(repo.restore(adapter, { collection: 'docs', snapshot: 'latest', target: 'restored_big' }), 'SEGMENT_CORRUPT');
            const report = await repo.verify();
            expect(report.ok).toBe(false);
            expect(JSON.stringify(report)).toContain('SEGMENT_CORRUPT');
            expect(seen.length).toBeGreaterThan(0);
            expect(seen.every((m) => m !== undefined && m < 8 * 1024 * 1024)).toBe(true);
            h.storage.get = get;
          } finally {
            await h.cleanup();
          }
        });

        it('an oversized lock is LOCK_SUSPICIOUS naming its key and unlock --force; unlock({ force: true }) clears it', async () => {
          const { h, repo } = await twoSnapshots();
          try {
            const key = 'locks/01J00000000000000000000000.json';
            await h.storage.put(key, new Uint8Array(200 * 1024).fill(0x7b));
            const err = await expectError(repo.prune(), 'LOCK_SUSPICIOUS');
            expect(err.message).toContain(key);
            expect(err.message).toContain('unlock --force');
            expect((await repo.unlock()).removed).toEqual([]);
            expect((await repo.unlock({ force: true })).removed).toEqual([expect.objectContaining({ key, suspicious: 'oversized' })]);
            await repo.prune();
          } finally {
            await h.cleanup();
          }
        });

        it('a lock body the attacker wrote: blocks a plaintext repository like any lock, is ignored (unauthenticated) in an encrypted one', async () => {
          const { h, repo } = await twoSnapshots();
          try {
            const body = { formatVersion: 1, exclusive: true, operation: 'evil', host: 'x', pid: 1, createdAt: new Date().toISOString() };
            await h.storage.put('locks/01J00000000000000000000002.json', Buffer.from(JSON.stringify(body)));
            if (encrypted) {
              const report = await repo.prune();
              expect(report.staleLocksRemoved).toBe(1);
            } else {
              await expectError(repo.prune(), 'LOCKED');
            }
          } finally {
            await h.cleanup();
          }
        });

        it('a lock dated in 2099 is never an eternal block: stale (future-dated), removed by prune', async () => {
          const { h, repo } = await twoSnapshots();
          try {
            if (!h.setModified) return; // S3 stamps lastModified itself: a lock cannot be dated ahead there
            const body = { formatVersion: 1, exclusive: true, operation: 'x', host: 'x', pid: 1, createdAt: '2099-01-01T00:00:00Z' };
            const key = 'locks/01J00000000000000000000003.json';
            await h.storage.put(key, Buffer.from(JSON.stringify(body)));
            await h.setModified(key, new Date('2099-01-01T00:00:00Z'));
            const [lock] = await repo.locks();
            // Encrypted, the attacker's body is also unauthenticated; the date alone makes it stale either way.
            expect(lock).toMatchObject({
              key,
              stale: true,
              staleReason: 'future-dated',
              suspicious: encrypted ? 'unauthenticated' : 'future-dated',
            });
            expect((await repo.prune()).staleLocksRemoved).toBe(1);
          } finally {
            await h.cleanup();
          }
        });

        it('a plaintext manifest whose checksum was deleted is refused, as v2 and as v1', async () => {
          if (encrypted) return; // sealed manifests cannot be edited at all
          const { h, repo, s2 } = await twoSnapshots();
          try {
            const key = `snapshots/docs/${s2}.json`;
            const m = JSON.parse(Buffer.from(await h.storage.get(key)).toString('utf8')) as Record<string, unknown>;
            const { checksum: _c, features: _f, ...rest } = m;
            await h.storage.put(key, Buffer.from(JSON.stringify({ ...m, checksum: undefined })));
            await expectError(repo.readManifest('docs', s2), 'MANIFEST_INVALID');
            await h.storage.put(key, Buffer.from(JSON.stringify({ ...rest, formatVersion: 1 })));
            const err = await expectError(repo.readManifest('docs', s2), 'MANIFEST_INVALID');
            expect(err.message).toContain('0.1.0');
          } finally {
            await h.cleanup();
          }
        });

        it('a manifest nested 100,000 levels deep is MANIFEST_INVALID (no stack overflow) and skipped by list', async () => {
          if (encrypted) return;
          const { h, repo, s1, s2 } = await twoSnapshots();
          try {
            const key = `snapshots/docs/${s2}.json`;
            const m = JSON.parse(Buffer.from(await h.storage.get(key)).toString('utf8')) as { schema: Record<string, unknown> };
            const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
            const text = JSON.stringify(m).replace('"schema":{', `"schema":{"native":${deep},`);
            await h.storage.put(key, Buffer.from(text));
            await expectError(repo.readManifest('docs', s2), 'MANIFEST_INVALID');
            expect((await repo.list()).map((s) => s.id)).toEqual([s1]);
          } finally {
            await h.cleanup();
          }
        });

        if (encrypted) {
          it('scrypt parameters from the config are bounded before any derivation: p=30000, N=2^21, N=3 are CONFIG_INVALID saying the bound', async () => {
            const { h } = await twoSnapshots();
            try {
              const original = JSON.parse(Buffer.from(await h.storage.get('vectordr.json')).toString('utf8')) as {
                encryption: { wrap: Record<string, unknown> };
              };
              for (const [change, bound] of [
                [{ p: 30_000 }, 'p must be at most 16'],
                [{ N: 2 ** 21 }, 'N must be at most 2^20'],
                [{ N: 3 }, 'power of two'],
                [{ r: 1000 }, 'r must be at most 32'],
              ] as const) {
                const cfg = { ...original, encryption: { ...original.encryption, wrap: { ...original.encryption.wrap, ...change } } };
                await h.storage.put('vectordr.json', withChecksum(cfg));
                const started = Date.now();
                const err = await expectError(reopen(h.storage), 'CONFIG_INVALID');
                expect(err.message).toContain(bound);
                expect(Date.now() - started).toBeLessThan(2_000);
              }
            } finally {
              await h.cleanup();
            }
          });

          it('the key derivation honours an AbortSignal', async () => {
            const h = await options.create();
            try {
              await openRepository({ storage: h.storage, create: true, encryption: { passphrase: PASSPHRASE } }); // N = 2^17
              const ac = new AbortController();
              const started = Date.now();
              setTimeout(() => ac.abort(), 5);
              await expectError(
                openRepository({ storage: h.storage, encryption: { passphrase: PASSPHRASE }, signal: ac.signal }),
                'ABORTED',
              );
              expect(Date.now() - started).toBeLessThan(1_000);
            } finally {
              await h.cleanup();
            }
          });

          it('rollback: the newest manifest deleted makes latest refuse (ROLLBACK_DETECTED) and prune refuse, until acceptRollback', async () => {
            const { h, repo, s1, s2 } = await twoSnapshots();
            try {
              await h.storage.delete(`snapshots/docs/${s2}.json`);
              await expectError(repo.readManifest('docs', 'latest'), 'ROLLBACK_DETECTED');
              await db.exec('DROP TABLE IF EXISTS restored_rb');
              await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored_rb' }), 'ROLLBACK_DETECTED');
              expect((await repo.readManifest('docs', s1)).id).toBe(s1); // by id: still restorable
              expect((await repo.headFindings()).map((f) => f.code)).toEqual(['ROLLBACK_DETECTED']);
              await expectError(repo.prune({ graceMs: 0 }), 'ROLLBACK_DETECTED');
              await repo.prune({ graceMs: 0, acceptRollback: true });
              expect((await repo.readManifest('docs', 'latest')).id).toBe(s1);
              expect(await repo.headFindings()).toEqual([]);
            } finally {
              await h.cleanup();
            }
          });

          it('replay: a forgotten snapshot re-uploaded from a saved copy is REPLAY_DETECTED, never listed or picked as latest, and prune removes it', async () => {
            const { h, repo, s1, s2 } = await twoSnapshots();
            try {
              const key = `snapshots/docs/${s2}.json`;
              const saved = await h.storage.get(key);
              await repo.forgetSnapshots([s2], { collection: 'docs' });
              await h.storage.put(key, saved);
              expect((await repo.headFindings()).map((f) => [f.code, f.snapshotId])).toEqual([['REPLAY_DETECTED', s2]]);
              const listing = await repo.listSnapshots();
              expect(listing.snapshots.map((s) => s.id)).toEqual([s1]);
              expect(listing.invalid.map((i) => i.code)).toEqual(['REPLAY_DETECTED']);
              expect((await repo.readManifest('docs', 'latest')).id).toBe(s1);
              const report = await repo.prune({ graceMs: 0 });
              expect(report.replayed).toEqual([key]);
              expect(await h.storage.stat(key)).toBeUndefined();
              expect(await repo.headFindings()).toEqual([]);
            } finally {
              await h.cleanup();
            }
          });

          it('verify reports rollback and replay as findings with the head key, per collection, and never throws', async () => {
            const { h, repo, s1, s2 } = await twoSnapshots();
            try {
              await db.exec(`CREATE TABLE IF NOT EXISTS docs_b (id int8 PRIMARY KEY, e vector(4));
                INSERT INTO docs_b VALUES (1, '[1,2,3,4]') ON CONFLICT DO NOTHING`);
              const b1 = (await repo.snapshot(adapter, 'docs_b')).manifest.id;
              const b2 = (await repo.snapshot(adapter, 'docs_b')).manifest.id;
              // docs: its newest manifest deleted (rollback); docs_b: a forgotten snapshot put back (replay).
              await h.storage.delete(`snapshots/docs/${s2}.json`);
              const saved = await h.storage.get(`snapshots/docs_b/${b1}.json`);
              await repo.forgetSnapshots([b1], { collection: 'docs_b' });
              await h.storage.put(`snapshots/docs_b/${b1}.json`, saved);
              const report = await repo.verify();
              expect(report.ok).toBe(false);
              expect(report.heads.map((f) => [f.code, f.collection, f.snapshot, f.key])).toEqual([
                ['ROLLBACK_DETECTED', 'docs', s2, 'heads/docs.json'],
                ['REPLAY_DETECTED', 'docs_b', b1, 'heads/docs_b.json'],
              ]);
              const bySnapshot = Object.fromEntries(report.snapshots.map((s) => [s.snapshot, s]));
              expect(bySnapshot[s1]?.ok).toBe(true);
              expect(bySnapshot[b2]?.ok).toBe(true);
              expect(bySnapshot[b1]?.problems).toEqual([expect.objectContaining({ code: 'REPLAY_DETECTED', key: 'heads/docs_b.json' })]);
              expect(JSON.parse(JSON.stringify(report)).heads).toHaveLength(2);
              // Restricted to one collection: only its findings.
              expect((await repo.verify({ collection: 'docs_b' })).heads.map((f) => f.code)).toEqual(['REPLAY_DETECTED']);

              // A head that cannot be read (storage failing on it) is a finding for its collection; the other's still shows.
              const get = h.storage.get.bind(h.storage);
              h.storage.get = async (key, o) => {
                if (key === 'heads/docs_b.json') throw new Error('connection reset');
                return get(key, o);
              };
              const partial = await repo.verify();
              expect(partial.heads.map((f) => [f.code, f.collection])).toEqual([
                ['ROLLBACK_DETECTED', 'docs'],
                ['HEAD_UNCHECKED', 'docs_b'],
              ]);
              expect(partial.heads[1]?.message).toContain('connection reset');
              expect(partial.snapshots).toHaveLength(3);
            } finally {
              await db.exec('DROP TABLE IF EXISTS docs_b');
              await h.cleanup();
            }
          });

          it('head rollback: an older copy of the head put back is detected by the newer manifest; a deleted head too', async () => {
            const h = await options.create();
            try {
              const repo = await openRepository({ storage: h.storage, create: true, encryption: ENCRYPTION });
              await repo.snapshot(adapter, 'docs');
              const headKey = 'heads/docs.json';
              const oldHead = await h.storage.get(headKey);
              await repo.snapshot(adapter, 'docs');
              await h.storage.put(headKey, oldHead);
              await expectError(repo.readManifest('docs', 'latest'), 'ROLLBACK_DETECTED');
              expect((await repo.headFindings()).map((f) => f.code)).toContain('ROLLBACK_DETECTED');
              await h.storage.delete(headKey);
              await expectError(repo.readManifest('docs', 'latest'), 'ROLLBACK_DETECTED');
              await h.storage.put(headKey, Buffer.from('{"formatVersion":1}'));
              await expectError(repo.readManifest('docs', 'latest'), 'ROLLBACK_DETECTED');
            } finally {
              await h.cleanup();
            }
          });
        }
      });
    }
  });
}
