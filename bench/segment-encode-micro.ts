/**
 * Micro-benchmark of the CPU stages of one snapshot segment, in memory, no database:
 * digestBatch (sha256 per record + JCS payloads), encodeSegment (arrow -> IPC -> parquet-wasm) with
 * the library's writer settings and with alternatives, sha256 of the segment, and decodeSegment.
 *
 *   npx tsx bench/segment-encode-micro.ts [--rows 10082] [--dims 768] [--iterations 3]
 *
 * The default row count is what snapshot.ts puts in one 32 MiB segment at 768 dims. Vectors are
 * uniform random float32 (like the pgvector benchmark); payloads are ~230-byte JSON objects.
 */
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { parseArgs } from 'node:util';
import { BucketDigest, sha256Hex } from '../src/format/digest.js';
import { digestBatch } from '../src/format/rows.js';
import { decodeSegment, encodeSegment } from '../src/format/segment-codec.js';
import { canonicalPayload } from '../src/format/canonical-json.js';
import type { Payload, RecordBatch, RecordOp } from '../src/model.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10082' },
    dims: { type: 'string', default: '768' },
    iterations: { type: 'string', default: '3' },
  },
});
const n = Number(values.rows);
const dims = Number(values.dims);
const iterations = Number(values.iterations);

function makeBatch(): RecordBatch {
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
  return { length: n, ids, vectors: { embedding: { dims, data } }, payloads };
}

/** Same Arrow table as encodeSegment builds. */
function arrowTable(batch: RecordBatch, payloadJson: string[], digests: Uint8Array): arrow.Table {
  const ops = new Array<RecordOp>(n).fill('upsert');
  const child = arrow.makeData({
    type: new arrow.Float32(),
    length: n * dims,
    nullCount: 0,
    data: (batch.vectors.embedding as { data: Float32Array }).data,
  });
  const type = new arrow.FixedSizeList(dims, new arrow.Field('item', new arrow.Float32(), false));
  return new arrow.Table({
    id: arrow.makeVector(batch.ids as BigInt64Array),
    op: arrow.vectorFromArray(ops, new arrow.Utf8()),
    digest: arrow.makeVector(arrow.makeData({ type: new arrow.FixedSizeBinary(32), length: n, nullCount: 0, data: digests })),
    payload: arrow.vectorFromArray(payloadJson, new arrow.Utf8()),
    vec_embedding: arrow.makeVector(arrow.makeData({ type, length: n, nullCount: 0, child })),
  });
}

function time<T>(fn: () => T): { ms: number; out: T } {
  let best = Number.POSITIVE_INFINITY;
  let out!: T;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    out = fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, out };
}

const batch = makeBatch();
const rawBytes = n * dims * 4;
const results: Record<string, unknown>[] = [];
const row = (stage: string, ms: number, extra: Record<string, unknown> = {}): void => {
  results.push({ stage, ms: Math.round(ms * 10) / 10, ...extra });
  process.stdout.write(`${stage.padEnd(62)} ${ms.toFixed(1).padStart(8)} ms ${Object.keys(extra).length ? JSON.stringify(extra) : ''}\n`);
};

process.stdout.write(`segment of ${n} rows x ${dims} dims (${(rawBytes / 2 ** 20).toFixed(1)} MiB of float32), best of ${iterations}\n\n`);

const canon = time(() => batch.payloads.map(canonicalPayload));
row('canonicalPayload (JCS) for all rows', canon.ms);
// The payload objects above are built with their keys in sorted order, as an adapter that knows its
// columns could build them; for such objects JSON.stringify yields the RFC 8785 string.
const plain = time(() => batch.payloads.map((p) => JSON.stringify(p)));
row('  JSON.stringify of the same key-sorted objects', plain.ms, { identical: plain.out.every((x, i) => x === canon.out[i]) });
const dig = time(() => digestBatch('int64', ['embedding'], batch, new BucketDigest(256)));
row('digestBatch (JCS + sha256 per record + bucket)', dig.ms);
const { payloadJson, digests } = dig.out;

const segRows = { batch, payloadJson, digests, ops: new Array<RecordOp>(n).fill('upsert') };
const segLayout = { idType: 'int64' as const, vectors: [{ name: 'embedding', dims }] };
const enc = time(() => encodeSegment(segLayout, segRows));
row('encodeSegment, library default', enc.ms, { bytes: enc.out.length });
const encZ = time(() => encodeSegment(segLayout, segRows, { vectorCompression: 'zstd' }));
row("encodeSegment, vectorCompression: 'zstd'", encZ.ms, { bytes: encZ.out.length });
const sha = time(() => sha256Hex(enc.out));
row('sha256Hex of the segment (putSegment)', sha.ms);

const tbl = time(() => arrowTable(batch, payloadJson, digests));
row('  arrow: build table', tbl.ms);
const ipc = time(() => arrow.tableToIPC(tbl.out, 'stream'));
row('  arrow: tableToIPC', ipc.ms);
const wasmTable = time(() => parquet.Table.fromIPCStream(ipc.out));
row('  parquet-wasm: Table.fromIPCStream (copy into wasm memory)', wasmTable.ms);

const variants: [string, (b: parquet.WriterPropertiesBuilder) => parquet.WriterPropertiesBuilder][] = [
  ['ZSTD, dictionary on, page statistics (parquet-wasm defaults)', (b) => b.setCompression(parquet.Compression.ZSTD)],
  ['ZSTD, dictionary off', (b) => b.setCompression(parquet.Compression.ZSTD).setDictionaryEnabled(false)],
  [
    'ZSTD, dictionary off, statistics off',
    (b) => b.setCompression(parquet.Compression.ZSTD).setDictionaryEnabled(false).setStatisticsEnabled(parquet.EnabledStatistics.None),
  ],
  [
    'LZ4_RAW, dictionary off, statistics off',
    (b) => b.setCompression(parquet.Compression.LZ4_RAW).setDictionaryEnabled(false).setStatisticsEnabled(parquet.EnabledStatistics.None),
  ],
  [
    'UNCOMPRESSED, dictionary off, statistics off',
    (b) =>
      b.setCompression(parquet.Compression.UNCOMPRESSED).setDictionaryEnabled(false).setStatisticsEnabled(parquet.EnabledStatistics.None),
  ],
];
const encoded = new Map<string, Uint8Array>();
for (const [name, cfg] of variants) {
  // fromIPCStream consumes nothing, but writeParquet takes the table by value: rebuild it per call.
  const w = time(() => {
    const t = parquet.Table.fromIPCStream(ipc.out);
    const props = cfg(new parquet.WriterPropertiesBuilder().setCreatedBy('bench').setMaxRowGroupSize(n)).build();
    return parquet.writeParquet(t, props);
  });
  encoded.set(name, w.out);
  row(`  fromIPCStream + writeParquet: ${name}`, w.ms, {
    bytes: w.out.length,
    ratio: Math.round((w.out.length / (rawBytes + n * 300)) * 1000) / 1000,
  });
}

const layout = { idType: 'int64' as const, vectors: [{ name: 'embedding', dims }] };
const dec = time(() => decodeSegment(layout, enc.out));
row('decodeSegment of the library default (readParquet + IPC + copy + JSON.parse)', dec.ms);
const rp = time(() => parquet.readParquet(enc.out).intoIPCStream());
row('  parquet-wasm readParquet + intoIPCStream', rp.ms);
const dec2 = time(() => decodeSegment(layout, encZ.out));
row("decodeSegment of vectorCompression: 'zstd'", dec2.ms);
const zAll = encoded.get('ZSTD, dictionary on, page statistics (parquet-wasm defaults)') as Uint8Array;
const dec3 = time(() => decodeSegment(layout, zAll));
row('decodeSegment of all-ZSTD + dictionary + page statistics', dec3.ms);
const jp = time(() => payloadJson.map((p) => JSON.parse(p) as unknown));
row('  JSON.parse of all payloads', jp.ms);

process.stdout.write(
  `\nBENCH_JSON ${JSON.stringify({ bench: 'segment-encode-micro', rows: n, dims, iterations, node: process.version, results })}\n`,
);
