/**
 * Micro-benchmark of the pgvector scan's payload work on the main thread, in memory, no database:
 * BatchBuilder building payload objects and canonicalPayload writing them (the object path) against
 * BatchBuilder with the PayloadJsonWriter (canonical JSON straight from the COPY field bytes), on the
 * bench table's row shape (bench/pgvector-snapshot-restore.ts: title, source, lang text; tags text[];
 * score real; created timestamptz), taking turns in one process. Both include the row's id and vector
 * handling, which is the same in both.
 *
 *   npx tsx bench/payload-json-micro.ts [--rows 20000] [--iterations 15]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BatchBuilder } from '../adapters/pgvector/pgvector-batch.js';
import type { TableInfo } from '../adapters/pgvector/pgvector-describe.js';
import { payloadJsonWriter } from '../adapters/pgvector/pgvector-payload-json.js';
import { canonicalPayload } from '../src/format/canonical-json.js';
import { textAt } from '../src/format/packed-text.js';
import { alternate, codeVersion, median } from './bench-lib.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '20000' }, iterations: { type: 'string', default: '15' } },
});
const n = Number(args.rows);
const dims = 8;
const columns = [
  ['created', 'timestamptz', 'datetime', false],
  ['lang', 'text', 'string', false],
  ['score', 'float4', 'float32', false],
  ['source', 'text', 'string', false],
  ['tags', '_text', 'string', true],
  ['title', 'text', 'string', false],
] as const;
const info = {
  oid: '1',
  comment: null,
  pk: { name: 'id', typname: 'int8', formatted: 'bigint', notNull: true },
  vectors: [{ name: 'embedding', typname: 'vector', formatted: `vector(${dims})`, notNull: true }],
  payload: columns.map(([name, typname, type, array]) => ({
    col: { name, typname, formatted: typname, notNull: false },
    field: { name, type, array, nullable: true },
  })),
  schema: { name: 'docs', idType: 'int64', vectors: [{ name: 'embedding', dims, metric: 'cosine' }], payload: [] },
} as unknown as TableInfo;
const vector = Buffer.alloc(4 + dims * 4);
vector.writeUInt16BE(dims, 0);
// The fields as the binary COPY of the scan's select list delivers them (selectExpr's text forms).
const rows = Array.from({ length: n }, (_, i) => [
  Buffer.from(String(i + 1)),
  vector,
  Buffer.from(new Date(Date.UTC(2024, 0, 1) + i * 37_000).toISOString().replace('Z', '000Z')),
  Buffer.from(['en', 'de', 'fr', 'es', 'ja'][i % 5] as string),
  Buffer.from(String(Math.fround(Math.random()))),
  Buffer.from(`https://example.com/docs/${i % 1000}/${(i * 7).toString(16).padStart(12, '0')}`),
  Buffer.from(JSON.stringify([`tag${i % 17}`, `topic-${i % 101}`, `k${i % 7}`])),
  Buffer.from(`Document ${i} ${(i * 2654435761).toString(16).padStart(32, '0')}`),
]);

const objects = (): string[] => {
  const b = new BatchBuilder(info, n);
  for (const r of rows) b.add(r);
  return b.take().payloads.map(canonicalPayload);
};
const direct = (): string[] => {
  const b = new BatchBuilder(info, n, payloadJsonWriter(info));
  for (const r of rows) b.add(r);
  const p = b.take().payloadJson;
  return p ? [textAt(p, 0), textAt(p, n - 1)] : [];
};
const runs = alternate({ objects, direct }, Number(args.iterations), (outs) => {
  const o = outs.objects as string[];
  const d = outs.direct as string[];
  if (d[0] !== o[0] || d[1] !== o[n - 1]) throw new Error('the two paths wrote different payload JSON');
});
const results = Object.entries(runs).map(([name, r]) => ({ name, usPerRow: Math.round((median(r.cpuMs) * 1e5) / n) / 100 }));
for (const r of results)
  process.stdout.write(`${r.name.padEnd(8)} ${r.usPerRow.toFixed(2)} µs CPU per row (median of ${args.iterations})\n`);
const load = loadavg().map((l) => Math.round(l * 100) / 100);
process.stdout.write(`\nBENCH_JSON ${JSON.stringify({ bench: 'payload-json-micro', ...codeVersion(), rows: n, load, results })}\n`);
