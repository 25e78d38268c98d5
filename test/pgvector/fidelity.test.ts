/**
 * Differential fidelity: for every column type the pgvector adapter claims, values go through
 * snapshot -> restore into a new table, and the original and restored tables are compared row by
 * row through PostgreSQL's own text output (`SELECT t::text`). verifyParity must agree with that
 * comparison both ways: ok when the texts are equal, failing and naming the id when one value of
 * the restored table is changed through SQL. Runs on the real PostgreSQL (PG_URL) and on PGlite,
 * with binary COPY and with `copy: 'never'` (INSERT), edge cases first, then generated values.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { PgvectorAdapter } from '../../adapters/pgvector/pgvector-adapter.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { engineAvailable, randomName } from '../helpers/engines.js';

const PG_URL = process.env.PG_URL;

type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

interface Engine {
  query: Query;
  adapter: (copy: 'auto' | 'never') => PgvectorAdapter;
  close: () => Promise<void>;
}

/** A column of the test table: name, type, and edge-case values as input text (null = SQL NULL). */
interface Column {
  name: string;
  type: string;
  edges: (string | null)[];
  /** Generated input texts (property-based part). */
  gen?: fc.Arbitrary<string | null>;
}

const q = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** PostgreSQL array literal text of the elements, with optional explicit lower bound. */
function arrayText(elems: (string | null)[], lower = 1): string {
  const body = `{${elems.map((e) => (e === null ? 'NULL' : `"${e.replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
  return lower === 1 || elems.length === 0 ? body : `[${lower}:${lower + elems.length - 1}]=${body}`;
}

const floatText = (x: number): string =>
  Object.is(x, -0) ? '-0' : Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Infinity' : x === -Infinity ? '-Infinity' : String(x);
const nullable = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(a, { nil: null, freq: 6 });
// PostgreSQL text holds neither NUL nor lone surrogates (not UTF-8).
const noNul = (s: string): boolean => !s.includes('\0') && !/\p{Surrogate}/u.test(s);
const text = fc.string({ unit: 'binary', maxLength: 12 }).filter(noNul);
const jsonKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'valueOf', 'hasOwnProperty', 'toString', '10', '2', 'a', ''), text);
/** JSON number tokens, including those a float64 would change. */
const jsonNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.tuple(fc.integer({ min: -999, max: 999 }), fc.nat(9999)).map(([a, b]) => `${a}.${b}0`),
  fc.constantFrom('-0', '1e400', '-1E-400', '0.0000001', '9007199254740993', '1.50'),
);
const jsonText: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonNumber,
    fc.constantFrom('null', 'true', 'false'),
    text.map((s) => JSON.stringify(s)),
    fc.array(tie('v'), { maxLength: 3 }).map((a) => `[${a.join(', ')}]`),
    fc.array(fc.tuple(jsonKey, tie('v')), { maxLength: 3 }).map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ')}}`),
  ),
})).v;
const dateText = fc.integer({ min: -2_451_545, max: 2_140_000_000 }).map((d) => `epoch:${d}`);

const COLUMNS: Column[] = [
  {
    name: '__proto__',
    type: 'jsonb',
    edges: ['{"__proto__": {"x": 1}, "constructor": 1}', 'null', null, '{"a": {"__proto__": [1]}}'],
    gen: nullable(jsonText),
  },
  { name: 'constructor', type: 'boolean', edges: [null, 'true', 'false'], gen: nullable(fc.boolean().map(String)) },
  { name: 'valueOf', type: 'boolean', edges: [null, 'false'] },
  { name: 'hasOwnProperty', type: 'text', edges: [null, 'x', ''] },
  { name: 'toString', type: 'integer', edges: [null, '0'] },
  {
    name: 'i2',
    type: 'smallint',
    edges: ['-32768', '32767', '0', null],
    gen: nullable(fc.integer({ min: -32768, max: 32767 }).map(String)),
  },
  { name: 'i4', type: 'integer', edges: ['-2147483648', '2147483647'], gen: nullable(fc.integer().map(String)) },
  {
    name: 'i8',
    type: 'bigint',
    edges: ['-9223372036854775808', '9223372036854775807', '9007199254740993', '-9007199254740993'],
    gen: nullable(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)),
  },
  {
    name: 'f4',
    type: 'real',
    edges: ['-0', 'NaN', 'Infinity', '-Infinity', '3.4028235e38', '1e-45', '0.1', '0'],
    gen: nullable(fc.float().map(floatText)),
  },
  {
    name: 'f8',
    type: 'double precision',
    edges: ['-0', 'NaN', 'Infinity', '-Infinity', '1.7976931348623157e308', '5e-324', '0.1', '0'],
    gen: nullable(fc.double().map(floatText)),
  },
  { name: 'tx', type: 'text', edges: ['', 'é☃😀', '{"a":1}', 'NULL', `'"\\`, 'L[0:1]={1}', '-0'], gen: nullable(text) },
  { name: 'vc', type: 'varchar(10)', edges: ['a ', ''] },
  { name: 'bp', type: 'char(3)', edges: ['a', ''] },
  { name: 'nm', type: 'name', edges: ['x', ''] },
  {
    name: 'u',
    type: 'uuid',
    edges: ['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'],
    gen: nullable(fc.uuid()),
  },
  {
    name: 'tz',
    type: 'timestamptz',
    edges: [
      'infinity',
      '-infinity',
      '0044-03-15 10:00:00.5+00 BC',
      '12345-01-01 00:00:00+00',
      '2024-02-29 12:34:56.789012+00',
      '4713-01-01 00:00:00+00 BC',
      '0001-01-01 00:00:00+00',
      '0001-12-31 23:59:59.999999+00 BC',
      '294276-12-31 23:59:59.999999+00',
    ],
    gen: nullable(fc.bigInt({ min: -211_810_000_000_000_000n, max: 9_200_000_000_000_000_000n }).map((us) => `micros:${us}`)),
  },
  {
    name: 'ts',
    type: 'timestamp',
    edges: ['-infinity', '0044-03-15 10:00:00.5 BC', '12345-01-01 00:00:00', '2000-01-01 00:00:00', '294276-12-31 23:59:59.999999'],
  },
  {
    name: 'd',
    type: 'date',
    edges: ['0044-03-15 BC', '12345-06-07', 'infinity', '-infinity', '4713-01-01 BC', '5874897-12-31', '2000-02-29'],
    gen: nullable(dateText),
  },
  {
    name: 'j',
    type: 'json',
    edges: ['{"b":1, "a":2, "b":3}', '1.50', '-0', '9007199254740993', 'null', '  [1, 2]  ', '"abc"', '{"__proto__": 1}'],
    gen: nullable(jsonText),
  },
  {
    name: 'jb',
    type: 'jsonb',
    edges: [
      '{"a": 9007199254740993, "b": 1.50, "c": 1e400}',
      'null',
      '"abc"',
      '{"__proto__": 1, "valueOf": {"toString": 2}}',
      '[]',
      '{}',
      '-0',
      '0.0000001',
      '[null, "123", "true"]',
      '{"10": 1, "2": [1.0]}',
    ],
    gen: nullable(jsonText),
  },
  {
    name: 'by',
    type: 'bytea',
    edges: ['\\x', '\\x00ff10'],
    gen: nullable(fc.uint8Array({ maxLength: 8 }).map((b) => `\\x${Buffer.from(b).toString('hex')}`)),
  },
  {
    name: 'ai4',
    type: 'integer[]',
    edges: ['{}', '{1,NULL,3}', '[0:2]={1,2,3}', '{{1,2},{3,4}}', '[-5:-5]={7}'],
    gen: nullable(
      fc
        .tuple(fc.array(nullable(fc.integer().map(String)), { maxLength: 4 }), fc.oneof(fc.constant(1), fc.integer({ min: -3, max: 3 })))
        .map(([e, lb]) => arrayText(e, lb)),
    ),
  },
  {
    name: 'ai8',
    type: 'bigint[]',
    edges: ['{9223372036854775807,NULL,-9007199254740993}'],
    gen: nullable(
      fc.array(nullable(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)), { maxLength: 3 }).map((e) => arrayText(e)),
    ),
  },
  {
    name: 'af8',
    type: 'double precision[]',
    edges: ['{-0,NaN,Infinity,-Infinity,1.5,NULL}'],
    gen: nullable(fc.array(nullable(fc.double().map(floatText)), { maxLength: 4 }).map((e) => arrayText(e))),
  },
  {
    name: 'af4',
    type: 'real[]',
    edges: ['{-0,0.1,3.4028235e38}'],
    gen: nullable(fc.array(nullable(fc.float().map(floatText)), { maxLength: 4 }).map((e) => arrayText(e))),
  },
  {
    name: 'atx',
    type: 'text[]',
    edges: ['{"",NULL,"NULL","a,b","é","\\"q\\""}', '{}'],
    gen: nullable(fc.array(nullable(text), { maxLength: 4 }).map((e) => arrayText(e))),
  },
  { name: 'ab', type: 'boolean[]', edges: ['{t,NULL,f}'] },
  { name: 'au', type: 'uuid[]', edges: ['{00000000-0000-0000-0000-000000000001,NULL}'] },
  {
    name: 'an',
    type: 'numeric[]',
    edges: ['{1.50,NaN,1e40,-0.000}', '{10000000000000000000000000000000000000001,0.1234567890123456789012345678901234567890}'],
    gen: nullable(fc.array(nullable(jsonNumber.filter((n) => !/e/i.test(n))), { maxLength: 3 }).map((e) => arrayText(e))),
  },
  {
    name: 'ajb',
    type: 'jsonb[]',
    edges: ['{"\\"abc\\"","\\"123\\"","\\"true\\"",NULL,"null"}', '{"{\\"a\\": 1}"}', '{}'],
    gen: nullable(fc.array(nullable(jsonText), { maxLength: 3 }).map((e) => arrayText(e))),
  },
  {
    name: 'aj',
    type: 'json[]',
    edges: ['{"{\\"b\\":1, \\"a\\":2}","1.50",NULL}'],
    gen: nullable(fc.array(nullable(jsonText), { maxLength: 3 }).map((e) => arrayText(e))),
  },
  { name: 'ad', type: 'date[]', edges: ['{2024-01-01,NULL,"0044-03-15 BC",12345-01-01}'] },
  { name: 'atz', type: 'timestamptz[]', edges: ['{"2024-01-01 00:00:00.000001+00","0044-03-15 10:00:00+00 BC",infinity}'] },
  {
    name: 'num',
    type: 'numeric',
    edges: ['NaN', '1.50', '-0.000', '1e-40', '123456789012345678901234567890.123'],
    gen: nullable(jsonNumber.filter((n) => !/e/i.test(n))),
  },
  { name: 'ch', type: '"char"', edges: ['A', '\\201', ''] },
  { name: 'ach', type: '"char"[]', edges: ['{A,"\\\\201",NULL}'] },
  { name: 'iv', type: 'interval', edges: ['1 year 2 mons -3 days 04:05:06.000007'] },
  { name: 'ip', type: 'inet', edges: ['10.0.0.1/8', '::1'] },
];

const VECTOR_EDGES = ['[-0,1,2]', '[1e-45,3.4028235e38,-1]', '[0,0,0]'];
const vectorGen = fc
  .array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 3, maxLength: 3 })
  .map((v) => `[${v.map(floatText).join(',')}]`);

/** Input text for one cell; generated dates and timestamps are offsets computed by the server. */
function cellSql(col: Column, k: number): string {
  return col.type === 'date'
    ? `CASE WHEN $${k}::text LIKE 'epoch:%' THEN '2000-01-01'::date + substr($${k}::text, 7)::int ELSE $${k}::text::date END`
    : col.type === 'timestamptz'
      ? `CASE WHEN $${k}::text LIKE 'micros:%' THEN '2000-01-01 00:00:00+00'::timestamptz + ` +
        `substr($${k}::text, 8)::int8 * interval '1 microsecond' ELSE $${k}::text::timestamptz END`
      : col.type === '"char"'
        ? `charin($${k}::text::cstring)` // text::"char" would take the first byte, not parse '\201'
        : `$${k}::text::${col.type}`;
}

async function createTable(db: Engine, name: string, rows: { vec: string | null; cells: (string | null)[] }[]): Promise<void> {
  await db.query(`CREATE TABLE ${q(name)} (id int8 PRIMARY KEY, v vector(3), ${COLUMNS.map((c) => `${q(c.name)} ${c.type}`).join(', ')})`);
  const cols = ['id', 'v', ...COLUMNS.map((c) => c.name)].map(q).join(', ');
  const values = ['$1::text::int8', '$2::text::vector', ...COLUMNS.map((c, i) => cellSql(c, i + 3))].join(', ');
  for (const [i, row] of rows.entries())
    await db.query(`INSERT INTO ${q(name)} (${cols}) VALUES (${values})`, [String(i + 1), row.vec, ...row.cells]);
}

async function dropTables(db: Engine, ...names: string[]): Promise<void> {
  for (const n of names) await db.query(`DROP TABLE IF EXISTS ${q(n)}`);
}

async function rowTexts(db: Engine, table: string): Promise<string[]> {
  return (await db.query(`SELECT r::text AS r FROM ${q(table)} r ORDER BY id`)).map((r) => String(r.r));
}

function engines(): { name: string; open: () => Promise<Engine> }[] {
  const out: { name: string; open: () => Promise<Engine> }[] = [];
  if (engineAvailable('pglite', true)) {
    out.push({
      name: 'PGlite',
      open: async () => {
        const db = await PGlite.create({ extensions: { vector } });
        await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
        return {
          query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows,
          adapter: (copy) => pgvectorAdapter({ pglite: db, copy }),
          close: () => db.close(),
        };
      },
    });
  }
  if (engineAvailable('pgvector', PG_URL !== undefined)) {
    out.push({
      name: 'PostgreSQL',
      open: async () => {
        const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
        pool.on('error', () => undefined);
        await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
        return {
          query: async (sql, params) => (await pool.query(sql, params)).rows as Record<string, unknown>[],
          adapter: (copy) => pgvectorAdapter({ pool, copy }),
          close: () => pool.end(),
        };
      },
    });
  }
  return out;
}

/** Edge-case rows: row k takes each column's k-th edge value (NULL beyond), plus one all-NULL row. */
function edgeRows(): { vec: string | null; cells: (string | null)[] }[] {
  const n = Math.max(VECTOR_EDGES.length, ...COLUMNS.map((c) => c.edges.length)) + 1;
  return Array.from({ length: n }, (_, k) => ({ vec: VECTOR_EDGES[k] ?? null, cells: COLUMNS.map((c) => c.edges[k] ?? null) }));
}

/** Changes a restored table must make parity fail on: [column, id, new value as SQL]. */
const MUTATIONS: [string, number, string][] = [
  ['jb', 1, `'{"a": 9007199254740992, "b": 1.50, "c": 1e400}'`],
  ['jb', 2, 'NULL'],
  ['f8', 1, `'0'`],
  ['j', 1, `'{"a":2, "b":1, "b":3}'`],
  ['ai4', 3, `'{1,2,3}'`],
  ['tz', 3, `'0044-03-15 10:00:00.5+00'`],
  ['__proto__', 1, `'{"constructor": 1}'`],
  ['constructor', 1, `'true'`],
  ['v', 1, `'[0,1,2]'`],
  ['an', 2, `'{10000000000000000000000000000000000000000,0.1234567890123456789012345678901234567890}'`],
];

for (const eng of engines()) {
  for (const copy of ['auto', 'never'] as const) {
    describe(`fidelity on ${eng.name}, copy: ${copy}`, () => {
      let db: Engine;
      let adapter: PgvectorAdapter;
      beforeAll(async () => {
        db = await eng.open();
        adapter = db.adapter(copy);
      });
      afterAll(async () => {
        await db?.close();
      });

      /** Snapshot -> restore -> compare texts; parity must agree. Returns the restored table's name. */
      async function roundTrip(
        source: string,
      ): Promise<{ target: string; repo: Awaited<ReturnType<typeof openRepository>>; snapshot: string; same: boolean }> {
        const repo = await openRepository({ storage: memoryStorage(), create: true });
        const { manifest } = await repo.snapshot(adapter, source);
        const target = randomName('fid_r');
        await repo.restore(adapter, { collection: source, snapshot: manifest.id, target });
        const [a, b] = [await rowTexts(db, source), await rowTexts(db, target)];
        const parity = await repo.verifyParity(adapter, { collection: source, snapshot: manifest.id, live: target });
        expect(b).toEqual(a);
        expect(parity.ok).toBe(true);
        return { target, repo, snapshot: manifest.id, same: true };
      }

      it('edge cases come back exactly, and parity names every changed value', async () => {
        const source = randomName('fid');
        await createTable(db, source, edgeRows());
        const { target, repo, snapshot } = await roundTrip(source);
        // Ordinary values keep their v1 neutral form (their digests stay valid); lossy ones take the v2 forms.
        const [r1, r2, r3] = await adapter.fetch(source, [1n, 2n, 3n]);
        expect(r1?.payload.atx).toEqual(['', null, 'NULL', 'a,b', 'é', '"q"']);
        expect(r2?.payload.ai4).toEqual([1, null, 3]);
        expect(r3?.payload.ai4).toBe('[0:2]={1,2,3}');
        expect(r1?.payload.i8).toBe('-9223372036854775808');
        expect(r3?.payload.i8).toBe('9007199254740993');
        expect([r1?.payload.f8, r1?.payload.f4, r2?.payload.f8]).toEqual(['-0', '-0', 'NaN']);
        expect(r1?.payload.d).toBe('0044-03-15 BC');
        expect(r2?.payload.d).toBe('12345-06-07');
        expect(r3?.payload.tz).toBe('0044-03-15T10:00:00.500000Z BC');
        expect(r1?.payload.j).toBe('{"b":1, "a":2, "b":3}');
        expect(r2?.payload.jb).toBeNull();
        expect(Object.hasOwn(r3?.payload ?? {}, '__proto__')).toBe(false); // SQL NULL: absent
        expect(Object.keys(r1?.payload.__proto__ ?? {})).toEqual(['__proto__', 'constructor']);
        expect(r1?.payload.constructor).toBeUndefined(); // SQL NULL, and no Object.prototype member
        for (const [col, id, value] of MUTATIONS) {
          const before = await rowTexts(db, target);
          await db.query(`UPDATE ${q(target)} SET ${q(col)} = ${value} WHERE id = ${id}`);
          const after = await rowTexts(db, target);
          expect(after, `mutation of ${col} in row ${id} must change the row text`).not.toEqual(before);
          const parity = await repo.verifyParity(adapter, { collection: source, snapshot, live: target });
          expect(parity.ok, `parity after changing ${col} in row ${id}`).toBe(false);
          expect(parity.changed.map(String)).toContain(String(id));
          const original = await db.query(`SELECT ${q(col)}::text AS v FROM ${q(source)} WHERE id = ${id}`);
          await db.query(`UPDATE ${q(target)} SET ${q(col)} = $1 WHERE id = ${id}`, [original[0]?.v ?? null]);
          expect(await rowTexts(db, target)).toEqual(before);
        }
        expect((await repo.verifyParity(adapter, { collection: source, snapshot, live: target })).ok).toBe(true);
        await dropTables(db, source, target);
      });

      it('generated values come back exactly, and parity agrees with the engine', async () => {
        const row = fc.record({ vec: nullable(vectorGen), cells: fc.tuple(...COLUMNS.map((c) => c.gen ?? fc.constantFrom(...c.edges))) });
        await fc.assert(
          fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 12 }), async (rows) => {
            const source = randomName('fid_g');
            await createTable(db, source, rows);
            const { target } = await roundTrip(source);
            await dropTables(db, source, target);
          }),
          { seed: 20261203, numRuns: 8, endOnFailure: true },
        );
      });
    });
  }
}
