/**
 * Micro-benchmark of the restore's binary COPY encoding (pgvector), in memory, no database: the
 * per-field path of 82a320d (each value to text, through its column's `binaryEncoder`, one small
 * Buffer per field, a swap per vector) against the field writers of issue 18
 * (adapters/pgvector/pgvector-copy-encode.ts), on the bench table's row shape, same run.
 *
 *   npx tsx bench/restore-encode-micro.ts [--rows 20000] [--dims 768] [--iterations 5]
 */
import { parseArgs } from 'node:util';
import { ByteSink, binaryEncoder, copyHeader } from '../adapters/pgvector/pgvector-copy.js';
import { type FieldWriter, idWriter, payloadWriter } from '../adapters/pgvector/pgvector-copy-encode.js';
import { toText } from '../adapters/pgvector/pgvector-types.js';
import type { Payload, PayloadField } from '../src/model.js';
import { alternate, median } from './bench-lib.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    dims: { type: 'string', default: '768' },
    iterations: { type: 'string', default: '5' },
  },
});
const n = Number(values.rows);
const dims = Number(values.dims);
const iterations = Number(values.iterations);

// The columns of bench/pgvector-snapshot-restore.ts: title, source, lang text; tags text[]; score real; created timestamptz.
const columns: { name: string; typname: string; field: Pick<PayloadField, 'type' | 'array'> }[] = [
  { name: 'created', typname: 'timestamptz', field: { type: 'datetime', array: false } },
  { name: 'lang', typname: 'text', field: { type: 'string', array: false } },
  { name: 'score', typname: 'float4', field: { type: 'float32', array: false } },
  { name: 'source', typname: 'text', field: { type: 'string', array: false } },
  { name: 'tags', typname: '_text', field: { type: 'string', array: true } },
  { name: 'title', typname: 'text', field: { type: 'string', array: false } },
];
const ids = new BigInt64Array(n);
const data = new Float32Array(n * dims);
for (let i = 0; i < data.length; i++) data[i] = Math.random();
const payloads: Payload[] = [];
for (let i = 0; i < n; i++) {
  ids[i] = BigInt(i + 1);
  payloads.push({
    created: new Date(Date.UTC(2024, 0, 1) + i * 37_000).toISOString().replace('Z', '000Z'),
    lang: ['en', 'de', 'fr', 'es', 'ja'][i % 5] as string,
    score: Math.fround(Math.random()),
    source: `https://example.com/docs/${i % 1000}/${(i * 7).toString(16).padStart(12, '0')}`,
    tags: [`tag${i % 17}`, `topic-${i % 101}`, `k${i % 7}`],
    title: `Document ${i} ${(i * 2654435761).toString(16).padStart(32, '0')}`,
  });
}

/** The encoding of 82a320d's PgvectorWriter.writeCopy. */
function before(): number {
  const sink = new ByteSink();
  copyHeader(sink);
  const idEnc = binaryEncoder('int8') as (t: string) => Uint8Array;
  const encs = columns.map((c) => binaryEncoder(c.typname) as (t: string) => Uint8Array);
  for (let i = 0; i < n; i++) {
    sink.int16(2 + columns.length);
    sink.field(idEnc(String(ids[i])));
    sink.vector(data, i * dims, dims);
    const payload = payloads[i] ?? {};
    columns.forEach((c, k) => {
      const t = toText(Object.hasOwn(payload, c.name) ? payload[c.name] : undefined, c, c.field);
      sink.field(t === null ? null : (encs[k] as (t: string) => Uint8Array)(t));
    });
  }
  sink.int16(-1);
  return sink.finish().reduce((s, c) => s + c.length, 0);
}

function after(): number {
  const sink = new ByteSink();
  copyHeader(sink);
  const id = idWriter({ typname: 'int8' });
  const writers = columns.map((c) => payloadWriter(c, c.field) as FieldWriter);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    sink.int16(2 + columns.length);
    id(sink, ids[i] as bigint);
    sink.vector(data, i * dims, dims);
    const payload = payloads[i] as Payload;
    for (let k = 0; k < writers.length; k++) {
      const name = (columns[k] as { name: string }).name;
      (writers[k] as FieldWriter)(sink, Object.hasOwn(payload, name) ? payload[name] : undefined);
    }
    if (i % 64 === 63) for (const c of sink.take()) bytes += c.length;
  }
  sink.int16(-1);
  for (const c of sink.finish()) bytes += c.length;
  return bytes;
}

const runs = alternate({ before, after }, iterations, (outs) => {
  if (outs.after !== outs.before) throw new Error(`sizes differ: ${String(outs.after)} vs ${String(outs.before)}`);
});
const B = median(runs.before?.cpuMs ?? []);
const A = median(runs.after?.cpuMs ?? []);
process.stdout.write(
  `${n} rows x ${dims} dims, CPU ms per run (median of ${iterations}, taking turns): before ${B.toFixed(0)}, after ${A.toFixed(0)} ` +
    `(${(B / A).toFixed(2)}x); per 200k rows: ${((B * 200_000) / n / 1000).toFixed(2)} s -> ${((A * 200_000) / n / 1000).toFixed(2)} s\n`,
);
