import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BucketDigest, bucketOf, idBytes } from '../../src/format/digest.js';
import { IndexWriter, decodeIndexChunk, encodeIndexChunk, type IndexEntry } from '../../src/format/delta-index.js';
import type { SegmentRef } from '../../src/format/manifest.js';
import { decodeSegment, encodeSegment, segmentLayout } from '../../src/format/segment-codec.js';
import { digestBatch, digestVectorOrder } from '../../src/format/rows.js';
import { makeBatch, makeRecords, testSchema } from '../helpers/data.js';

const entry = (n: number, op: 'upsert' | 'delete' = 'upsert'): IndexEntry => ({
  id: idBytes('int64', BigInt(n)),
  op,
  digest: op === 'upsert' ? randomBytes(32) : new Uint8Array(32),
  segment: n % 7,
  row: n,
});

describe('delta index chunks', () => {
  it('round-trip entries and refuse damage: header, order, op byte, trailing bytes', () => {
    const entries = [entry(1), entry(2, 'delete'), entry(300)];
    const bytes = encodeIndexChunk(entries);
    expect(decodeIndexChunk(bytes, 'k').map((e) => ({ ...e, id: Buffer.from(e.id), digest: Buffer.from(e.digest) }))).toEqual(
      entries.map((e) => ({ ...e, id: Buffer.from(e.id), digest: Buffer.from(e.digest) })),
    );
    const bad = Buffer.from(bytes);
    bad[0] = 0x41;
    expect(() => decodeIndexChunk(bad, 'k')).toThrow(/VDRDIX01/);
    expect(() => decodeIndexChunk(encodeIndexChunk([entry(2), entry(1)]), 'k')).toThrow(/ascending/);
    expect(() => decodeIndexChunk(encodeIndexChunk([entry(2)]), 'k', idBytes('int64', 5n))).toThrow(/ascending/);
    expect(() => decodeIndexChunk(Buffer.concat([bytes, Buffer.from([0])]), 'k')).toThrow(/after the last entry/);
    const op = Buffer.from(encodeIndexChunk([entry(1)]));
    op[12 + 4 + 9] = 7;
    expect(() => decodeIndexChunk(op, 'k')).toThrow(/op byte 7/);
    try {
      decodeIndexChunk(bad, 'k');
    } catch (err) {
      expect(err).toMatchObject({ code: 'SEGMENT_CORRUPT' });
    }
  });

  it('IndexWriter cuts chunks and refuses ids out of order', async () => {
    const stored: Uint8Array[] = [];
    const w = new IndexWriter(async (bytes, n) => {
      stored.push(bytes);
      return { key: `k${stored.length}`, sha256: '0'.repeat(64), bytes: bytes.length, rows: n } satisfies SegmentRef;
    }, 3);
    for (let i = 0; i < 7; i++) await w.add(entry(i));
    await expect(w.add(entry(3))).rejects.toThrow(/ascending/);
    const refs = await w.finish();
    expect(refs.map((r) => r.rows)).toEqual([3, 3, 1]);
    expect(decodeIndexChunk(stored[1] as Uint8Array, 'k2', idBytes('int64', 2n)).map((e) => e.row)).toEqual([3, 4, 5]);
  });

  it('IndexWriter writes the bytes encodeIndexChunk gives, string ids and deletes included, past its first buffer', async () => {
    const entries: IndexEntry[] = Array.from({ length: 3000 }, (_, i) => ({
      id: idBytes('string', `doc-${String(i).padStart(6, '0')}-${'x'.repeat(i % 50)}`),
      op: i % 9 === 0 ? 'delete' : 'upsert',
      digest: i % 9 === 0 ? new Uint8Array(32) : randomBytes(32),
      segment: i % 5,
      row: i,
    }));
    const stored: Uint8Array[] = [];
    const w = new IndexWriter(async (bytes, n) => {
      stored.push(bytes);
      return { key: `k${stored.length}`, sha256: '0'.repeat(64), bytes: bytes.length, rows: n } satisfies SegmentRef;
    }, 2000);
    for (const e of entries) await w.add(e);
    await w.finish();
    expect(stored.map((b) => Buffer.from(b))).toEqual(
      [entries.slice(0, 2000), entries.slice(2000)].map((c) => Buffer.from(encodeIndexChunk(c))),
    );
  });
});

describe('BucketDigest.subtract and fromJSON', () => {
  it('undo an add exactly, including across the 2^256 wrap, and continue a recorded state', () => {
    const d = new BucketDigest(4);
    const a = Buffer.alloc(32, 0xff);
    const b = randomBytes(32);
    d.add(1, b);
    const before = d.toJSON();
    d.add(1, a);
    d.subtract(1, a);
    expect(d.toJSON()).toEqual(before);
    const e = BucketDigest.fromJSON(before);
    expect(e.toJSON()).toEqual(before);
    e.subtract(1, b);
    expect(e.toJSON()).toEqual(new BucketDigest(4).toJSON());
    expect(bucketOf(idBytes('int64', 1n), 4)).toBeLessThan(4);
  });
});

describe('prev_digest column', () => {
  it('round-trips with nulls, and full-snapshot segments keep no such column', () => {
    const schema = testSchema('t', 4);
    const batch = makeBatch(schema, makeRecords(3, 4));
    const acc = new BucketDigest(8);
    const d = digestBatch(schema.idType, digestVectorOrder(schema), batch, acc);
    const layout = segmentLayout(schema);
    const prev = { digests: randomBytes(96), valid: Uint8Array.of(1, 0, 1) };
    const ops = ['upsert', 'upsert', 'delete'] as const;
    const out = decodeSegment(
      layout,
      encodeSegment(layout, { batch, payloadJson: d.payloadJson, digests: d.digests, ops: [...ops], prev }),
    );
    expect(Buffer.from(out.prev?.valid ?? [])).toEqual(Buffer.from([1, 0, 1]));
    expect(Buffer.from(out.prev?.digests.subarray(0, 32) ?? [])).toEqual(Buffer.from(prev.digests.subarray(0, 32)));
    expect(Buffer.from(out.prev?.digests.subarray(64) ?? [])).toEqual(Buffer.from(prev.digests.subarray(64)));
    expect(out.ops).toEqual([...ops]);
    const full = decodeSegment(
      layout,
      encodeSegment(layout, { batch, payloadJson: d.payloadJson, digests: d.digests, ops: ['upsert', 'upsert', 'upsert'] }),
    );
    expect(full.prev).toBeUndefined();
  });
});
