/**
 * The cross-engine matrix: for every ordered pair of the engines in the test registry
 * (`TEST_ENGINES`, test/helpers/engines.ts), a collection with varied ids and payload types is
 * snapshotted, restored into the other engine with parity verified (after normalisation, within
 * 1e-5, where Qdrant normalises cosine vectors; exact elsewhere), then snapshotted there and restored
 * back (the shared round trip, test/helpers/round-trip.ts), and the original ids and payloads must
 * come home unchanged. The four core engines (12 pairs) are pgvector, Milvus and Weaviate as real
 * servers and Qdrant as the OpenAPI-validating test server. When QDRANT_URL is set, a real Qdrant is
 * one more engine `qdrant-real` (CI: Qdrant 1.18.3), paired with every other; when
 * MILVUS_STANDALONE_ADDRESS is set, the real Milvus standalone is one more, paired with each of the
 * four core engines (milvus-lite is the core Milvus).
 *
 * Chains cross too: for every source engine, a full snapshot and three incremental links; for every
 * pair, the source's link 2 is restored into the other engine (point in time: link 3's changes must
 * not show) and its records compared with the state kept aside when the link was taken.
 *
 * Vector kinds other than dense float32 cross in test/cross/kinds-matrix.test.ts (by capabilities).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
import { idToUuid } from '../../src/id-mapping.js';
import type { CollectionSchema, Id, IdType, VectorRecord } from '../../src/model.js';
import type { Repository } from '../../src/repository/repository.js';
import { makeBatch, nullableFields } from '../helpers/data.js';
import { engineAvailable, randomName, type StartedTestEngine, TEST_ENGINES, type TestEngine } from '../helpers/engines.js';
import { memoryRepository } from '../helpers/repository.js';
import { expectError } from '../helpers/errors.js';
import { expectLinkRows } from '../helpers/links.js';
import { expectSameRecords, crossFidelity } from '../helpers/records.js';
import { roundTrip } from '../helpers/round-trip.js';
import type { SnapshotResult } from '../../src/snapshot/snapshot-options.js';

// The engines come from the registry (test/helpers/engines.ts); a required engine that is not
// configured fails here (VECTORDR_REQUIRE_ENGINES).
const available = (e: TestEngine): boolean => engineAvailable(e.name, e.configured());
const CORE = TEST_ENGINES.filter((e) => e.core === true);
const all = CORE.every(available);
const MEMBERS = TEST_ENGINES.filter((e) => e.core === true || (e.variantOf === undefined && available(e)));
const VARIANTS = all ? TEST_ENGINES.filter((e) => e.variantOf !== undefined && available(e)) : [];

type Engine = string; // a TEST_ENGINES name
const BASE: Engine[] = CORE.map((e) => e.name);
const ENGINES: Engine[] = MEMBERS.map((e) => e.name);
const PAIRS: (readonly [Engine, Engine])[] = [
  ...ENGINES.flatMap((a) => ENGINES.filter((b) => b !== a).map((b) => [a, b] as const)),
  ...VARIANTS.flatMap((v) => BASE.flatMap((e) => [[v.name, e] as const, [e, v.name] as const])),
];
/** The Milvus engines of this run: a case about Milvus runs on each. */
const MILVUS_ENGINES: Engine[] = ['milvus', ...VARIANTS.filter((v) => v.variantOf === 'milvus').map((v) => v.name)];
const ID_TYPES: IdType[] = ['int64', 'string', 'uuid'];

function schemaFor(name: string, idType: IdType): CollectionSchema {
  return {
    name,
    idField: 'doc_id',
    idType,
    vectors: [{ name: 'embedding', dims: 8, metric: 'cosine', element: 'float32', nullable: false }],
    payload: nullableFields({
      title: 'string',
      n: 'int32',
      big: 'int64',
      score: 'float64',
      flag: 'bool',
      tags: 'string[]',
      meta: 'json',
      at: 'datetime',
      ref: 'uuid',
    }),
    indexes: [{ kind: 'hnsw', field: 'embedding', metric: 'cosine', params: { m: 8, ef_construction: 32 } }],
  };
}

function idFor(idType: IdType, i: number): Id {
  if (idType === 'int64') return i === 0 ? 9_007_199_254_740_993n : i === 1 ? 0n : BigInt(i * 7919);
  if (idType === 'string') return i === 0 ? `doc'0 "q" ✓` : `doc/${i}/ü`;
  return idToUuid(BigInt(i), 'int64');
}

function recordsFor(idType: IdType, count: number): VectorRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const payload: VectorRecord['payload'] = {
      n: i - 50,
      big: i * 1_000_000_007,
      score: i / 7,
      flag: i % 3 === 0,
      tags: ['t', `x${i % 4}`],
      meta: { i, nested: { ok: i % 2 === 0, list: [1, 'two'] } },
      at: `2025-0${(i % 9) + 1}-15T08:30:00.${String(100000 + i)}Z`,
      ref: idToUuid(`r${i}`, 'string'),
    };
    if (i % 5 !== 2) payload.title = `title ${i} ✓ "q"`;
    return { id: idFor(idType, i), vectors: { embedding: Float32Array.from({ length: 8 }, (_, d) => Math.sin(i * 8 + d + 1)) }, payload };
  });
}

const byId = (rs: VectorRecord[]): VectorRecord[] =>
  [...rs].sort((x, y) => (String(x.id) < String(y.id) ? -1 : String(x.id) > String(y.id) ? 1 : 0));

describe.runIf(all)('cross-engine matrix: every engine into every other, and home again', () => {
  const started = new Map<Engine, StartedTestEngine>();
  const adapter = (engine: Engine): VectorAdapter => {
    const s = started.get(engine);
    if (!s) throw new Error(`engine ${engine} is not started`);
    return s.adapter;
  };
  let repo: Repository;
  const made: [Engine, string][] = [];
  /** A fresh collection name on `engine`, dropped after the suite. */
  const name = (engine: Engine, prefix: string): string => {
    const n = randomName(prefix.replace(/-/g, '_')); // Milvus names: letters, digits and underscores
    made.push([engine, n]);
    return n;
  };

  beforeAll(async () => {
    for (const e of [...MEMBERS, ...VARIANTS]) started.set(e.name, await e.start());
    repo = await memoryRepository();
  });
  afterAll(async () => {
    for (const [e, n] of made)
      await started
        .get(e)
        ?.adapter.drop(n)
        .catch(() => undefined);
    for (const s of started.values()) await s.close();
    for (const [name, s] of started) {
      if (s.violations) expect(s.violations(), `${name}: requests or responses outside the OpenAPI schema`).toEqual([]);
    }
  });

  it(
    'a Manhattan (l1) collection into an engine without l1 is refused with the choices, ' +
      'creating nothing; into one with l1 it restores',
    async () => {
      const source = randomName('mx_l1');
      made.push(['qdrant', source]);
      const schema: CollectionSchema = {
        ...schemaFor(source, 'int64'),
        vectors: [{ name: 'embedding', dims: 8, metric: 'l1', element: 'float32', nullable: false }],
        indexes: [],
      };
      await adapter('qdrant').create(schema, { indexes: 'now' });
      await adapter('qdrant').write(source, makeBatch(schema, recordsFor('int64', 10)), { mode: 'insert' });
      const s = await repo.snapshot(adapter('qdrant'), source);
      for (const milvus of MILVUS_ENGINES) {
        const target = randomName('mx_l1_mv');
        const err = await repo.restore(adapter(milvus), { collection: source, snapshot: s.manifest.id, target }).then(
          () => undefined,
          (e: unknown) => e as { code?: string; message?: string },
        );
        expect(err?.code).toBe('UNSUPPORTED_OPERATION');
        expect(err?.message).toMatch(/cosine.*l2.*dot|COSINE.*L2.*IP/i);
        expect(await adapter(milvus).exists(target)).toBe(false);
      }
      // pgvector has vector_l1_ops for HNSW only from 0.7 (CI runs 0.8.5; users may run older): refused
      // there before anything is created, with the reason; on a newer pgvector it restores.
      const pgTarget = randomName('mx_l1_pg');
      made.push(['pgvector', pgTarget]);
      const pgErr = await repo.restore(adapter('pgvector'), { collection: source, snapshot: s.manifest.id, target: pgTarget }).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      if (pgErr) {
        expect(pgErr.code).toBe('UNSUPPORTED_OPERATION');
        expect(pgErr.message).toContain('vector_l1_ops');
        expect(await adapter('pgvector').exists(pgTarget)).toBe(false);
      } else {
        expect((await repo.verifyParity(adapter('pgvector'), { collection: source, snapshot: s.manifest.id, live: pgTarget })).ok).toBe(
          true,
        );
      }
      // Weaviate has l1 (manhattan): the same snapshot restores there with parity.
      for (const engine of ['weaviate'] as const) {
        const t = randomName(`mx_l1_${engine}`);
        made.push([engine, t]);
        await repo.restore(adapter(engine), { collection: source, snapshot: s.manifest.id, target: t });
        expect((await repo.verifyParity(adapter(engine), { collection: source, snapshot: s.manifest.id, live: t })).ok).toBe(true);
        expect((await adapter(engine).describe(t)).vectors[0]?.metric).toBe('l1');
      }
    },
  );

  PAIRS.forEach(([from, to], p) => {
    const idType = ID_TYPES[p % ID_TYPES.length] as IdType;
    it(`${from} -> ${to} -> ${from} (${idType} ids)`, async () => {
      const src = adapter(from);
      const dst = adapter(to);
      const qdrant = src.capabilities.normalizesCosine === true || dst.capabilities.normalizesCosine === true;
      const source = name(from, `mx_${from}`);
      const schema = schemaFor(source, idType);
      const records = recordsFor(idType, 120);
      await src.create(schema, { indexes: 'now' });
      await src.write(source, makeBatch(schema, records), { mode: 'insert' });
      const there = name(to, `mx_${to}`);
      const home = name(from, `mx_home`);
      const trip = await roundTrip({
        repo,
        from: src,
        collection: source,
        to: dst,
        target: there,
        home,
        segmentBytes: 64 * 1024,
        sameDigest: !qdrant,
        cosine: qdrant ? 'normalized' : 'exact',
      });
      expect(trip.there.parity.vectors.mode).toBe(qdrant ? 'normalized' : 'exact');
      const d = await dst.describe(there);
      expect([d.idType, d.vectors[0]?.metric, d.vectors[0]?.dims]).toEqual([idType, 'cosine', 8]);

      // The original ids and payloads came home unchanged, with their types.
      const sample = [0, 1, 2, 57, 119].map((i) => records[i] as VectorRecord);
      const got = byId(
        await src.fetch(
          home,
          sample.map((r) => r.id),
        ),
      );
      expect(got.map((r) => r.id)).toEqual(byId(sample).map((r) => r.id));
      expect(got.map((r) => r.payload)).toEqual(byId(sample).map((r) => r.payload));
      const back = await src.describe(home);
      expect(back.idType).toBe(idType);
      expect(Object.fromEntries(back.payload.map((f) => [f.name, `${f.type}${f.array ? '[]' : ''}`]))).toEqual(
        Object.fromEntries(schema.payload.map((f) => [f.name, `${f.type}${f.array ? '[]' : ''}`])),
      );
    });
  });

  /** A chain on one engine: what its link at depth 2 recorded (the state kept aside when it was taken). */
  interface KeptChain {
    collection: string;
    link: string;
    state: VectorRecord[];
  }
  const chains = new Map<Engine, Promise<KeptChain>>();
  /**
   * The chain of `from`, built once for every pair it is the source of: a full snapshot taken with
   * `{ incremental: true }`, then three links (payload-only updates, deletes and inserts; a
   * vector-only update and a re-insert; changes after the kept link, which its restore must not show).
   */
  const chainOf = (from: Engine): Promise<KeptChain> => {
    let c = chains.get(from);
    if (!c) {
      const sources = [...ENGINES, ...VARIANTS.map((v) => v.name)];
      c = buildChain(from, ID_TYPES[sources.indexOf(from) % ID_TYPES.length] as IdType);
      chains.set(from, c);
    }
    return c;
  };
  async function buildChain(from: Engine, idType: IdType): Promise<KeptChain> {
    const src = adapter(from);
    const collection = name(from, `mxc_${from}`);
    const schema = schemaFor(collection, idType);
    const all = recordsFor(idType, 125);
    const state = new Map<string, VectorRecord>();
    const upsert = async (rs: VectorRecord[]): Promise<void> => {
      await src.write(collection, makeBatch(schema, rs), { mode: 'upsert' });
      for (const r of rs) state.set(String(r.id), r);
    };
    const remove = async (is: number[]): Promise<void> => {
      const ids = is.map((i) => (all[i] as VectorRecord).id);
      await src.delete(collection, ids);
      for (const id of ids) state.delete(String(id));
    };
    const at = (...is: number[]): VectorRecord[] => is.map((i) => state.get(String((all[i] as VectorRecord).id)) as VectorRecord);
    await src.create(schema, { indexes: 'now' });
    await upsert(all.slice(0, 120));
    const snapshot = (): Promise<SnapshotResult> => repo.snapshot(src, collection, { incremental: true });
    expect((await snapshot()).kind).toBe('full');
    await upsert(at(3, 4).map((r) => ({ ...r, payload: { ...r.payload, title: 'changed', n: -7 } })));
    await remove([5, 6]);
    await upsert(all.slice(120, 123));
    expectLinkRows((await snapshot()).manifest, { upserts: 5, deletes: 2 });
    await upsert(at(7).map((r) => ({ ...r, vectors: { embedding: (r.vectors.embedding as Float32Array).map((x) => -x) } })));
    await upsert([all[5] as VectorRecord]);
    const kept = await snapshot();
    expect(kept.manifest.depth).toBe(2);
    expectLinkRows(kept.manifest, { upserts: 2, deletes: 0 });
    const keptState = byId([...state.values()]);
    await upsert([...at(8).map((r) => ({ ...r, payload: { ...r.payload, flag: !r.payload.flag } })), all[123] as VectorRecord]);
    await remove([9]);
    const last = (await snapshot()).manifest;
    expect(last.depth).toBe(3);
    expectLinkRows(last, { upserts: 2, deletes: 1 });
    // The chain is complete: release its change feed (a replication slot pins WAL for the rest of the run).
    await repo.dropCapture(src, collection);
    return { collection, link: kept.manifest.id, state: keptState };
  }

  PAIRS.forEach(([from, to]) => {
    it(`a chain on ${from}, its link 2 restored into ${to}, where no incremental of another engine builds on it`, async () => {
      const src = adapter(from);
      const dst = adapter(to);
      const c = await chainOf(from);
      // Under the source's name: the same collection, held by another engine now.
      const target = c.collection;
      made.push([to, target]);
      const r = await repo.restore(dst, { collection: c.collection, snapshot: c.link, target });
      expect(r.rows).toBe(c.state.length);
      expect(await dst.count(target)).toBe(c.state.length);
      const got = byId(
        await dst.fetch(
          target,
          c.state.map((x) => x.id),
        ),
      );
      expectSameRecords(got, c.state, crossFidelity(src.capabilities, dst.capabilities));
      // Its chain was taken from another engine: no incremental here builds on it, and nothing is written.
      // (Two servers of one engine, e.g. milvus-lite and Milvus standalone, are one engine to a chain.)
      if (src.engine !== dst.engine) {
        const before = await repo.list();
        await expectError(repo.snapshot(dst, target, { incremental: true, parent: c.link }), 'NO_PARENT');
        await expectError(repo.snapshot(dst, target, { incremental: true, onNoParent: 'error' }), 'NO_PARENT');
        expect(await repo.list()).toEqual(before);
      }
    });
  });
});
