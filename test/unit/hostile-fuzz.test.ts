/**
 * Property-based fuzzing of what a hostile repository hands vectordr (issue 22, docs/security.md):
 * mutations of manifests, configs, locks and segments — byte flips, truncation, field deletions,
 * numeric extremes, deep nesting — never end in an untyped exception, and verify always returns a
 * report. Fixed seed and a small run count keep CI short; `VECTORDR_FUZZ_RUNS=2000` runs longer
 * (and `VECTORDR_FUZZ_SEED` picks another seed).
 */
import type { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { isVectordrError } from '../../src/errors.js';
import { manifestKey } from '../../src/format/keys.js';
import { parseManifest, parseRepositoryConfig, withChecksum } from '../../src/format/manifest.js';
import { decodeSegment, type SegmentLayout } from '../../src/format/segment-codec.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { openPglite } from '../helpers/pglite.js';

const RUNS = Number(process.env.VECTORDR_FUZZ_RUNS ?? 60);
const SEED = Number(process.env.VECTORDR_FUZZ_SEED ?? 22);
const params = (scale = 1): fc.Parameters<unknown> => ({ seed: SEED, numRuns: Math.max(1, Math.round(RUNS * scale)), endOnFailure: true });

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Throws unless `err` is a typed vectordr error (what a caller can switch on). */
function typedOnly(err: unknown): void {
  if (!isVectordrError(err)) throw new Error(`untyped ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`.slice(0, 500));
}

function expectTypedOrOk(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    typedOnly(err);
  }
}

async function expectTypedOrOkAsync(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    typedOnly(err);
  }
}

/** Every path to a value inside `v`. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

const EXTREMES: Json[] = [
  -1,
  0,
  1e308,
  -1e308,
  2 ** 53 + 2,
  2 ** 31,
  4294967296,
  0.5,
  '',
  'x'.repeat(70_000),
  null,
  true,
  [],
  {},
  { __proto__: 1 } as unknown as Json,
  '__proto__',
];

/** A mutation of a JSON document: delete, replace with an extreme, or nest deeply, at some path. */
const jsonMutation = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('delete', 'extreme', 'nest', 'wide'),
  extreme: fc.constantFrom(...EXTREMES),
  depth: fc.constantFrom(10, 65, 600, 20_000),
});

function mutateJson(doc: Json, m: { pick: number; op: string; extreme: Json; depth: number }): string {
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  const all = paths(copy).filter((p) => p.length > 0);
  const p = all[m.pick % all.length] as (string | number)[];
  let parent = copy as Record<string | number, Json>;
  for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const last = p.at(-1) as string | number;
  const NEST = '"@@nest@@"';
  if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (m.op === 'extreme') parent[last] = m.extreme;
  else if (m.op === 'wide') parent[last] = Array.from({ length: 5_000 }, (_, i) => i);
  else parent[last] = '@@nest@@';
  const text = JSON.stringify(copy);
  return m.op === 'nest' ? text.replace(NEST, `${'['.repeat(m.depth)}1${']'.repeat(m.depth)}`) : text;
}

/** A mutation of bytes: flips, truncation, extension or a splice of junk. */
const byteMutation = fc.record({
  op: fc.constantFrom('flip', 'truncate', 'extend', 'splice'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  count: fc.integer({ min: 1, max: 8 }),
  junk: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

function mutateBytes(b: Uint8Array, m: { op: string; at: number; count: number; junk: Uint8Array }): Uint8Array {
  const i = Math.min(b.length - 1, Math.floor(m.at * b.length));
  if (m.op === 'truncate') return b.subarray(0, i);
  if (m.op === 'extend') return Buffer.concat([b, m.junk]);
  const out = Buffer.from(b);
  if (m.op === 'splice') {
    out.set(m.junk.subarray(0, Math.max(0, out.length - i)), i);
    return out;
  }
  for (let k = 0; k < m.count; k++) {
    const j = (i + k * 7919) % out.length;
    out[j] = (out[j] as number) ^ (1 << (k % 8));
  }
  return out;
}

describe('hostile repository fuzzing', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let storage: Storage;
  let repo: Repository;
  let manifest: Json;
  let manifestId: string;
  let config: Json;
  let segment: { key: string; bytes: Uint8Array; rows: number };

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4), t text, j jsonb);
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector, 'row ' || g, jsonb_build_object('n', g, 'a', jsonb_build_array(g, 'x'))
      FROM generate_series(1, 40) g;
      CREATE TABLE other (id int8 PRIMARY KEY, e vector(4));
      INSERT INTO other SELECT g, ARRAY[g, 9, 9, 9]::real[]::vector FROM generate_series(1, 10) g;`));
    storage = memoryStorage();
    repo = await openRepository({ storage, create: true });
    manifestId = (await repo.snapshot(adapter, 'docs')).manifest.id;
    await repo.snapshot(adapter, 'other');
    manifest = JSON.parse(Buffer.from(await storage.get(manifestKey('docs', manifestId))).toString('utf8')) as Json;
    config = JSON.parse(Buffer.from(await storage.get('vectordr.json')).toString('utf8')) as Json;
    const ref = (await repo.readManifest('docs', manifestId)).segments[0] as { key: string; rows: number };
    segment = { key: ref.key, bytes: await storage.get(ref.key), rows: ref.rows };
  });
  afterAll(async () => {
    await db?.close();
  });

  it('a mutated manifest parses or is a typed error, with or without a recomputed checksum', () => {
    fc.assert(
      fc.property(jsonMutation, fc.boolean(), (m, rechecksum) => {
        let text = mutateJson(manifest, m);
        // A recomputed checksum lets the mutation reach the schema (the plaintext attacker can); nesting is refused before.
        if (rechecksum && m.op !== 'nest') text = Buffer.from(withChecksum(JSON.parse(text) as Record<string, unknown>)).toString('utf8');
        expectTypedOrOk(() => parseManifest(Buffer.from(text), 'snapshots/docs/x.json'));
      }),
      params(),
    );
  });

  it('manifest bytes flipped, truncated or extended are a typed error', () => {
    const bytes = withChecksum(manifest as Record<string, unknown>);
    fc.assert(
      fc.property(byteMutation, (m) => expectTypedOrOk(() => parseManifest(mutateBytes(bytes, m), 'snapshots/docs/x.json'))),
      params(),
    );
  });

  it('a mutated config parses or is a typed error', () => {
    fc.assert(
      fc.property(jsonMutation, fc.boolean(), (m, rechecksum) => {
        let text = mutateJson(config, m);
        if (rechecksum && m.op !== 'nest') text = Buffer.from(withChecksum(JSON.parse(text) as Record<string, unknown>)).toString('utf8');
        expectTypedOrOk(() => parseRepositoryConfig(Buffer.from(text)));
      }),
      params(),
    );
  });

  it('a mutated segment decodes or is a typed error, bounded by the rows the manifest records', () => {
    const layout: SegmentLayout = { idType: 'int64', vectors: [{ name: 'e', dims: 4 }] };
    fc.assert(
      fc.property(byteMutation, fc.constantFrom(segment.rows, segment.rows - 1, 0), (m, rows) => {
        expectTypedOrOk(() => decodeSegment(layout, mutateBytes(segment.bytes, m), segment.key, { rows }));
      }),
      params(2),
    );
  });

  it('through the repository: verify always returns a report, list, prune and restore fail only typed', async () => {
    const original = await storage.get(manifestKey('docs', manifestId));
    const segmentBytes = segment.bytes;
    const locks = '01J00000000000000000000000';
    await fc.assert(
      fc.asyncProperty(jsonMutation, byteMutation, fc.constantFrom('manifest', 'segment', 'lock'), async (jm, bm, what) => {
        try {
          if (what === 'manifest') {
            const text = mutateJson(manifest, jm);
            const forged = jm.op === 'nest' ? Buffer.from(text) : withChecksum(JSON.parse(text) as Record<string, unknown>);
            await storage.put(manifestKey('docs', manifestId), forged);
          } else if (what === 'segment') await storage.put(segment.key, mutateBytes(segmentBytes, bm));
          else {
            const lock = { formatVersion: 1, exclusive: false, operation: 'x', host: 'h', pid: 1, createdAt: new Date().toISOString() };
            await storage.put(`locks/${locks}.json`, Buffer.from(mutateJson(lock as unknown as Json, jm)));
          }
          const report = await repo.verify();
          expect(report.snapshots.find((s) => s.collection === 'other')?.ok).toBe(true);
          await expectTypedOrOkAsync(repo.list());
          if (what === 'segment') {
            await expectTypedOrOkAsync(repo.restore(adapter, { collection: 'docs', target: 'fuzzed' }));
            await db.exec('DROP TABLE IF EXISTS fuzzed');
          }
          if (what === 'lock') await expectTypedOrOkAsync(repo.prune({ dryRun: true }));
        } finally {
          await storage.put(manifestKey('docs', manifestId), original);
          await storage.put(segment.key, segmentBytes);
          await storage.delete(`locks/${locks}.json`);
        }
      }),
      params(0.5),
    );
  });
});
