/**
 * Capabilities are the only switch (issue 15): `defineCapabilities` gives every undeclared
 * capability its default, and what parity needs to know about a snapshot's source engine is a fact
 * of the manifest (`source.normalizesCosine`), derived from the engine's name only by the manifest
 * reader, for manifests written before the fact was recorded. On PGlite.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgvectorAdapter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { DEFAULT_CAPABILITIES, defineCapabilities } from '../../src/adapter.js';
import { manifestKey } from '../../src/format/keys.js';
import { withChecksum } from '../../src/format/manifest.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';

describe('defineCapabilities', () => {
  it('gives every capability left out its default, keeps what is declared, and freezes the result', () => {
    const caps = defineCapabilities({ idTypes: ['int64'], maxDims: 2000, namedVectors: true, payloadFloatExact: undefined });
    expect(caps).toEqual({ ...DEFAULT_CAPABILITIES, idTypes: ['int64'], maxDims: 2000, namedVectors: true });
    expect(caps).toMatchObject({
      changeCapture: 'digest',
      atomicMarker: false,
      normalizesCosine: false,
      payloadFloatExact: true,
      searchEffort: 'per-query',
    });
    expect(Object.isFrozen(caps)).toBe(true);
  });
});

describe('source.normalizesCosine in the manifest', () => {
  let db: PGlite;
  let a: PgvectorAdapter;
  let storage: Storage;
  let repo: Repository;
  let snapshot: string;

  /** Rewrites the stored manifest with another `source` (checksum recomputed). */
  async function rewriteSource(source: (s: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const key = manifestKey('raw', snapshot);
    const { checksum: _c, ...m } = JSON.parse(Buffer.from(await storage.get(key)).toString('utf8')) as Record<string, unknown>;
    await storage.put(key, withChecksum({ ...m, source: source(m.source as Record<string, unknown>) }));
  }

  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    a = pgvectorAdapter({ pglite: db });
    storage = memoryStorage();
    repo = await openRepository({ storage, create: true });
    await a.create(testSchema('raw', 8), { indexes: 'now' });
    await a.write('raw', makeBatch(testSchema('raw', 8), makeRecords(50, 8, 3)), { mode: 'insert' });
    const { manifest } = await repo.snapshot(a, 'raw');
    snapshot = manifest.id;
    expect(manifest.source.normalizesCosine).toBe(false);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('is written by every snapshot, from the adapter capability', async () => {
    expect(a.capabilities).toMatchObject({ normalizesCosine: false, changeCapture: 'digest' }); // every adapter with scan and fetch can diff fingerprints
    const stored = JSON.parse(Buffer.from(await storage.get(manifestKey('raw', snapshot))).toString('utf8')) as {
      source: Record<string, unknown>;
    };
    expect(stored.source.normalizesCosine).toBe(false);
    expect((await repo.verifyParity(a, { collection: 'raw', snapshot })).vectors.mode).toBe('exact');
  });

  it("a manifest that records it chooses parity's normalized mode, whatever its engine", async () => {
    await rewriteSource((s) => ({ ...s, normalizesCosine: true }));
    expect((await repo.readManifest('raw', snapshot)).source).toMatchObject({ engine: 'pgvector', normalizesCosine: true });
    const p = await repo.verifyParity(a, { collection: 'raw', snapshot });
    expect(p.ok).toBe(true);
    expect(p.vectors.mode).toBe('normalized');
  });

  it('a manifest written before it was recorded is read by the old rule: true exactly for a Qdrant source', async () => {
    await rewriteSource(({ normalizesCosine: _n, ...s }) => ({ ...s, engine: 'qdrant' }));
    expect((await repo.readManifest('raw', snapshot)).source.normalizesCosine).toBe(true);
    await rewriteSource(({ normalizesCosine: _n, ...s }) => ({ ...s, engine: 'pgvector' }));
    expect((await repo.readManifest('raw', snapshot)).source.normalizesCosine).toBe(false);
    expect((await repo.verifyParity(a, { collection: 'raw', snapshot })).vectors.mode).toBe('exact');
  });
});
