/**
 * Canonical payload JSON written straight from COPY bytes (adapters/pgvector/pgvector-payload-json.ts)
 * against the object path (parseText, then canonicalPayload), byte for byte, over a catalogue of
 * column types and values (unicode, escapes, NaN/-0, big ints, json/jsonb, arrays, NULLs, keys JS
 * orders first) and generated rows, on the real PostgreSQL 18 (PG_URL) and 16 (PG16_URL, when set): the
 * record digests hash this text, and each version writes its own text forms.
 */
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { isCanonicalStringArray } from '../../adapters/pgvector/pgvector-payload-json.js';
import { canonicalPayload } from '../../src/format/canonical-json.js';
import { textAt } from '../../src/format/packed-text.js';
import type { RecordBatch } from '../../src/model.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { pgvectorPool } from '../helpers/pg.js';

const PG_URL = process.env.PG_URL;
const PG16_URL = process.env.PG16_URL;

/** The servers the suites below run on: PostgreSQL 18 (required in CI) and 16 when test-all.sh started it. */
const SERVERS: { label: string; url: string | undefined; run: boolean }[] = [
  { label: 'PostgreSQL 18', url: PG_URL, run: engineAvailable('pgvector', Boolean(PG_URL)) },
  { label: 'PostgreSQL 16', url: PG16_URL, run: Boolean(PG16_URL) },
];

/** Column name, type, and values as SQL literals (NULL included); names JS would enumerate first or out of order on purpose. */
const COLUMNS: [string, string, string[]][] = [
  [
    't',
    'text',
    [
      `''`,
      `'plain'`,
      `'quote " back \\ slash / solidus'`,
      `E'\\x01\\x08\\t\\n\\x0b\\x0c\\r\\x1f\\x7f end'`,
      `'é€😀 ｱ 中文'`,
      `E'\\u2028\\u2029'`,
      `'</script>'`,
      `repeat('x', 10000)`,
      'NULL',
    ],
  ],
  ['10', 'varchar(20)', [`'ten'`, `'"'`, 'NULL']],
  ['2', 'char(5)', [`'ab'`, `'é'`, 'NULL']],
  ['__proto__', 'boolean', ['true', 'false', 'NULL']],
  ['constructor', 'uuid', [`'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`, 'NULL']],
  ['i2', 'int2', ['0', '-32768', '32767', 'NULL']],
  ['i4', 'int4', ['-2147483648', '2147483647', '-1', 'NULL']],
  [
    'i8',
    'int8',
    [
      '0',
      '-1',
      '999999999999999',
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '-9223372036854775808',
      '9223372036854775807',
      'NULL',
    ],
  ],
  [
    'é',
    'real',
    [`'NaN'`, `'Infinity'`, `'-Infinity'`, `'-0'`, '0', '0.1', '1e-7', '3.4028235e38', '1.1754944e-38', '1.4e-45', '16777217', 'NULL'],
  ],
  [
    'f8',
    'double precision',
    [
      `'NaN'`,
      `'-0'`,
      '5e-324',
      '1.7976931348623157e308',
      '1e21',
      '1e20',
      '123456789012345680000',
      '1e-7',
      '0.000001',
      '0.1',
      '-2.5',
      '4.35',
      '9007199254740993',
      'NULL',
    ],
  ],
  ['nm', 'numeric', ['1.50', `'NaN'`, '-0.000', '12345678901234567890.123', 'NULL']],
  ['ts', 'timestamptz', [`'2024-01-02 03:04:05.123456+00'`, `'infinity'`, `'-infinity'`, `'0044-03-15 12:00:00+00 BC'`, 'NULL']],
  ['tsn', 'timestamp', [`'2024-01-02 03:04:05'`, `'infinity'`, 'NULL']],
  ['d', 'date', [`'2024-02-29'`, `'infinity'`, `'0044-03-15 BC'`, `'5874897-12-31'`, 'NULL']],
  ['by', 'bytea', [`'\\x00ff10'`, `''`, 'NULL']],
  ['j', 'json', [`'{"b": 1, "a": [1.50, -0, 1e400], "a": 2}'`, `'"str\\u0001"'`, `'null'`, 'NULL']],
  ['jb', 'jsonb', [`'{"b": 1, "a": [1.50, -0], "10": {"2": null, "__proto__": "x"}}'`, `'9007199254740993'`, `'"é\\n"'`, `'null'`, 'NULL']],
  [
    'ta',
    'text[]',
    [
      `'{}'`,
      `'{a,"b\\"c",NULL,"back\\\\slash"}'`,
      `'[0:1]={x,y}'`,
      `'{{a,b},{c,d}}'`,
      `ARRAY[E'\\x01\\t\\x1f', 'é😀', E'\\u2028', '']`,
      `ARRAY[NULL]::text[]`,
      'NULL',
    ],
  ],
  ['va', 'varchar[]', [`'{"with space",x}'`, 'NULL']],
  ['ia', 'int8[]', [`'{1,NULL,9007199254740993}'`, 'NULL']],
  ['fa', 'float8[]', [`'{NaN,-0,1e-7,Infinity,0.1}'`, 'NULL']],
  ['ja', 'jsonb[]', [`ARRAY['{"b":1,"a":2}'::jsonb, NULL]`, `ARRAY['1.50'::jsonb]`, 'NULL']],
  ['jsa', 'json[]', [`ARRAY['{"b":1, "a":2}'::json]`, 'NULL']],
  ['ba', 'boolean[]', [`'{t,f,NULL}'`, 'NULL']],
];

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

describe.each(SERVERS)('payload JSON from COPY bytes ($label)', ({ url, run }) => {
  let pool: pg.Pool;
  const table = randomName('h18clean_pj');

  beforeAll(async () => {
    if (!run) return;
    pool = await pgvectorPool(url);
    await pool.query(`CREATE TABLE ${table} (id int8 PRIMARY KEY, e vector(2), ${COLUMNS.map(([n, t]) => `${quote(n)} ${t}`).join(', ')})`);
    // Row k takes value k of every column (its last value, NULL, once its list runs out), then an all-NULL row.
    const rows = Math.max(...COLUMNS.map(([, , v]) => v.length));
    for (let k = 0; k <= rows; k++) {
      const values = COLUMNS.map(([, , v]) => (k < rows ? (v[Math.min(k, v.length - 1)] as string) : 'NULL'));
      await pool.query(`INSERT INTO ${table} VALUES (${k + 1}, '[1,2]', ${values.join(', ')})`);
    }
  });
  afterAll(async () => {
    if (!run) return;
    await pool?.query(`DROP TABLE IF EXISTS ${table}`);
    await pool?.end();
  });

  /** Every row's payload text by id, read with and without `payloadJson`. */
  async function bothPaths(copy: 'auto' | 'never'): Promise<{ direct: Map<string, string>; objects: Map<string, string> }> {
    const adapter = pgvectorAdapter({ pool, copy });
    const read = async (payloadJson: boolean): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      const session = await adapter.scan(table, { batchSize: 7, payloadJson });
      try {
        for await (const b of session.batches() as AsyncIterable<RecordBatch>) {
          for (let i = 0; i < b.length; i++) {
            const text = b.payloadJson ? textAt(b.payloadJson, i) : canonicalPayload(b.payloads[i] ?? {});
            out.set(String(b.ids[i]), text);
          }
          if (payloadJson) expect(b.payloadJson).toBeDefined();
          else expect(b.payloadJson).toBeUndefined();
        }
      } finally {
        await session.close();
      }
      return out;
    };
    return { direct: await read(true), objects: await read(false) };
  }

  it.runIf(run)('writes every catalogue row byte for byte as the object path does (binary COPY and SELECT)', async () => {
    for (const copy of ['auto', 'never'] as const) {
      const { direct, objects } = await bothPaths(copy);
      expect(direct.size).toBe(objects.size);
      for (const [id, text] of objects)
        expect(Buffer.from(direct.get(id) ?? '').equals(Buffer.from(text)), `row ${id}: ${text}`).toBe(true);
    }
  });

  it.runIf(run)('agrees on generated text, integers, floats and text arrays', async () => {
    const gen = randomName('h18clean_pjg');
    await pool.query(`CREATE TABLE ${gen} (id int8 PRIMARY KEY, e vector(2), s text, n int8, x float8, r real, a text[])`);
    try {
      const noNul = (s: string): boolean => !s.includes('\0') && !/\p{Surrogate}/u.test(s);
      const str = fc.string({ unit: 'binary', maxLength: 16 }).filter(noNul);
      const row = fc.record({
        s: fc.option(str, { nil: null }),
        n: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: null }),
        x: fc.option(fc.double(), { nil: null }),
        r: fc.option(fc.float(), { nil: null }),
        a: fc.option(fc.array(fc.option(str, { nil: null }), { maxLength: 4 }), { nil: null }),
      });
      const rows = fc.sample(row, { numRuns: 300, seed: 18 });
      const f = (x: number | null): string | null =>
        x === null
          ? null
          : Number.isNaN(x)
            ? 'NaN'
            : Object.is(x, -0)
              ? '-0'
              : x === Infinity
                ? 'Infinity'
                : x === -Infinity
                  ? '-Infinity'
                  : String(x);
      for (const [i, r] of rows.entries()) {
        await pool.query(`INSERT INTO ${gen} VALUES ($1, '[1,2]', $2, $3, $4::float8, $5::real, $6)`, [
          i + 1,
          r.s,
          r.n === null ? null : String(r.n),
          f(r.x),
          f(r.r),
          r.a,
        ]);
      }
      const adapter = pgvectorAdapter({ pool });
      const read = async (payloadJson: boolean): Promise<string[]> => {
        const out: string[] = [];
        const session = await adapter.scan(gen, { batchSize: 64, payloadJson });
        try {
          for await (const b of session.batches())
            for (let i = 0; i < b.length; i++) out.push(b.payloadJson ? textAt(b.payloadJson, i) : canonicalPayload(b.payloads[i] ?? {}));
        } finally {
          await session.close();
        }
        return out;
      };
      const direct = await read(true);
      const objects = await read(false);
      expect(direct).toHaveLength(rows.length);
      direct.forEach((t, i) => expect(Buffer.from(t).equals(Buffer.from(objects[i] as string)), objects[i]).toBe(true));
    } finally {
      await pool.query(`DROP TABLE IF EXISTS ${gen}`);
    }
  });
});

describe.each(SERVERS)('float8 text in fixed notation ($label)', ({ url, run }) => {
  it.runIf(run)('is what JavaScript writes for the same number, for doubles and floats across the fixed range', async () => {
    const pool = await pgvectorPool(url);
    try {
      const doubles = fc.sample(
        fc.oneof(
          fc.double({ min: -1e15, max: 1e15, noNaN: true }),
          fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
          fc.float({ noNaN: true, noDefaultInfinity: true }).map(Math.fround),
          fc.integer().map((i) => i / 1000),
        ),
        { numRuns: 20_000, seed: 18 },
      );
      // As the scan reads them: float8, and real through float8 (selectExpr's ::float8::text).
      const texts: string[] = [];
      for (const sql of [
        'SELECT x::text AS t FROM unnest($1::float8[]) AS x',
        'SELECT x::float8::text AS t FROM unnest($1::real[]) AS x',
      ]) {
        const values = sql.includes('real') ? doubles.map(Math.fround).filter((x) => x === 0 || Math.abs(x) > 1.2e-38) : doubles;
        for (const row of (await pool.query(sql, [values.map(String)])).rows as { t: string }[]) texts.push(row.t);
      }
      let fixed = 0;
      for (const text of texts) {
        if (!/^-?[\d.]+$/.test(text) || text === '-0') continue;
        fixed++;
        expect(String(Number(text)), text).toBe(text);
      }
      expect(fixed).toBeGreaterThan(20_000);
    } finally {
      await pool.end();
    }
  });
});

describe('isCanonicalStringArray', () => {
  it("accepts exactly JSON.stringify's form of a string array", () => {
    const yes = ['[]', '["a"]', '["a",null,""]', JSON.stringify(['\u0001\b\t\n\f\r\u001f"\\', 'é😀', '\u2028'])];
    const no = [
      '[ ]',
      '["a", "b"]',
      '[1]',
      '["\\u0009"]',
      '["\\u001F"]',
      '["\\/"]',
      '["a"',
      '"a"',
      '[null,]',
      '[nul]',
      'L{a}',
      '["\u0001"]',
    ];
    for (const s of yes) expect(isCanonicalStringArray(Buffer.from(s)), s).toBe(true);
    for (const s of no) expect(isCanonicalStringArray(Buffer.from(s)), s).toBe(false);
    expect(isCanonicalStringArray(Uint8Array.from([0x5b, 0x22, 0xff, 0x22, 0x5d]))).toBe(false);
  });
});
