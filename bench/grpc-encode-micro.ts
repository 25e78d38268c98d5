/**
 * Micro-benchmark of the hand-written gRPC request encoders, in memory, no server: Qdrant's
 * `UpsertPoints` (adapters/qdrant/qdrant-grpc-wire.ts) and Weaviate's `BatchObjectsRequest`
 * (adapters/weaviate/weaviate-grpc-batch.ts), both on src/wire/protobuf-writer.ts. With `--baseline
 * <checkout>` the same encoders of another checkout (e.g. /work/main before the shared writer) run
 * in turn with these, and every round checks that both wrote the same bytes.
 *
 *   npx tsx bench/grpc-encode-micro.ts [--rows 2000] [--dims 768] [--iterations 7] [--baseline /path/to/checkout]
 */
import { loadavg } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as qdrantWire from '../adapters/qdrant/qdrant-grpc-wire.js';
import * as weaviateBatch from '../adapters/weaviate/weaviate-grpc-batch.js';
import { alternate, codeVersion, median } from './bench-lib.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000' },
    dims: { type: 'string', default: '768' },
    iterations: { type: 'string', default: '7' },
    baseline: { type: 'string' },
  },
});
const rows = Number(args.rows);
const dims = Number(args.dims);

type Qdrant = typeof qdrantWire;
type Weaviate = typeof weaviateBatch;

// Payloads like the pgvector bench table's, plus the shapes that take the writer's other paths: long and
// non-ASCII strings (a length of two bytes moves the body), negative and big integers, nested values.
const payloads = Array.from({ length: rows }, (_, i) => ({
  created: new Date(Date.UTC(2024, 0, 1) + i * 37_000).toISOString(),
  lang: ['en', 'de', 'fr', 'es', 'ja'][i % 5] as string,
  score: Math.fround(Math.sin(i)),
  source: `https://example.com/docs/${i % 1000}/${(i * 7).toString(16).padStart(12, '0')}`,
  tags: [`tag${i % 17}`, `topic-${i % 101}`, `k${i % 7}`],
  title: `Document ${i} ${'é€😀'.repeat(i % 3)} ${(i * 2654435761).toString(16).padStart(32, '0')}`.repeat(1 + (i % 4)),
  n: i % 2 === 0 ? -i : i * 1_000_003,
  ok: i % 3 === 0,
  ...(i % 10 === 0 ? { meta: { depth: { list: [1, 'two', null, 2.5, { x: -1 }] } } } : {}),
}));
const vectors = Array.from({ length: rows }, (_, i) => Float32Array.from({ length: dims }, (_, j) => Math.sin(i * dims + j)));
const qdrantPoints: qdrantWire.WirePoint[] = payloads.map((payload, i) => ({
  id: i % 5 === 0 ? `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` : i % 7 === 0 ? 2n ** 60n + BigInt(i) : i,
  payload,
  vector: i % 2 === 0 ? (vectors[i] as Float32Array) : new Map([['dense', vectors[i] as Float32Array]]),
}));
const weaviateProps = new Map(
  (
    [
      ['created', 'date'],
      ['lang', 'text'],
      ['score', 'number'],
      ['source', 'text'],
      ['tags', 'text[]'],
      ['title', 'text'],
      ['n', 'int'],
      ['ok', 'boolean'],
    ] as const
  ).map(([n, t]) => [n, weaviateBatch.batchPropertyOf(n, t) as weaviateBatch.BatchProperty]),
);
const weaviateObjects: weaviateBatch.BatchObjectInput[] = payloads.map(({ meta: _meta, ...properties }, i) => ({
  uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  properties,
  vectors: (i % 2 === 0 ? { default: vectors[i] } : { a: vectors[i], b: vectors[i] }) as Record<string, Float32Array>,
}));

const encoders = (q: Qdrant, w: Weaviate): { qdrant: () => Uint8Array; weaviate: () => Uint8Array } => ({
  qdrant: () => q.encodeUpsertRequest('bench', qdrantPoints, false),
  weaviate: () => w.encodeBatchObjects('Bench', weaviateObjects, weaviateProps, undefined),
});
const variants: Record<string, () => unknown> = {};
const here = encoders(qdrantWire, weaviateBatch);
variants['qdrant upsert'] = here.qdrant;
variants['weaviate batch'] = here.weaviate;
if (args.baseline) {
  const from = (p: string): string => pathToFileURL(path.resolve(args.baseline as string, p)).href;
  const base = encoders(
    (await import(from('adapters/qdrant/qdrant-grpc-wire.ts'))) as Qdrant,
    (await import(from('adapters/weaviate/weaviate-grpc-batch.ts'))) as Weaviate,
  );
  variants['qdrant upsert (baseline)'] = base.qdrant;
  variants['weaviate batch (baseline)'] = base.weaviate;
}
const same = (a: unknown, b: unknown): boolean => Buffer.compare(a as Uint8Array, b as Uint8Array) === 0;
const runs = alternate(variants, Number(args.iterations), (outs) => {
  if (!args.baseline) return;
  if (!same(outs['qdrant upsert'], outs['qdrant upsert (baseline)'])) throw new Error('Qdrant upsert bytes differ from the baseline');
  if (!same(outs['weaviate batch'], outs['weaviate batch (baseline)'])) throw new Error('Weaviate batch bytes differ from the baseline');
});
const bytes = { qdrant: here.qdrant().length, weaviate: here.weaviate().length };
const results = Object.entries(runs).map(([name, r]) => ({
  name,
  medianMs: Math.round(median(r.ms) * 100) / 100,
  medianCpuMs: Math.round(median(r.cpuMs) * 100) / 100,
  cpuMs: r.cpuMs.map((x) => Math.round(x * 100) / 100),
}));
for (const r of results) process.stdout.write(`${r.name.padEnd(28)} ${r.medianCpuMs.toFixed(2)} ms CPU (median of ${r.cpuMs.length})\n`);
if (args.baseline) process.stdout.write(`bytes identical to the baseline in every round (${bytes.qdrant} / ${bytes.weaviate} bytes)\n`);
const load = loadavg().map((l) => Math.round(l * 100) / 100);
process.stdout.write(
  `\nBENCH_JSON ${JSON.stringify({ bench: 'grpc-encode-micro', ...codeVersion(), rows, dims, baseline: args.baseline ?? null, bytes, load, results })}\n`,
);
