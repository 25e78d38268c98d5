/**
 * Micro-benchmark: the per-record work of verify, old way against new, alternated in one process
 * (docs/benchmarks.md, "Verify throughput"): record digests and buckets (createHash with five updates
 * and a Buffer result, against one crypto.hash call on a scratch buffer with a 'binary' result), and
 * the canonical-payload check as main has it since 3792720 (no sorted copy for a payload in key order).
 *
 *   npx tsx bench/verify-hash-micro.ts [--rows 20000] [--dims 768] [--repeat 5]
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { canonicalPayload, parsePayload } from '../src/format/canonical-json.js';
import { idBytes, recordDigest } from '../src/format/digest.js';
import { hashRecords } from '../src/format/rows.js';
import { alternate, median } from './bench-lib.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    dims: { type: 'string', default: '768' },
    repeat: { type: 'string', default: '5' },
  },
});
const rows = Number(args.rows);
const dims = Number(args.dims);
const data = Float32Array.from({ length: rows * dims }, (_, i) => Math.sin(i));
const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(i + 1));
const payloadJson = Array.from({ length: rows }, (_, i) =>
  canonicalPayload({
    created: new Date(Date.UTC(2024, 0, 1) + i * 37_000).toISOString(),
    lang: 'en',
    score: Math.fround(i / 7),
    source: `https://example.com/docs/${i % 1000}/${(i * 7).toString(16).padStart(12, '0')}`,
    tags: [`tag${i % 17}`, `topic-${i % 101}`],
    title: `Document ${i}`,
  }),
);
const payloads = payloadJson.map(parsePayload);
const batch = { length: rows, ids, vectors: { e: { dims, data } } };

/** The record hashing verify did before: createHash per record, a Buffer per digest and per bucket. */
function oldHash(): void {
  for (let i = 0; i < rows; i++) {
    const ib = idBytes('int64', ids[i] as bigint);
    recordDigest(ib, [data.subarray(i * dims, (i + 1) * dims)], payloadJson[i] as string);
    createHash('sha256').update(ib).digest().readUInt32BE(0);
  }
}
const newHash = (): unknown => hashRecords('int64', ['e'], batch, payloadJson, 256);
const canonical = (): unknown => payloads.every((p, i) => canonicalPayload(p) === payloadJson[i]);

const runs = alternate({ oldHash, newHash, canonical }, Number(args.repeat));
const results = Object.fromEntries(Object.entries(runs).map(([name, r]) => [name, r.cpuMs.map((ms) => (ms * 1000) / rows)]));
for (const [name, xs] of Object.entries(results))
  process.stdout.write(`${name.padEnd(14)} ${median(xs).toFixed(2)} µs CPU per record (median of ${xs.length})\n`);
