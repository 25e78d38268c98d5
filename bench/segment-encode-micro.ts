/**
 * Micro-benchmark of the CPU stages of one snapshot segment, in memory, no database:
 * digestBatch (sha256 per record + JCS payloads), encodeSegment (the direct Parquet writer) beside the
 * previous apache-arrow -> IPC -> parquet-wasm encoder (encodeSegmentGeneric) and its settings
 * variants, sha256 of the segment, and decodeSegment (the direct reader) beside decodeSegmentGeneric.
 *
 *   npx tsx bench/segment-encode-micro.ts [--rows 1260] [--dims 768] [--iterations 5]
 *
 * The default row count is what snapshot.ts puts in one 4 MiB segment (its default) at 768 dims.
 * Vectors are uniform random float32 (like the pgvector benchmark); payloads are ~230-byte JSON
 * objects. Each stage runs once to warm up, then `iterations` times; the median wall time and the median CPU time
 * (process.cpuUsage, user + system) are reported.
 */
import * as arrow from 'apache-arrow';
import * as parquet from 'parquet-wasm';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BucketDigest, sha256Hex } from '../src/format/digest.js';
import { digestBatch } from '../src/format/rows.js';
import { decodeSegmentGeneric, encodeSegmentGeneric } from '../src/format/parquet/generic-codec.js';
import { decodeSegment, encodeSegment } from '../src/format/segment-codec.js';
import { canonicalPayload } from '../src/format/canonical-json.js';
import type { Payload, RecordBatch, RecordOp } from '../src/model.js';
import { medianTimed } from './bench-lib.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1260' },
    dims: { type: 'string', default: '768' },
    iterations: { type: 'string', default: '5' },
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

const time = <T>(fn: () => T): { ms: number; cpuMs: number; out: T } => medianTimed(fn, iterations);

const batch = makeBatch();
const rawBytes = n * dims * 4;
const results: Record<string, unknown>[] = [];
const r2 = (x: number): number => Math.round(x * 100) / 100;
const row = (stage: string, ms: number, extra: Record<string, unknown> = {}): void => {
  results.push({ stage, ms: Math.round(ms * 100) / 100, ...extra });
  process.stdout.write(`${stage.padEnd(62)} ${ms.toFixed(1).padStart(8)} ms ${Object.keys(extra).length ? JSON.stringify(extra) : ''}\n`);
};

process.stdout.write(
  `segment of ${n} rows x ${dims} dims (${(rawBytes / 2 ** 20).toFixed(1)} MiB of float32), median of ${iterations}\n\n`,
);

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
const mbps = (bytes: number, ms: number): number => Math.round(bytes / 1e6 / (ms / 1000));
const enc = time(() => encodeSegment(segLayout, segRows));
row('encodeSegment (direct writer), library default', enc.ms, {
  cpuMs: r2(enc.cpuMs),
  bytes: enc.out.length,
  MBps: mbps(enc.out.length, enc.ms),
});
const encOld = time(() => encodeSegmentGeneric(segLayout, segRows, { vectorCompression: 'none' }));
row('encodeSegmentGeneric (arrow + parquet-wasm), library default', encOld.ms, {
  cpuMs: r2(encOld.cpuMs),
  bytes: encOld.out.length,
  MBps: mbps(encOld.out.length, encOld.ms),
  ratioToDirect: r2(encOld.ms / enc.ms),
});
const encZ = time(() => encodeSegment(segLayout, segRows, { vectorCompression: 'zstd' }));
row("encodeSegment (direct writer), vectorCompression: 'zstd'", encZ.ms, { cpuMs: r2(encZ.cpuMs), bytes: encZ.out.length });
const encZOld = time(() => encodeSegmentGeneric(segLayout, segRows, { vectorCompression: 'zstd' }));
row("encodeSegmentGeneric, vectorCompression: 'zstd'", encZOld.ms, { cpuMs: r2(encZOld.cpuMs), bytes: encZOld.out.length });
const bare = { ...segRows, payloadJson: new Array<string>(n).fill('{}'), batch: { ...batch, payloads: new Array<Payload>(n).fill({}) } };
const encBare = time(() => encodeSegment(segLayout, bare));
row('encodeSegment (direct), {} payloads: the vector page alone', encBare.ms, {
  cpuMs: r2(encBare.cpuMs),
  vectorMBps: mbps(rawBytes, encBare.ms),
});
const memcpy = time(() =>
  new Uint8Array(rawBytes + 1024).set(new Uint8Array((batch.vectors.embedding as { data: Float32Array }).data.buffer)),
);
row('  reference: allocate + memcpy of the float32 bytes', memcpy.ms, { MBps: mbps(rawBytes, memcpy.ms) });
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
row('decodeSegment (direct reader) of the direct writer', dec.ms, { cpuMs: r2(dec.cpuMs), MBps: mbps(enc.out.length, dec.ms) });
const decOldFile = time(() => decodeSegment(layout, encOld.out));
row('decodeSegment (direct reader) of a parquet-wasm segment', decOldFile.ms, { cpuMs: r2(decOldFile.cpuMs) });
const decOld = time(() => decodeSegmentGeneric(layout, encOld.out));
row('decodeSegmentGeneric (parquet-wasm + arrow) of a parquet-wasm segment', decOld.ms, {
  cpuMs: r2(decOld.cpuMs),
  MBps: mbps(encOld.out.length, decOld.ms),
  ratioToDirect: r2(decOld.ms / dec.ms),
});
const bareBytes = encodeSegment(layout, bare);
const decBare = time(() => decodeSegment(layout, bareBytes));
row('decodeSegment (direct), {} payloads: the vector column alone', decBare.ms, {
  cpuMs: r2(decBare.cpuMs),
  vectorMBps: mbps(rawBytes, decBare.ms),
});
// The same two steps 50 times back to back (JIT-hot, fewer scheduler effects on a loaded machine): per call.
const hot = (fn: () => unknown): { ms: number; cpuMs: number } => {
  const r = time(() => {
    for (let i = 0; i < 50; i++) fn();
  });
  return { ms: r.ms / 50, cpuMs: r.cpuMs / 50 };
};
const encHot = hot(() => encodeSegment(layout, bare));
row('  encodeSegment (direct), {} payloads, 50 calls back to back: per call', encHot.ms, {
  cpuMs: r2(encHot.cpuMs),
  vectorMBps: mbps(rawBytes, encHot.ms),
  vectorMBpsCpu: mbps(rawBytes, encHot.cpuMs),
});
const decHot = hot(() => decodeSegment(layout, bareBytes));
row('  decodeSegment (direct), {} payloads, 50 calls back to back: per call', decHot.ms, {
  cpuMs: r2(decHot.cpuMs),
  vectorMBps: mbps(rawBytes, decHot.ms),
  vectorMBpsCpu: mbps(rawBytes, decHot.cpuMs),
});
const rp = time(() => parquet.readParquet(encOld.out).intoIPCStream());
row('  parquet-wasm readParquet + intoIPCStream', rp.ms);
const dec2 = time(() => decodeSegment(layout, encZ.out));
row("decodeSegment (direct) of vectorCompression: 'zstd'", dec2.ms, { cpuMs: r2(dec2.cpuMs) });
const zAll = encoded.get('ZSTD, dictionary on, page statistics (parquet-wasm defaults)') as Uint8Array;
const dec3 = time(() => decodeSegment(layout, zAll));
row('decodeSegment of all-ZSTD + dictionary + page statistics (parquet-wasm fallback)', dec3.ms);
const jp = time(() => payloadJson.map((p) => JSON.parse(p) as unknown));
row('  JSON.parse of all payloads', jp.ms);

process.stdout.write(
  `\nBENCH_JSON ${JSON.stringify({ bench: 'segment-encode-micro', rows: n, dims, iterations, node: process.version, load: loadavg().map((l) => Math.round(l * 100) / 100), results })}\n`,
);
