/**
 * Format v2's reading rules (docs/format.md, "Format v2 — decided once"): the checksum cannot be
 * switched off by a flipped bit, unknown keys and features are refused, v1 stays readable, and a
 * damaged config is told apart from a wrong passphrase.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { withChecksum } from '../../src/format/manifest.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { snapshottedTempRepository, tempDir } from '../helpers/repository.js';

describe('format v2 reading rules', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let dir: string;
  let repo: Repository;
  let snapshotId: string;
  let manifestFile: string;

  beforeAll(async () => {
    ({ db, adapter } =
      await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4), score double precision);
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector, g / 7.0 FROM generate_series(1, 2000) g;`));
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    ({ dir, repo, snapshotId } = await snapshottedTempRepository('vectordr-v2-', adapter, 'docs'));
    manifestFile = path.join(dir, 'snapshots', 'docs', `${snapshotId}.json`);
    await db.exec('DROP TABLE IF EXISTS restored');
    return () => rm(dir, { recursive: true, force: true });
  });

  const readJson = async (file: string): Promise<Record<string, unknown>> =>
    JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const restoredExists = async (): Promise<boolean> =>
    (await db.query<{ t: string | null }>(`SELECT to_regclass('restored')::text AS t`)).rows[0]?.t != null;

  it('writes formatVersion 2 with features and a checksum, in the config and in every manifest', async () => {
    const cfg = await readJson(path.join(dir, 'vectordr.json'));
    expect(cfg).toMatchObject({ formatVersion: 2, features: [] });
    expect(cfg.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    const m = await readJson(manifestFile);
    expect(m).toMatchObject({ formatVersion: 2, features: [] });
    expect(m.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a renamed checksum key (one flipped bit) does not switch the check off: a dropped segment or a changed type is refused', async () => {
    const m = await readJson(manifestFile);
    const { checksum, ...rest } = m;
    // `checksum` -> `bhecksum` is one bit (c = 0x63, b = 0x62); then drop a segment.
    const segments = rest.segments as unknown[];
    await writeFile(manifestFile, JSON.stringify({ ...rest, bhecksum: checksum, segments: segments.slice(1) }));
    const report = await repo.verify();
    expect(report.snapshots[0]?.problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);
    await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'MANIFEST_INVALID');
    expect(await restoredExists()).toBe(false);
    // The same edit on a manifest that claims to be v1 (no features): unknown key, refused too.
    const { features: _f, ...v1 } = rest;
    await writeFile(manifestFile, JSON.stringify({ ...v1, formatVersion: 1, bhecksum: checksum }));
    await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'MANIFEST_INVALID');
    // A changed column type with the checksum removed: refused (v2 requires it).
    const schema = rest.schema as { payload: { nativeType: string }[] };
    (schema.payload[0] as { nativeType: string }).nativeType = 'real';
    await writeFile(manifestFile, JSON.stringify(rest));
    const err = await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'MANIFEST_INVALID');
    expect(err.message).toContain('no checksum');
    expect(await restoredExists()).toBe(false);
  });

  it('a manifest with a feature this vectordr does not implement is refused with FORMAT_FEATURE, before anything else is read', async () => {
    const m = await readJson(manifestFile);
    const { checksum: _c, ...rest } = m;
    await writeFile(manifestFile, withChecksum({ ...rest, features: ['time-travel'] }));
    const err = await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'FORMAT_FEATURE');
    expect(err.message).toContain('"time-travel"');
    expect(err.message).toContain('Upgrade vectordr');
    expect((await repo.verify()).snapshots[0]?.problems.map((p) => p.code)).toEqual(['FORMAT_FEATURE']);
  });

  it('v1 manifests (0.2.0-0.3.0 with a checksum, 0.1.0 without) stay readable and restore', async () => {
    const m = await readJson(manifestFile);
    const { checksum: _c, features: _f, ...rest } = m;
    await writeFile(manifestFile, withChecksum({ ...rest, formatVersion: 1 }));
    expect((await repo.verify()).ok).toBe(true);
    await repo.restore(adapter, { collection: 'docs', target: 'restored' });
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM restored')).rows[0]?.n).toBe(2000);
    await db.exec('DROP TABLE restored');
    // 0.1.0 wrote no checksum and no source.normalizesCosine: that shape, and only that shape, is read without one.
    const { normalizesCosine: _n, ...source010 } = rest.source as Record<string, unknown>;
    await writeFile(manifestFile, JSON.stringify({ ...rest, source: source010, formatVersion: 1 }));
    expect((await repo.verify()).ok).toBe(true);
    await writeFile(manifestFile, JSON.stringify({ ...rest, formatVersion: 1 }));
    const report = await repo.verify();
    expect(report.snapshots[0]?.problems.map((p) => p.code)).toEqual(['MANIFEST_INVALID']);
    expect(report.snapshots[0]?.problems[0]?.message).toContain('0.1.0');
  });

  it('a damaged config is CONFIG_INVALID, and a flipped bit in an encrypted config id is not reported as a wrong passphrase', async () => {
    const cfgFile = path.join(dir, 'vectordr.json');
    const cfg = await readJson(cfgFile);
    await writeFile(cfgFile, JSON.stringify({ ...cfg, digest: { algorithm: 'sha256-bucket-sum', buckets: 512 } }));
    await expectError(openRepository({ storage: fsStorage({ path: dir }) }), 'CONFIG_INVALID');
    await writeFile(cfgFile, '{"formatVersion": 2, "id": ');
    await expectError(openRepository({ storage: fsStorage({ path: dir }) }), 'CONFIG_INVALID');

    const encDir = await tempDir('vectordr-v2-enc-');
    try {
      const encryption = { passphrase: 'correct horse battery', scrypt: { N: 2 ** 14 } };
      await openRepository({ storage: fsStorage({ path: encDir, fsync: false }), create: true, encryption });
      const encFile = path.join(encDir, 'vectordr.json');
      const original = await readFile(encFile, 'utf8');
      const enc = JSON.parse(original) as { id: string };
      const flipped = enc.id.replace(/^./, (c) => String.fromCharCode(c.charCodeAt(0) ^ 1));
      await writeFile(encFile, original.replace(enc.id, flipped));
      const err = await expectError(openRepository({ storage: fsStorage({ path: encDir }), encryption }), 'CONFIG_INVALID');
      expect(err.message).toContain('checksum');
      await writeFile(encFile, original);
      await openRepository({ storage: fsStorage({ path: encDir }), encryption });
      await expectError(
        openRepository({ storage: fsStorage({ path: encDir }), encryption: { passphrase: 'wrong horse battery' } }),
        'WRONG_KEY',
      );
    } finally {
      await rm(encDir, { recursive: true, force: true });
    }
  });

  it('swapped segment objects are reported as replaced content, not as truncation', async () => {
    const files: string[] = [];
    for (const sub of await readdir(path.join(dir, 'data')))
      for (const f of await readdir(path.join(dir, 'data', sub))) files.push(path.join(dir, 'data', sub, f));
    const [a, b] = files as [string, string];
    const [ba, bb] = [await readFile(a), await readFile(b)];
    expect(ba.length).not.toBe(bb.length);
    await writeFile(a, bb);
    await writeFile(b, ba);
    const err = await expectError(repo.restore(adapter, { collection: 'docs', target: 'restored' }), 'SEGMENT_CORRUPT');
    expect(err.message).not.toContain('truncated?');
    expect(err.message).toMatch(/replaced|swapped/);
    const problems = (await repo.verify()).snapshots[0]?.problems ?? [];
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p.message).not.toContain('truncated?');
  });
});
