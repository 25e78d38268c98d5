/**
 * What recording and recreating a table definition costs (issue 21): the same rows in a plain table
 * and in one with a bigserial key, defaults, a generated column, CHECK and UNIQUE; snapshot and
 * restore (trustDefinitions) of each, wall time and client CPU, `--repeat` runs, medians. Also the
 * catalog reads of the definition alone (`readDefinition`), inside a REPEATABLE READ transaction.
 *
 *   PG_URL=postgres://... npx tsx bench/table-definition.ts --rows 20000 --dims 64 --repeat 3 --out bench/results/<commit>-table-definition.json
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pgvectorAdapter } from '../adapters/pgvector/index.js';
import { readDefinition } from '../adapters/pgvector/pgvector-definition.js';
import { openRepository } from '../src/repository/repository.js';
import { memoryStorage } from '../src/storage/memory-storage.js';
import { benchOptions, benchRun, benchSize, log, median, parentPool } from './bench-lib.js';

const { values } = parseArgs({ options: benchOptions({ rows: '20000', dims: '64', repeat: '3' }) });
const { rows, dims, repeat } = benchSize(values);
const url = process.env.PG_URL;
if (!url) throw new Error('PG_URL is required');
const pool = parentPool(url);
const run = await benchRun(pool);
const adapter = pgvectorAdapter({ pool });
const prefix = `bench_def_${process.pid}`;

const TABLES = {
  plain: `(id bigint PRIMARY KEY, e vector(${dims}) NOT NULL, title text, price numeric, qty int)`,
  definition:
    `(id bigserial PRIMARY KEY, e vector(${dims}) NOT NULL, title text NOT NULL DEFAULT 'none' UNIQUE, price numeric CHECK (price > 0), ` +
    `qty int NOT NULL DEFAULT 1 CHECK (qty < 1000), total numeric GENERATED ALWAYS AS (price * qty) STORED)`,
};

/** Wall and client CPU of `fn`. */
async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

const result: Record<string, unknown> = {};
try {
  for (const [kind, ddl] of Object.entries(TABLES)) {
    const t = `${prefix}_${kind}`;
    await pool.query(`DROP TABLE IF EXISTS ${t}, ${t}_r`);
    await pool.query(`CREATE TABLE ${t} ${ddl}`);
    await pool.query(
      `INSERT INTO ${t} (id, e, title, price, qty) SELECT i, array_fill(i::float4 / ${rows}, ARRAY[${dims}])::vector, 't' || i, i, i % 7 + 1
         FROM generate_series(1, ${rows}) i`,
    );
    await pool.query(`ANALYZE ${t}`);
    const snaps: { ms: number; cpuMs: number }[] = [];
    const restores: { ms: number; cpuMs: number }[] = [];
    const reads: number[] = [];
    for (let k = 0; k < repeat; k++) {
      const repo = await openRepository({ storage: memoryStorage(), create: true });
      snaps.push(await timed(() => repo.snapshot(adapter, t)));
      restores.push(
        await timed(() => repo.restore(adapter, { collection: t, target: `${t}_r`, ifExists: 'replace', trustDefinitions: true })),
      );
      const client = await pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const oid = String((await client.query(`SELECT $1::regclass::oid::int8::text AS o`, [t])).rows[0].o);
        const t0 = performance.now();
        await readDefinition(client, oid, 'public', t);
        reads.push(performance.now() - t0);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
    const m = (xs: { ms: number; cpuMs: number }[]): { ms: number; cpuMs: number } => ({
      ms: Math.round(median(xs.map((x) => x.ms))),
      cpuMs: Math.round(median(xs.map((x) => x.cpuMs))),
    });
    result[kind] = {
      snapshot: m(snaps),
      restore: m(restores),
      readDefinitionMs: Math.round(median(reads) * 10) / 10,
      runs: { snaps, restores, reads },
    };
    log(
      `${kind}: snapshot ${JSON.stringify(m(snaps))}, restore ${JSON.stringify(m(restores))}, readDefinition ${median(reads).toFixed(1)} ms`,
    );
    await pool.query(`DROP TABLE IF EXISTS ${t}, ${t}_r`);
  }
} finally {
  await pool.end();
}
const out = { ...run, rows, dims, repeat, result };
if (values.out) await writeFile(values.out, `${JSON.stringify(out, null, 2)}\n`);
