/**
 * The k-way merge of a chain's delta indexes (`mergeIndexBatches`): every id once, its versions
 * oldest link first, across chunk boundaries of every link, checked against a plain reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChainLookup, checkFoldDigest, locationKey, mergeIndexBatches, mergeIndexes, planFold, winner } from '../../src/chain/chain.js';
import { IndexWriter, type IndexEntry } from '../../src/format/delta-index.js';
import { BucketDigest, bucketOf, idBytes } from '../../src/format/digest.js';
import type { Manifest, SegmentRef } from '../../src/format/manifest.js';
import type { SegmentReader } from '../../src/repository/ports.js';

/** A chain of links with delta indexes in chunks of `chunk` entries, held in memory. */
async function chainOf(links: number[][], chunk: number): Promise<{ reader: SegmentReader; chain: Manifest[] }> {
  const store = new Map<string, Uint8Array>();
  const chain: Manifest[] = [];
  for (const [link, ids] of links.entries()) {
    let n = 0;
    const writer = new IndexWriter(async (bytes, entries) => {
      const key = `L${link}-C${n++}`;
      store.set(key, bytes);
      return { key, bytes: bytes.length, rows: entries, sha256: '' } as unknown as SegmentRef;
    }, chunk);
    for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
      const op = (id + link) % 5 === 0 && link > 0 ? 'delete' : 'upsert';
      await writer.add({
        id: idBytes('int64', BigInt(id)),
        op,
        digest: new Uint8Array(32).fill(op === 'upsert' ? link + 1 : 0),
        segment: 0,
        row: id,
      });
    }
    const deltaIndex = await writer.finish();
    chain.push({
      id: `s${link}`,
      kind: link === 0 ? 'full' : 'incremental',
      segments: [{ rows: 1_000_000 }],
      deltaIndex,
      digest: { buckets: 16 },
    } as unknown as Manifest);
  }
  const reader: SegmentReader = {
    getSegment: async (ref: SegmentRef) => store.get(ref.key) as Uint8Array,
  } as unknown as SegmentReader;
  return { reader, chain };
}

/** What the merge must give: per id in ascending order, [link, op] of every link that has it, oldest first. */
function reference(links: number[][]): [number, [number, IndexEntry['op']][]][] {
  const all = new Map<number, [number, IndexEntry['op']][]>();
  for (const [link, ids] of links.entries()) {
    for (const id of new Set(ids)) {
      const op = (id + link) % 5 === 0 && link > 0 ? 'delete' : 'upsert';
      all.set(id, [...(all.get(id) ?? []), [link, op]]);
    }
  }
  return [...all.entries()].sort((a, b) => a[0] - b[0]);
}

async function merged(links: number[][], chunk: number): Promise<[number, [number, IndexEntry['op']][]][]> {
  const { reader, chain } = await chainOf(links, chunk);
  const out: [number, [number, IndexEntry['op']][]][] = [];
  for await (const batch of mergeIndexBatches(reader, chain)) {
    for (const v of batch) out.push([Number(Buffer.from(v.id).readBigInt64BE(1)), v.versions.map((x) => [x.link, x.entry.op])]);
  }
  return out;
}

describe('mergeIndexBatches', () => {
  it('gives every id once, versions oldest link first, across chunk boundaries (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 120 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        async (links, chunk) => {
          expect(await merged(links, chunk)).toEqual(reference(links));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('planFold: rows and superseded locations as the reference says, across chunk boundaries (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 80 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 7 }),
        async (links, chunk) => {
          const { reader, chain } = await chainOf(links, chunk);
          const plan = await planFold(reader, chain);
          try {
            const ref = reference(links);
            expect(plan.rows).toBe(ref.filter(([, v]) => v[v.length - 1]?.[1] === 'upsert').length);
            const got: string[] = [];
            for await (const e of plan.superseded.sorted()) got.push(Buffer.from(e.key).toString('hex'));
            const want = ref
              .flatMap(([id, v]) => v.filter((x, i) => x[1] === 'upsert' && i !== v.length - 1).map(([link]) => locationKey(link, 0, id)))
              .map((k) => Buffer.from(k).toString('hex'))
              .sort();
            expect(got).toEqual(want);
          } finally {
            await plan.superseded.close();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('yields batches of at most 4096 ids, and the same ids one by one through mergeIndexes', async () => {
    const links = [Array.from({ length: 10_000 }, (_, i) => i * 2), Array.from({ length: 3000 }, (_, i) => i * 3), []];
    const { reader, chain } = await chainOf(links, 1000);
    const sizes: number[] = [];
    for await (const batch of mergeIndexBatches(reader, chain)) sizes.push(batch.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
    let n = 0;
    for await (const v of mergeIndexes(reader, chain)) n += v.versions.length > 0 ? 1 : 0;
    expect(n).toBe(reference(links).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
  });

  it('planFold keeps the newest upsert of each id and supersedes the others', async () => {
    const links = [
      [1, 2, 3, 4, 5, 6],
      [2, 5, 7],
      [2, 3],
    ];
    const { reader, chain } = await chainOf(links, 2);
    const plan = await planFold(reader, chain);
    try {
      const live = reference(links).filter(([, v]) => v[v.length - 1]?.[1] === 'upsert').length;
      expect(plan.rows).toBe(live);
      const superseded: string[] = [];
      for await (const e of plan.superseded.sorted()) superseded.push(Buffer.from(e.key).toString('hex'));
      const expected = reference(links).flatMap(([id, v]) =>
        v.filter((x, i) => x[1] === 'upsert' && !(i === v.length - 1)).map(([link]) => [link, id] as const),
      );
      expect(superseded).toEqual(expected.map(([link, id]) => Buffer.from(locationKey(link, 0, id)).toString('hex')).sort());
    } finally {
      await plan.superseded.close();
    }
    for await (const batch of mergeIndexBatches(reader, chain))
      for (const v of batch) expect(winner(v)?.entry.op ?? 'upsert').toBe('upsert');
  });

  it('ChainLookup finds the newest version of each id asked for in ascending order, as the merge does (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 120 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 310 }), { maxLength: 80 }),
        async (links, chunk, asked) => {
          const { reader, chain } = await chainOf(links, chunk);
          const lookup = new ChainLookup(reader, chain);
          const want = new Map(reference(links).map(([id, v]) => [id, v[v.length - 1]]));
          for (const id of [...asked].sort((a, b) => a - b)) {
            const got = await lookup.newest(idBytes('int64', BigInt(id)));
            expect(got ? [got.link, got.entry.op] : undefined, `id ${id}`).toEqual(want.get(id));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("checkFoldDigest: the fold must sum to the head's buckets, and the buckets to its collection digest", async () => {
    const links = [
      [1, 2, 3, 4, 5, 6, 40],
      [2, 5, 7],
      [2, 3, 9],
    ];
    const { reader, chain } = await chainOf(links, 3);
    const recorded = new BucketDigest(16);
    for (const batch of await collect(mergeIndexBatches(reader, chain))) {
      for (const v of batch) {
        const w = winner(v);
        if (w) recorded.add(bucketOf(v.id, 16), w.entry.digest);
      }
    }
    const head = chain[chain.length - 1] as Manifest;
    const withDigest = (d: ReturnType<BucketDigest['toJSON']>): Manifest =>
      ({ ...head, rows: { upserts: 1, deletes: 0 }, digest: { algorithm: 'sha256-bucket-sum', ...d } }) as Manifest;
    const plan = await planFold(reader, chain);
    try {
      expect(() => checkFoldDigest(withDigest(recorded.toJSON()), plan.digest, 'test')).not.toThrow();
      // One record more in the head than the fold holds.
      const more = BucketDigest.fromJSON(recorded.toJSON());
      more.add(3, new Uint8Array(32).fill(9));
      expect(() => checkFoldDigest(withDigest(more.toJSON()), plan.digest, 'test')).toThrow(
        expect.objectContaining({ code: 'CHAIN_INVALID' }),
      );
      // Buckets that do not give the recorded collection digest.
      const forged = { ...recorded.toJSON(), collection: more.toJSON().collection };
      expect(() => checkFoldDigest(withDigest(forged), plan.digest, 'test')).toThrow(expect.objectContaining({ code: 'CHAIN_INVALID' }));
    } finally {
      await plan.superseded.close();
    }
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
