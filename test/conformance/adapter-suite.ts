/**
 * The adapter conformance suite: every engine adapter runs exactly these cases against a real
 * server (or, for Qdrant, a schema-validating stand-in). Engine-specific behaviour belongs in the
 * adapter's own test file; cases here are skipped only by declared capability, never by name.
 *
 *   testAdapter({ name: 'pgvector (pg)', create: async () => ({ adapter, cleanup }) })
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VectorAdapter } from '../../src/adapter.js';
import { EngineError } from '../../src/errors.js';
import type { Manifest } from '../../src/format/manifest.js';
import {
  type AnyVector,
  type CollectionSchema,
  type MultiVector,
  type SparseVector,
  type VectorField,
  type VectorRecord,
  batchFromRecords,
  describeKind,
  kindOf,
} from '../../src/model.js';
import { EXACT_WIDENINGS } from '../../src/format/vector-elements.js';
import { kindSchema, memoryAdapter } from '../helpers/memory-adapter.js';
import { KIND_FIELDS, randomVector, rng } from '../helpers/segment-gen.js';
import type { ProgressEvent } from '../../src/progress.js';
import { type RestoreOptions, stagingName } from '../../src/restore/restore.js';
import type { Repository } from '../../src/repository/repository.js';
import type { SnapshotResult } from '../../src/snapshot/snapshot-options.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';
import { createdNames, randomName } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { expectLinkRows } from '../helpers/links.js';
import { expectSameRecords } from '../helpers/records.js';
import type { Harness, SuiteOptions } from './harness.js';
import { memoryRepository } from '../helpers/repository.js';

export interface AdapterHarness extends Harness {
  adapter: VectorAdapter;
}

export interface AdapterSuiteOptions extends SuiteOptions<AdapterHarness> {
  /** Rows for the snapshot/restore cases. @default 2500 */
  rows?: number;
}

/**
 * The adapter, except that its first write of the "loaded and indexed" restore marker (segment
 * `segments + 1`) fails as a crash would: after the indexes are built, before the marker says so.
 */
export function crashBeforeIndexedMarker(adapter: VectorAdapter, segments: number): VectorAdapter {
  let crashed = false;
  return new Proxy(adapter, {
    get(target, prop, receiver) {
      if (prop === 'writeMarker') {
        return async (collection: string, marker: string | undefined): Promise<void> => {
          if (!crashed && marker !== undefined && marker.split(' ')[2] === String(segments + 1)) {
            crashed = true;
            throw new EngineError('simulated crash between the index build and the indexed marker', 'transient', { plugin: 'test' });
          }
          return target.writeMarker(collection, marker);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export function testAdapter(options: AdapterSuiteOptions): void {
  const rows = options.rows ?? 2500;
  describe(`adapter conformance: ${options.name}`, () => {
    let h: AdapterHarness;
    let a: VectorAdapter;
    let repo: Repository;
    const { name, created } = createdNames();
    const createFilled = async (schema: CollectionSchema, records: VectorRecord[]): Promise<void> => {
      await a.create(schema, { indexes: 'now' });
      for (let i = 0; i < records.length; i += 1000) {
        await a.write(schema.name, makeBatch(schema, records.slice(i, i + 1000)), { mode: 'upsert' });
      }
    };

    beforeAll(async () => {
      h = await options.create();
      a = h.adapter;
      repo = await memoryRepository();
    });
    afterAll(async () => {
      if (a) for (const c of created) await a.drop(c).catch(() => undefined);
      await h?.cleanup();
    });

    it('probe reports a reachable endpoint', async () => {
      const p = await a.probe();
      expect(p.reachable).toBe(true);
      expect(p.latencyMs).toBeGreaterThanOrEqual(0);
    });

    it('creates a collection and describes it back', async () => {
      const schema = testSchema(name('conf_desc'));
      await a.create(schema, { indexes: 'now' });
      expect(await a.exists(schema.name)).toBe(true);
      const d = await a.describe(schema.name);
      expect(d.idType).toBe('int64');
      expect(d.vectors.map((v) => [v.name, v.dims, v.metric])).toEqual([['embedding', 16, 'cosine']]);
      expect(d.payload.map((p) => [p.name, p.type, p.array]).sort()).toEqual(schema.payload.map((p) => [p.name, p.type, p.array]).sort());
      expect(d.indexes.some((i) => i.kind === 'hnsw' && i.field === 'embedding')).toBe(true);
    });

    it('describe of a missing collection throws COLLECTION_NOT_FOUND', async () => {
      await expectError(a.describe(randomName('missing')), 'COLLECTION_NOT_FOUND');
      expect(await a.exists(randomName('missing'))).toBe(false);
    });

    it('writes, counts and fetches records exactly (vectors bit for bit, payload types kept)', async () => {
      const schema = testSchema(name('conf_rw'));
      const records = makeRecords(50);
      await createFilled(schema, records);
      expect(await a.count(schema.name)).toBe(50);
      const ids = [records[0], records[3], records[49]].map((r) => (r as VectorRecord).id);
      expectSameRecords(await a.fetch(schema.name, ids), [records[0], records[3], records[49]] as VectorRecord[], a.capabilities);
    });

    it('upsert is idempotent and updates in place', async () => {
      const schema = testSchema(name('conf_upsert'));
      const records = makeRecords(20);
      await createFilled(schema, records);
      const changed = records.map((r) => ({ ...r, payload: { ...r.payload, title: 'changed' } }));
      await a.write(schema.name, makeBatch(schema, changed), { mode: 'upsert' });
      await a.write(schema.name, makeBatch(schema, changed), { mode: 'upsert' });
      expect(await a.count(schema.name)).toBe(20);
      expect((await a.fetch(schema.name, [records[0]?.id as bigint]))[0]?.payload.title).toBe('changed');
    });

    it('keeps int64 ids above 2^53 exact', async () => {
      const schema = testSchema(name('conf_bigid'));
      const records = makeRecords(3, 16, 7, 9_007_199_254_740_993n);
      await createFilled(schema, records);
      const got = await a.fetch(
        schema.name,
        records.map((r) => r.id),
      );
      expect(got.map((r) => r.id)).toEqual([9_007_199_254_740_993n, 9_007_199_254_740_994n, 9_007_199_254_740_995n]);
    });

    it('deletes by id', async () => {
      const schema = testSchema(name('conf_del'));
      const records = makeRecords(10);
      await createFilled(schema, records);
      await a.delete(schema.name, [records[0]?.id as bigint, records[1]?.id as bigint]);
      expect(await a.count(schema.name)).toBe(8);
      expect(await a.fetch(schema.name, [records[0]?.id as bigint])).toEqual([]);
    });

    it('exact search returns the query vector itself first', async () => {
      const schema = testSchema(name('conf_search'));
      const records = makeRecords(200);
      await createFilled(schema, records);
      const q = records[42]?.vectors.embedding as Float32Array;
      const hits = await a.search(schema.name, q, 5, { exact: true });
      expect(hits[0]?.id).toBe(records[42]?.id);
      expect(hits).toHaveLength(5);
    });

    it('refuses NaN and Infinity in vectors, writing nothing', async () => {
      const schema = testSchema(name('conf_nan'));
      await a.create(schema, { indexes: 'deferred' });
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const records = makeRecords(5);
        (records[3]?.vectors.embedding as Float32Array)[2] = bad;
        await expectError(a.write(schema.name, makeBatch(schema, records), { mode: 'upsert' }), 'INVALID_VECTOR');
      }
      expect(await a.count(schema.name)).toBe(0);
    });

    it('refuses vectors of the wrong dimension', async () => {
      const schema = testSchema(name('conf_dims'));
      await a.create(schema, { indexes: 'deferred' });
      const wrong = testSchema(schema.name, 8);
      await expectError(a.write(schema.name, makeBatch(wrong, makeRecords(3, 8)), { mode: 'upsert' }), 'DIMENSION_MISMATCH');
      expect(await a.count(schema.name)).toBe(0);
    });

    it('snapshots and restores string ids with quotes, unicode and SQL-looking text, exactly', async () => {
      const schema: CollectionSchema = { ...testSchema(name('conf_strid')), idType: 'string' };
      const ids = [`doc'1`, 'a"b', 'x TO STDOUT (FORMAT binary)', 'FROM STDIN', 'ünï-çødé ✓', ' lead', 'z'.repeat(200)];
      const records = makeRecords(ids.length).map((r, i) => ({ ...r, id: ids[i] as string }));
      await createFilled(schema, records);
      const { manifest } = await repo.snapshot(a, schema.name, { batchSize: 2 });
      const target = name('conf_strid_r');
      await repo.restore(a, { collection: schema.name, snapshot: manifest.id, target });
      expect((await repo.verifyParity(a, { collection: schema.name, snapshot: manifest.id, live: target })).ok).toBe(true);
      expectSameRecords(
        await a.fetch(target, [...ids].sort()),
        [...records].sort((x, y) => (String(x.id) < String(y.id) ? -1 : 1)),
        a.capabilities,
      );
    });

    /** Runs a restore that is aborted once `segments` segments are written, and expects ABORTED. */
    const restoreAbortedAfter = async (segments: number, options: RestoreOptions): Promise<void> => {
      const ac = new AbortController();
      let seen = 0;
      const onProgress = (e: ProgressEvent): void => {
        if (e.phase === 'segment' && ++seen === segments) ac.abort();
      };
      await expectError(repo.restore(a, { ...options, signal: ac.signal, onProgress }), 'ABORTED');
    };

    describe('vector kinds, by capabilities.vectorKinds', () => {
      // The snapshots come from an in-memory engine that stores every kind; the adapter under test is
      // the restore target. A kind it declares round trips exactly; an exact widening (float16,
      // bfloat16, uint8, int8 into float32) is converted and reported, with parity; anything else is
      // refused before the target exists.
      const source = memoryAdapter();
      // Multi-vectors by dot product and with at least one vector each: the engines that store them
      // refuse an empty one, and Qdrant normalises cosine multi-vectors (parity compares normalised
      // values for dense float32 only; docs/adapters/qdrant.md).
      // Binary dims a multiple of 8, sparse vectors not empty and their weights positive: Milvus stores no other. No null
      // vectors either (Milvus has none): null vectors have cases of their own.
      const fields = KIND_FIELDS.map((f): VectorField => {
        if (kindOf(f) === 'multi') return { ...f, metric: 'dot' };
        return f.element === 'binary' ? { ...f, dims: 16 } : f;
      });
      const vectorOf = (field: VectorField, r: () => number): AnyVector => {
        for (;;) {
          const v = randomVector(field, r);
          if (kindOf(field) === 'multi' && (v as MultiVector).data.length === 0) continue;
          if (kindOf(field) === 'sparse') {
            const { values } = v as SparseVector;
            if (values.length === 0) continue;
            for (let k = 0; k < values.length; k++) values[k] = Math.abs(values[k] as number) || 0.5;
          }
          return v;
        }
      };
      for (const field of fields) {
        it(`${describeKind(field)} vectors: stored exactly when declared, widened exactly, or refused before writing`, async () => {
          const caps = a.capabilities.vectorKinds;
          const kind = kindOf(field);
          const declared =
            kind === 'sparse' ? caps.sparse : kind === 'multi' ? caps.multi.includes(field.element) : caps.dense.includes(field.element);
          const widened = !declared && kind === 'dense' && EXACT_WIDENINGS.has(field.element) && caps.dense.includes('float32');
          const target = name(`conf_kind_${field.name}`);
          const schema = kindSchema(target, [field]);
          const r = rng(field.name.length * 31);
          const recs: VectorRecord[] = Array.from({ length: 20 }, (_, i) => ({
            id: BigInt(i + 1),
            vectors: { [field.name]: vectorOf(field, r) },
            payload: { title: `kind ${i}` },
          }));
          await source.create(schema, { indexes: 'now' });
          await source.write(target, batchFromRecords(schema, recs), { mode: 'upsert' });
          await repo.snapshot(source, target);
          await source.drop(target);
          if (!declared && !widened) {
            const err = await expectError(repo.restore(a, { collection: target }), 'UNSUPPORTED_OPERATION');
            expect(err.message).toContain(`"${field.name}"`);
            expect(await a.exists(target)).toBe(false);
            return;
          }
          const result = await repo.restore(a, { collection: target });
          expect(result.notCarriedOver.filter((n) => n.what === 'value').map((n) => n.action)).toEqual(widened ? ['converted'] : []);
          if (declared) {
            const back = await a.fetch(
              target,
              recs.map((x) => x.id),
            );
            back.sort((x, y) => Number(x.id) - Number(y.id));
            expectSameRecords(back, recs, a.capabilities);
          }
          expect((await repo.verifyParity(a, { collection: target })).ok).toBe(true);
        });
      }
    });

    describe('snapshot -> disaster -> restore -> verify', () => {
      let source: string;
      let records: VectorRecord[];
      let snapshotId: string;
      beforeAll(async () => {
        source = name('conf_snap');
        records = makeRecords(rows, 16, 3);
        await createFilled(testSchema(source), records);
        const events: string[] = [];
        const { manifest } = await repo.snapshot(a, source, { segmentBytes: 64 * 1024, onProgress: (e) => events.push(e.phase) });
        snapshotId = manifest.id;
        expect(manifest.rows.upserts).toBe(rows);
        expect(manifest.segments.length).toBeGreaterThan(3);
        expect(events).toContain('done');
      });

      /** An append into `target` (5 rows) is refused naming it and `field`, and leaves it as it was: no row, marker or staging collection. */
      const expectAppendRefused = async (target: string, field: string): Promise<void> => {
        const err = await expectError(
          repo.restore(a, { collection: source, snapshot: snapshotId, target, ifExists: 'append' }),
          'SCHEMA_MISMATCH',
        );
        expect(err.message).toContain(target);
        expect(err.message).toContain(`"${field}"`);
        expect(await a.count(target)).toBe(5);
        expect(await a.readMarker(target)).toBeUndefined();
        expect(await a.exists(stagingName(target, snapshotId))).toBe(false);
      };

      it('the snapshot verifies clean, with no database', async () => {
        const report = await repo.verify({ collection: source, snapshot: snapshotId });
        expect(report.ok, JSON.stringify(report)).toBe(true);
        expect(report.snapshots[0]?.rows).toBe(rows);
      });

      it('the live collection has parity with its snapshot', async () => {
        const p = await repo.verifyParity(a, { collection: source, snapshot: snapshotId });
        expect(p.ok).toBe(true);
        expect(p.rows).toEqual({ live: rows, snapshot: rows });
      });

      it('restores after the collection is dropped, with parity and indexes', async () => {
        await a.drop(source);
        expect(await a.exists(source)).toBe(false);
        const r = await repo.restore(a, { collection: source, snapshot: snapshotId });
        expect(r.rows).toBe(rows);
        expect(await a.count(source)).toBe(rows);
        expect(r.indexes.built.length).toBeGreaterThan(0);
        const p = await repo.verifyParity(a, { collection: source, snapshot: snapshotId });
        expect(p.ok, JSON.stringify(p.mismatchedBuckets)).toBe(true);
        const hits = await a.search(source, records[7]?.vectors.embedding as Float32Array, 1);
        expect(hits[0]?.id).toBe(records[7]?.id);
        // Search still finds the right neighbours: recall@10 of the restored index against exact
        // neighbours computed from the snapshot.
        const recall = await repo.verifyRecall(a, { collection: source, snapshot: snapshotId, k: 10, queries: 25 });
        expect(recall.ok, JSON.stringify(recall)).toBe(true);
        // Searched through the restored index, with the same explicit effort on every engine that has a per-query knob.
        expect(recall).toMatchObject({
          indexed: true,
          minRecall: 0.95,
          effort: { requested: 100, perQuery: (a.capabilities.searchEffort ?? 'per-query') === 'per-query' },
        });
        expect(r.notCarriedOver.filter((n) => n.action === 'not-recreated' && n.name.includes('"embedding"'))).toEqual([]);
      });

      it('parity names the ids that differ', async () => {
        const target = name('conf_diff');
        await repo.restore(a, { collection: source, snapshot: snapshotId, target });
        const [r0, r1, r2] = records as [VectorRecord, VectorRecord, VectorRecord];
        const schema = testSchema(target);
        await a.write(target, makeBatch(schema, [{ ...r0, payload: { ...r0.payload, title: 'tampered' } }]), { mode: 'upsert' });
        await a.delete(target, [r1.id]);
        await a.write(target, makeBatch(schema, makeRecords(1, 16, 99, 10_000_000n)), { mode: 'upsert' });
        const p = await repo.verifyParity(a, { collection: source, snapshot: snapshotId, live: target });
        expect(p.ok).toBe(false);
        expect(p.changed).toEqual([r0.id]);
        expect(p.missing).toEqual([r1.id]);
        expect(p.extra).toEqual([10_000_000n]);
        expect(p.mismatchedBuckets.length).toBeGreaterThanOrEqual(1);
        void r2;
      });

      it('refuses to restore into a non-empty collection without a policy, and leaves it untouched', async () => {
        const target = name('conf_exists');
        const schema = testSchema(target);
        await createFilled(schema, makeRecords(5, 16, 42));
        await expectError(repo.restore(a, { collection: source, snapshot: snapshotId, target }), 'TARGET_NOT_EMPTY');
        expect(await a.count(target)).toBe(5);
        const r = await repo.restore(a, { collection: source, snapshot: snapshotId, target, ifExists: 'replace' });
        expect(r.rows).toBe(rows);
        expect(await a.count(target)).toBe(rows);
        expect((await repo.verifyParity(a, { collection: source, snapshot: snapshotId, live: target })).ok).toBe(true);
      });

      it('appends (upserts) into an existing collection when asked', async () => {
        const target = name('conf_append');
        const schema = testSchema(target);
        await createFilled(schema, makeRecords(5, 16, 42, 50_000_000n));
        await repo.restore(a, { collection: source, snapshot: snapshotId, target, ifExists: 'append' });
        expect(await a.count(target)).toBe(rows + 5);
      });

      it('refuses a dimension mismatch with the existing target, writing nothing', async () => {
        const target = name('conf_dimmis');
        await a.create(testSchema(target, 8), { indexes: 'deferred' });
        await expectError(repo.restore(a, { collection: source, snapshot: snapshotId, target, ifExists: 'append' }), 'DIMENSION_MISMATCH');
        expect(await a.count(target)).toBe(0);
      });

      it('resumes an interrupted restore where it stopped', async () => {
        const target = name('conf_resume');
        // The rerun uses whole segments: resume must not depend on the write batch size.
        await restoreAbortedAfter(3, { collection: source, snapshot: snapshotId, target, writeBatchRows: 70 });
        if (a.swap !== undefined) expect(await a.exists(target)).toBe(false); // never half-visible under its name
        const events: number[] = [];
        const r = await repo.restore(a, {
          collection: source,
          snapshot: snapshotId,
          target,
          onProgress: (e) => e.phase === 'write' && events.push(e.rows),
        });
        expect(r.resumed).toBe(true);
        expect(events[0]).toBeGreaterThan(0);
        expect(Math.min(...events)).toBeGreaterThan(2 * 200); // the first segments were not rewritten
        expect((await repo.verifyParity(a, { collection: source, snapshot: snapshotId, live: target })).ok).toBe(true);
      });

      it('resumes an interrupted append in upsert mode, without rebuilding indexes', async () => {
        const target = name('conf_append_resume');
        const schema = testSchema(target);
        await createFilled(schema, makeRecords(5, 16, 42, 60_000_000n));
        const indexesBefore = (await a.describe(target)).indexes.length;
        await restoreAbortedAfter(2, { collection: source, snapshot: snapshotId, target, ifExists: 'append' });
        const r = await repo.restore(a, { collection: source, snapshot: snapshotId, target, ifExists: 'append' });
        expect(r.resumed).toBe(true);
        expect(await a.count(target)).toBe(rows + 5);
        expect((await a.describe(target)).indexes.length).toBe(indexesBefore);
      });

      it('refuses an append whose field types differ before writing anything, leaving no marker or staging collection', async () => {
        const target = name('conf_append_types');
        const base = testSchema(target);
        // "n" holds strings in the target, int64 in the snapshot.
        const schema: CollectionSchema = {
          ...base,
          payload: base.payload.map((p) => (p.name === 'n' ? { ...p, type: 'string' as const } : p)),
        };
        await createFilled(
          schema,
          makeRecords(5, 16, 42, 70_000_000n).map((r) => ({ ...r, payload: { ...r.payload, n: String(r.payload.n) } })),
        );
        for (let run = 0; run < 2; run++) await expectAppendRefused(target, 'n');
      });

      // Engines that know required fields declare preflightAppend; elsewhere a missing field is null.
      it('refuses an append into a collection that requires a field the snapshot lacks, before writing anything', async (ctx) => {
        if (!a.preflightAppend) ctx.skip();
        const target = name('conf_append_req');
        const base = testSchema(target);
        const schema: CollectionSchema = {
          ...base,
          payload: [...base.payload, { name: 'required', type: 'int64', array: false, nullable: false }],
        };
        await createFilled(
          schema,
          makeRecords(5, 16, 42, 80_000_000n).map((r) => ({ ...r, payload: { ...r.payload, required: 1 } })),
        );
        await expectAppendRefused(target, 'required');
      });

      it('a resume after a crash between the index build and the indexed marker builds no index twice', async () => {
        const target = name('conf_idx_resume');
        const manifest = await repo.readManifest(source, snapshotId);
        await expectError(
          repo.restore(crashBeforeIndexedMarker(a, manifest.segments.length), { collection: source, snapshot: snapshotId, target }),
          'ENGINE_ERROR',
        );
        const r = await repo.restore(a, { collection: source, snapshot: snapshotId, target });
        expect(r.resumed).toBe(true);
        const shape = (s: CollectionSchema): string[] => s.indexes.map((i) => `${i.kind} ${i.field} ${i.metric ?? ''}`).sort();
        expect(shape(await a.describe(target))).toEqual(shape(await a.describe(source)));
        expect((await repo.verifyParity(a, { collection: source, snapshot: snapshotId, live: target })).ok).toBe(true);
        expect(await a.readMarker(target)).toBeUndefined();
      });

      it('an aborted snapshot leaves no snapshot behind', async () => {
        const ac = new AbortController();
        const before = (await repo.list({ collection: source })).length;
        await expectError(
          repo.snapshot(a, source, { segmentBytes: 64 * 1024, signal: ac.signal, onProgress: (e) => e.phase === 'segment' && ac.abort() }),
          'ABORTED',
        );
        expect((await repo.list({ collection: source })).length).toBe(before);
      });
    });

    describe('incremental snapshots and point-in-time restore', () => {
      /** One snapshot of the chain, and what the collection held when it was taken (built from what the case wrote). */
      const kept: { manifest: Manifest; state: Map<bigint, VectorRecord> }[] = [];
      const state = new Map<bigint, VectorRecord>();
      let source: string;
      let schema: CollectionSchema;
      let original: VectorRecord[];
      const upsert = async (records: VectorRecord[]): Promise<void> => {
        await a.write(source, makeBatch(schema, records), { mode: 'upsert' });
        for (const r of records) state.set(r.id as bigint, r);
      };
      const remove = async (ids: bigint[]): Promise<void> => {
        await a.delete(source, ids);
        for (const id of ids) state.delete(id);
      };
      const current = (...ids: number[]): VectorRecord[] => ids.map((i) => state.get(BigInt(i)) as VectorRecord);
      const link = async (): Promise<SnapshotResult> => {
        const r = await repo.snapshot(a, source, { incremental: true, segmentBytes: 64 * 1024 });
        kept.push({ manifest: r.manifest, state: new Map(state) });
        return r;
      };
      // Skipped by capability only: an adapter declaring changeCapture 'none' takes no incrementals.
      const incremental = (): boolean => a.capabilities.changeCapture !== 'none';
      // A chain's change feed (a replication slot) pins engine history until dropped.
      afterAll(async () => {
        if (source !== undefined) await repo.dropCapture(a, source).catch(() => undefined);
      });

      it('the first incremental of a collection is a full snapshot that starts a chain', async (ctx) => {
        if (!incremental()) ctx.skip();
        source = name('conf_incr');
        schema = testSchema(source);
        original = makeRecords(300, 16, 11);
        await createFilled(schema, original);
        for (const r of original) state.set(r.id as bigint, r);
        const r = await link();
        expect(r.kind).toBe('full');
        expect(r.autoFull).toMatch(/no snapshot yet/);
        expect(r.manifest).toMatchObject({ features: ['incremental'], chain: r.manifest.id, depth: 0, rows: { upserts: 300 } });
      });

      it('links record inserts, vector-only and payload-only updates, deletes, re-inserts and nothing', async (ctx) => {
        if (!incremental() || kept.length !== 1) ctx.skip();
        const fresh = makeRecords(5, 16, 12, 1000n);
        const steps: [string, () => Promise<void>, { upserts: number; deletes: number }][] = [
          ['inserts', () => upsert(fresh), { upserts: 5, deletes: 0 }],
          [
            'a vector-only update',
            () =>
              upsert(current(7, 8).map((r) => ({ ...r, vectors: { embedding: (r.vectors.embedding as Float32Array).map((x) => -x) } }))),
            { upserts: 2, deletes: 0 },
          ],
          [
            'a payload-only update',
            () => upsert(current(9, 10, 11).map((r) => ({ ...r, payload: { ...r.payload, title: 'payload only', n: -1 } }))),
            { upserts: 3, deletes: 0 },
          ],
          ['deletes', () => remove([12n, 13n, 1000n]), { upserts: 0, deletes: 3 }],
          [
            're-inserts of deleted ids (one as it was, one changed)',
            () => upsert([original[11] as VectorRecord, { ...(fresh[0] as VectorRecord), payload: { title: 'back' } }]),
            { upserts: 2, deletes: 0 },
          ],
          ['nothing', async () => undefined, { upserts: 0, deletes: 0 }],
          [
            'a mix',
            async () => {
              await upsert([
                ...current(20).map(({ payload: { flag, ...rest }, ...r }) => ({ ...r, payload: { ...rest, n: flag === true ? 1 : 0 } })),
                ...makeRecords(1, 16, 13, 2000n),
              ]);
              await remove([21n]);
            },
            { upserts: 2, deletes: 1 },
          ],
        ];
        for (const [what, change, rows] of steps) {
          await change();
          const parent = kept[kept.length - 1]?.manifest as Manifest;
          const r = await link();
          expect(r.kind, what).toBe('incremental');
          expectLinkRows(r.manifest, rows, what);
          expect(r.manifest, what).toMatchObject({ parent: parent.id, chain: kept[0]?.manifest.id, depth: kept.length - 1 });
          if (rows.upserts + rows.deletes === 0) expect(r.manifest.digest.collection, what).toBe(parent.digest.collection);
        }
      });

      it('restores every link to the state it recorded (point in time), compared with the state kept aside', async (ctx) => {
        if (!incremental() || kept.length < 8) ctx.skip();
        const byId = (x: VectorRecord, y: VectorRecord): number => ((x.id as bigint) < (y.id as bigint) ? -1 : 1);
        for (const { manifest, state: at } of kept) {
          const target = name('conf_pitr');
          const r = await repo.restore(a, { collection: source, snapshot: manifest.id, target });
          expect(r.rows).toBe(at.size);
          expect(await a.count(target)).toBe(at.size);
          const want = [...at.values()].sort(byId);
          const got = await a.fetch(
            target,
            want.map((w) => w.id),
          );
          expectSameRecords(got.sort(byId), want, a.capabilities);
        }
      });

      it('the live collection has parity with the chain head', async (ctx) => {
        if (!incremental() || kept.length < 8) ctx.skip();
        const head = kept[kept.length - 1]?.manifest as Manifest;
        const p = await repo.verifyParity(a, { collection: source, snapshot: head.id });
        expect(
          p.ok,
          JSON.stringify({ ...p, collectionDigest: undefined }, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
        ).toBe(true);
      });

      it('refuses a parent of another collection (NO_PARENT) and a time before the first snapshot, writing nothing', async (ctx) => {
        if (!incremental() || kept.length === 0) ctx.skip();
        const other = name('conf_incr_other');
        await createFilled(testSchema(other), makeRecords(3, 16, 14));
        const before = await repo.list();
        await expectError(repo.snapshot(a, other, { incremental: true, parent: kept[0]?.manifest.id as string }), 'NO_PARENT');
        const target = name('conf_pitr_early');
        const early = new Date(Date.parse(kept[0]?.manifest.createdAt as string) - 60_000);
        await expectError(repo.restore(a, { collection: source, at: early, target }), 'SNAPSHOT_NOT_FOUND');
        expect(await a.exists(target)).toBe(false);
        expect(await repo.list()).toEqual(before);
      });
    });
  });
}
