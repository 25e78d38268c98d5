import { describe, expect, it } from 'vitest';
import { ByteSink, CopyBinaryParser, binaryEncoder, copyHeader, isoToMicros } from '../../adapters/pgvector/pgvector-copy.js';
import fc from 'fast-check';
import { canonicalPayload, parseExactJson, parsePayload } from '../../src/format/canonical-json.js';
import { BucketDigest, idBytes, recordDigest } from '../../src/format/digest.js';
import { newSnapshotId } from '../../src/format/keys.js';
import { digestBatch, digestVectorOrder } from '../../src/format/rows.js';
import { decodeSegment, encodeSegment } from '../../src/format/segment-codec.js';
import { type AnyVectorColumn, JsonNumber, type JsonValue, type Payload, type VectorColumn } from '../../src/model.js';

const f32 = (col: AnyVectorColumn | undefined): Float32Array => (col as VectorColumn | undefined)?.data ?? new Float32Array(0);
import { makeBatch, makeRecords, rng, testSchema } from '../helpers/data.js';

describe('digests (format v1 — these values are frozen)', () => {
  it('record digest of a fixed record', () => {
    const d = recordDigest(idBytes('int64', 42n), [Float32Array.of(1, -0.5, 0.25)], canonicalPayload({ b: 1, a: 'x' }));
    // Independently computed from docs/format.md with Python's hashlib:
    // sha256(b'\x01' + pack('>q', 42) + b'\x01' + pack('<3f', 1, -0.5, 0.25) + pack('>I', 15) + b'{"a":"x","b":1}')
    expect(Buffer.from(d).toString('hex')).toBe('54daa9d1200925b598f9357da9f5c5a4cb1a12a87d27b180e4a28eb4c8aeb791');
  });

  it('canonical payload sorts keys and is whitespace-free', () => {
    expect(canonicalPayload({ b: [1, { d: 2, c: 'é' }], a: 1.5 })).toBe('{"a":1.5,"b":[1,{"c":"é","d":2}]}');
    // Array-index keys sort as strings in JCS ("10" < "2" < "b"), not numerically as JS enumerates them.
    expect(canonicalPayload({ b: 1, '2': 2, '10': 3, nested: { '1': true, a: null } })).toBe(
      '{"10":3,"2":2,"b":1,"nested":{"1":true,"a":null}}',
    );
  });

  it('the fast canonical JSON path matches the reference JCS implementation on random payloads', async () => {
    const mod: unknown = await import('canonicalize');
    const m = mod as { default?: unknown };
    const canonicalize = (typeof m.default === 'function' ? m.default : mod) as (v: unknown) => string;
    const r = rng(11);
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const value = (depth: number): JsonValue => {
      const kind = Math.floor(r() * (depth > 2 ? 4 : 6));
      if (kind === 0) return pick([null, true, false]);
      if (kind === 1) return pick([0, -0, 1e21, 1e-7, 123.456, -5, 2 ** 53 + 2, Number.MIN_VALUE, r() * 1e6]);
      if (kind === 2) return pick(['', 'é', '\u2028', '"q"\\', '\ud800', 'emoji 😀', 'tab\t']);
      if (kind === 3) return pick(['a', 'B', '_', 'z', '10']);
      if (kind === 4) return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1));
      const o: { [k: string]: JsonValue } = {};
      for (let i = Math.floor(r() * 5); i > 0; i--) o[pick(['a', 'b', 'B', 'é', '€', '😀', 'aa', '1', '07', 'x y'])] = value(depth + 1);
      return o;
    };
    for (let i = 0; i < 2000; i++) {
      const p = { k: value(0), [pick(['z', 'é', 'A'])]: value(0) } as Payload;
      expect(asJcs(canonicalPayload(p))).toBe(canonicalize(p));
    }
  });

  it('the general writer (array-index keys) matches the reference JCS implementation too', async () => {
    const mod: unknown = await import('canonicalize');
    const m = mod as { default?: unknown };
    const canonicalize = (typeof m.default === 'function' ? m.default : mod) as (v: unknown) => string;
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (p) => {
        const withIndexKey = { ...p, '10': 1 } as Payload;
        expect(asJcs(canonicalPayload(withIndexKey))).toBe(canonicalize(withIndexKey));
        expect(asJcs(canonicalPayload(p as Payload))).toBe(canonicalize(p));
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});

/** Our canonical JSON read as JCS's: the one deviation of format v2 is the token -0, which JCS writes 0. */
function asJcs(text: string): string {
  return text.replace(/(?<=[:,[])-0(?=[,\]}])/g, '0');
}

describe('exact payloads (format v2)', () => {
  it('writes a number -0 as the token -0 at any depth, never as 0, and reads it back as a number', () => {
    expect(canonicalPayload({ a: -0, b: [-0, 1, 0], c: { d: -0 } })).toBe('{"a":-0,"b":[-0,1,0],"c":{"d":-0}}');
    expect(canonicalPayload({ a: -0 })).toBe(canonicalPayload({ a: parseExactJson('-0') }));
    expect(canonicalPayload({ a: -0 })).not.toBe(canonicalPayload({ a: 0 }));
    expect(canonicalPayload({ a: 0, b: [0] })).toBe('{"a":0,"b":[0]}');
    const back = parsePayload('{"a":{"b":-0}}').a as { b: unknown };
    expect(back.b).toBeInstanceOf(JsonNumber);
    expect(Object.is(Number(String(back.b)), -0)).toBe(true);
  });

  it('keeps keys named like Object.prototype members, at any depth', () => {
    const p = parsePayload('{"__proto__":{"__proto__":[1],"constructor":2},"valueOf":null}');
    expect(Object.keys(p)).toEqual(['__proto__', 'valueOf']);
    expect(canonicalPayload(p)).toBe('{"__proto__":{"__proto__":[1],"constructor":2},"valueOf":null}');
    // A field named "constructor" that the payload lacks is absent, not Object.prototype.constructor.
    expect(p.constructor).toBeUndefined();
    expect(canonicalPayload(JSON.parse('{"a":{"__proto__":{"x":1}}}') as Payload)).toBe('{"a":{"__proto__":{"x":1}}}');
  });

  it('keeps numbers a float64 would change as their text, and every other number as v1 wrote it', () => {
    const exact = ['9007199254740993', '1.50', '-0', '1e400', '1E2', '0.0000001', '100000000000000000000000', '0.30000000000000004000'];
    for (const t of exact) {
      const v = parseExactJson(`{"n":${t},"a":[${t}]}`);
      expect(canonicalPayload(v as Payload)).toBe(`{"a":[${t}],"n":${t}}`);
    }
    expect(parseExactJson('9007199254740993')).toEqual(new JsonNumber('9007199254740993'));
    // Shortest round-trip forms stay plain numbers: v1 digests of ordinary payloads do not change.
    for (const t of ['0.30000000000000004', '1e-7', '1e+21', '123.456', '-5', '5e-324']) expect(parseExactJson(t)).toBe(Number(t));
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify({ v });
        expect(canonicalPayload(parsePayload(text))).toBe(canonicalPayload(JSON.parse(text) as Payload));
      }),
      { seed: 8, numRuns: 500 },
    );
  });

  it('reads canonical text with digits inside strings exactly, and with inexact numbers beside them', () => {
    const ts = '{"created":"2024-02-21T00:24:07.000000Z","score":0.8946277499198914,"title":"Doc 1.50 9007199254740993"}';
    expect(canonicalPayload(parsePayload(ts))).toBe(ts);
    expect(parsePayload(ts).score).toBe(0.8946277499198914);
    const mixed = '{"created":"2024-02-21T00:24:07.000000Z","n":9007199254740993,"z":-0}';
    const back = parsePayload(mixed);
    expect(back.n).toEqual(new JsonNumber('9007199254740993'));
    expect(canonicalPayload(back)).toBe(mixed);
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), (v, s) => {
        const text = canonicalPayload({ s: `${s}T00:24:07.000000Z`, v } as Payload);
        expect(canonicalPayload(parsePayload(text))).toBe(text);
      }),
      { seed: 9, numRuns: 500 },
    );
  });

  it('writes a payload built in key order as it writes the same payload built in any other order', () => {
    const rebuild = (v: unknown, reverse: boolean): unknown => {
      if (Array.isArray(v)) return v.map((x) => rebuild(x, reverse));
      if (v === null || typeof v !== 'object' || v instanceof JsonNumber) return v;
      const keys = Object.keys(v).sort();
      if (reverse) keys.reverse();
      const out = Object.create(null) as Record<string, unknown>;
      for (const k of keys) out[k] = rebuild((v as Record<string, unknown>)[k], reverse);
      return out;
    };
    const extras = [{ b: -0, a: 1 }, { 10: 'x', 9: 'y' }, { a: new JsonNumber('1.50') }, { a: undefined, b: 1 }, { a: [1, undefined, 3] }];
    fc.assert(
      fc.property(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.constantFrom(...extras)), (v) => {
        const ordered = canonicalPayload(rebuild(v, false) as Payload);
        expect(ordered).toBe(canonicalPayload(rebuild(v, true) as Payload));
        expect(ordered).toBe(canonicalPayload(v as Payload));
      }),
      { seed: 10, numRuns: 1000 },
    );
  });

  it('a JsonNumber serialises as the nearest float64 for engines without exact numbers', () => {
    expect(JSON.stringify({ n: new JsonNumber('9007199254740993'), m: new JsonNumber('1e400') })).toBe(
      '{"n":9007199254740992,"m":"1e400"}',
    );
  });
});

describe('digests, buckets and segments', () => {
  it('collection digest is order independent and localises differences to buckets', () => {
    const schema = testSchema('x');
    const records = makeRecords(300);
    const order = digestVectorOrder(schema);
    const a = new BucketDigest(16);
    digestBatch('int64', order, makeBatch(schema, records), a);
    const b = new BucketDigest(16);
    digestBatch('int64', order, makeBatch(schema, [...records].reverse()), b);
    expect(a.collectionDigest()).toBe(b.collectionDigest());
    const changed = records.map((r, i) => (i === 10 ? { ...r, payload: { ...r.payload, title: 'other' } } : r));
    const c = new BucketDigest(16);
    digestBatch('int64', order, makeBatch(schema, changed), c);
    expect(c.diff(a.toJSON())).toHaveLength(1);
  });

  it('bucket sums carry across 32-bit limbs and wrap mod 2^256', () => {
    const acc = new BucketDigest(1);
    const ones = new Uint8Array(32).fill(0xff);
    acc.add(0, ones);
    acc.add(
      0,
      Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 1 : 0)),
    );
    expect(acc.sumHex(0)).toBe('0'.repeat(64)); // (2^256 - 1) + 1 = 0 mod 2^256
    expect(acc.counts[0]).toBe(2);
  });
});

describe('segment codec', () => {
  it('round-trips ids, vectors (with nulls), payloads and digests exactly', () => {
    const schema = {
      ...testSchema('x', 5),
      vectors: [
        { name: 'a', dims: 5, metric: 'cosine' as const, element: 'float32' as const, nullable: false },
        { name: 'b', dims: 3, metric: 'l2' as const, element: 'float32' as const, nullable: true },
      ],
    };
    const r = rng(5);
    const records = makeRecords(100, 5).map((rec, i) => ({
      ...rec,
      vectors: { a: rec.vectors.embedding ?? null, b: i % 4 === 0 ? null : Float32Array.of(r(), r(), r()) },
    }));
    const batch = makeBatch(schema, records);
    const acc = new BucketDigest(8);
    const d = digestBatch('int64', digestVectorOrder(schema), batch, acc);
    const layout = {
      idType: 'int64' as const,
      vectors: [
        { name: 'a', dims: 5 },
        { name: 'b', dims: 3 },
      ],
    };
    const rowsIn = { batch, payloadJson: d.payloadJson, digests: d.digests, ops: new Array(100).fill('upsert') };
    const bytes = encodeSegment(layout, rowsIn);
    const zstd = encodeSegment(layout, rowsIn, { vectorCompression: 'zstd' });
    expect(zstd.length).not.toBe(bytes.length);
    expect(Array.from(f32(decodeSegment(layout, zstd).batch.vectors.a))).toEqual(Array.from(f32(batch.vectors.a)));
    const back = decodeSegment(layout, bytes);
    expect(Array.from(back.batch.ids as BigInt64Array)).toEqual(Array.from(batch.ids as BigInt64Array));
    expect(Array.from(f32(back.batch.vectors.a))).toEqual(Array.from(f32(batch.vectors.a)));
    expect(Array.from(back.batch.vectors.b?.valid ?? [])).toEqual(Array.from(batch.vectors.b?.valid ?? []));
    expect(back.payloadJson).toEqual(d.payloadJson);
    expect(Buffer.from(back.digests).equals(Buffer.from(d.digests))).toBe(true);
  });

  it('string ids round-trip, and encoding is deterministic (same bytes -> same content address)', () => {
    const schema = { ...testSchema('x', 4), idType: 'string' as const };
    const records = makeRecords(20, 4).map((rec, i) => ({ ...rec, id: `doc-${i}-ü` }));
    const batch = makeBatch(schema, records);
    const d = digestBatch('string', ['embedding'], batch, new BucketDigest(4));
    const layout = { idType: 'string' as const, vectors: [{ name: 'embedding', dims: 4 }] };
    const rows = { batch, payloadJson: d.payloadJson, digests: d.digests, ops: new Array(20).fill('upsert') };
    const one = encodeSegment(layout, rows);
    expect(Buffer.from(encodeSegment(layout, rows)).equals(Buffer.from(one))).toBe(true);
    expect(decodeSegment(layout, one).batch.ids).toEqual(records.map((x) => x.id));
  });
});

describe('binary COPY codec', () => {
  it('parses tuples split at every possible chunk boundary', () => {
    const sink = new ByteSink(64);
    copyHeader(sink);
    const vec = Float32Array.of(1.5, -2, 3.25);
    for (let i = 0; i < 5; i++) {
      sink.int16(3);
      sink.field(Buffer.from(`id-${i}`));
      sink.vector(vec, 0, 3);
      sink.field(i % 2 ? null : Buffer.from('x'.repeat(i * 10)));
    }
    sink.int16(-1);
    const all = Buffer.concat(sink.finish());
    for (let cut = 1; cut < all.length; cut++) {
      const p = new CopyBinaryParser();
      const rows: string[] = [];
      for (const chunk of [all.subarray(0, cut), all.subarray(cut)]) {
        for (const f of p.push(chunk)) {
          const v = Buffer.from(f[1] as Buffer);
          rows.push(
            `${f[0]?.toString()}|${v.readInt16BE(0)}|${v.readFloatBE(4)},${v.readFloatBE(8)},${v.readFloatBE(12)}|${f[2] == null ? 'null' : f[2].length}`,
          );
        }
      }
      expect(p.done).toBe(true);
      expect(rows).toEqual([0, 1, 2, 3, 4].map((i) => `id-${i}|3|1.5,-2,3.25|${i % 2 ? 'null' : i * 10}`));
    }
  });

  it('encodes timestamps, dates and arrays in PostgreSQL binary layout', () => {
    expect(isoToMicros('2000-01-01T00:00:00.000001Z')).toBe(946_684_800_000_001n);
    expect(isoToMicros('2000-01-01T01:00:00+01:00')).toBe(946_684_800_000_000n);
    expect(Buffer.from(binaryEncoder('timestamptz')?.('2000-01-01T00:00:00.000002Z') ?? []).readBigInt64BE(0)).toBe(2n);
    expect(Buffer.from(binaryEncoder('date')?.('2000-01-03') ?? []).readInt32BE(0)).toBe(2);
    const arr = Buffer.from(binaryEncoder('_int4')?.('[1,null,3]') ?? []);
    expect([arr.readInt32BE(0), arr.readInt32BE(4), arr.readUInt32BE(8), arr.readInt32BE(12), arr.readInt32BE(16)]).toEqual([
      1, 1, 23, 3, 1,
    ]);
    expect(binaryEncoder('numeric')).toBeUndefined();
    expect(() => binaryEncoder('uuid')?.('not-a-uuid')).toThrow();
  });

  it('encodes years above 9999 and before 1 AD (the scan writes them so) in binary layout', () => {
    const days = (t: string): number => Buffer.from(binaryEncoder('date')?.(t) ?? []).readInt32BE(0);
    const micros = (t: string): bigint => Buffer.from(binaryEncoder('timestamptz')?.(t) ?? []).readBigInt64BE(0);
    // Values from PostgreSQL: SELECT d - '2000-01-01'::date, and the binary send format of timestamps.
    expect(days('12345-06-07')).toBe(3_778_591);
    expect(days('5874897-12-31')).toBe(2_145_031_948);
    expect(days('0044-03-15 BC')).toBe(-746_117);
    expect(days('0001-12-31 BC')).toBe(-730_120);
    expect(days('4714-11-24 BC')).toBe(-2_451_545);
    expect(micros('12345-01-01T00:00:00.000000Z')).toBe(326_456_697_600_000_000n);
    expect(micros('0044-03-15T10:00:00.500000Z BC')).toBe(-64_464_472_799_500_000n);
    expect(micros('294276-12-31T23:59:59.999999Z')).toBe(9_223_371_331_199_999_999n);
    expect(() => days('0000-01-01 BC')).toThrow(RangeError);
    expect(() => days('2023-02-29')).toThrow(RangeError);
  });
});

describe('snapshot ids', () => {
  it('are 26 Crockford base32 characters and sort by time', () => {
    const a = newSnapshotId(1_700_000_000_000);
    const b = newSnapshotId(1_700_000_000_001);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
  });
});
