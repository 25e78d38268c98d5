/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by source file/package,
 * and inclusive ("total") time of the functions that matter for vectordr's snapshot/restore paths.
 *
 *   npx tsx bench/cpuprofile-summary.ts <file.cpuprofile> [--top 25] [--json]
 *
 * Inclusive time walks each sample's stack to the root, so it is exact for synchronous call chains
 * (encodeSegment, digestBatch, BatchBuilder.add, ...). Time spent waiting on I/O shows as "(idle)".
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Functions whose inclusive time is reported (matched against "name file" of each frame). */
const WATCH: [string, RegExp][] = [
  ['snapshot: takeSnapshot flush (whole segment step)', /^flush snapshot\.ts$/],
  ['snapshot: encodeSegment (arrow + parquet-wasm)', /^encodeSegment segment-codec\.ts$/],
  ['  parquet-wasm writeParquet', /^writeParquet parquet_wasm\.js$/],
  ['  arrow tableToIPC', /^tableToIPC /],
  ['  arrow vectorFromArray (Utf8 columns)', /^vectorFromArray /],
  ['  parquet-wasm Table.fromIPCStream', /^fromIPCStream parquet_wasm\.js$/],
  ['snapshot: digestBatch', /^digestBatch rows\.ts$/],
  ['  recordDigest (sha256 per row)', /^recordDigest digest\.ts$/],
  ['  bucketOf (sha256 per id)', /^bucketOf digest\.ts$/],
  ['  canonicalPayload (JCS)', /^canonicalPayload canonical-json\.ts$/],
  ['  BucketDigest.add', /^add digest\.ts$/],
  ['snapshot: concatBatches', /^concatBatches rows\.ts$/],
  ['snapshot: putSegment (sha256 + fs put)', /^putSegment repository\.ts$/],
  ['  sha256Hex (whole segment)', /^sha256Hex digest\.ts$/],
  ['scan: CopyBinaryParser.push', /^push pgvector-copy\.ts$/],
  ['scan: BatchBuilder.add', /^add pgvector-batch\.ts$/],
  ['  parseText (payload text -> JSON)', /^parseText pgvector-types\.ts$/],
  ['scan: BatchBuilder.take', /^take pgvector-batch\.ts$/],
  ['validateBatchVectors', /^validateBatchVectors validate\.ts$/],
  ['restore: decodeSegment', /^decodeSegment segment-codec\.ts$/],
  ['  parquet-wasm readParquet', /^readParquet parquet_wasm\.js$/],
  ['  arrow tableFromIPC', /^tableFromIPC /],
  ['  JSON.parse payloads', /^parse $/],
  ['restore: getSegment (read + sha256)', /^getSegment repository\.ts$/],
  ['restore: adapter.write', /^write pgvector-(adapter|write)\.ts$/],
  ['  writeCopy (binary COPY encode)', /^writeCopy pgvector-write\.ts$/],
  ['  writeInsert (text params, INSERT ... unnest)', /^writeInsert pgvector-write\.ts$/],
  ['  vectorLiteral (float -> text)', /^vectorLiteral pgvector-types\.ts$/],
  ['  pg: prepareValue/arrayString (query params)', /^(prepareValue|arrayString) utils\.js$/],
  ['  pg: Writer/serializer (bind message)', /^\S+ (serializer|buffer-writer)\.js$/],
  ['(garbage collector)', /^\(garbage collector\) $/],
  ['(idle) — waiting on I/O', /^\(idle\) $/],
  ['(program) — native, outside JS', /^\(program\) $/],
];

function fileOf(url: string): string {
  if (!url) return '';
  const clean = url.replace(/^file:\/\//, '');
  return path.basename(clean);
}

/** Groups a frame's file into a package or the repo folder it came from. */
function groupOf(cf: CallFrame): string {
  const u = cf.url;
  if (!u) return cf.functionName.startsWith('(') ? cf.functionName : '(native/builtin)';
  if (u.startsWith('wasm://')) return 'wasm (parquet-wasm)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return `pkg:${nm[1] as string}`;
  if (u.startsWith('node:')) return 'node core';
  const m = /\/(src|adapters|bench)\/(.*)$/.exec(u);
  if (m) return `${m[1] as string}/${m[2] as string}`;
  return u;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: cpuprofile-summary.ts <file.cpuprofile>');
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) byId.set(n.id, n);
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const total = prof.timeDeltas.reduce((s, d) => s + d, 0) / 1000;
  const self = new Map<string, number>();
  const group = new Map<string, number>();
  const incl = new Map<string, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(prof.samples[i] as number);
    if (!leaf) continue;
    const cf = leaf.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${fileOf(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const g = groupOf(cf);
    group.set(g, (group.get(g) ?? 0) + dt);
    // inclusive: each watched label once per sample
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const f = (byId.get(id) as ProfileNode).callFrame;
      const sig = `${f.functionName} ${fileOf(f.url)}`;
      for (const [label, re] of WATCH) if (!seen.has(label) && re.test(sig)) seen.add(label);
    }
    for (const l of seen) incl.set(l, (incl.get(l) ?? 0) + dt);
  }
  const top = Number(values.top);
  const sorted = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]);
  const pct = (ms: number): string => `${((ms / total) * 100).toFixed(1).padStart(5)}%`;
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        file,
        totalMs: total,
        inclusive: Object.fromEntries(WATCH.map(([l]) => [l.trim(), Math.round(incl.get(l) ?? 0)])),
        groups: Object.fromEntries(sorted(group).map(([k, v]) => [k, Math.round(v)])),
        self: sorted(self)
          .slice(0, top)
          .map(([k, v]) => [k, Math.round(v)]),
      })}\n`,
    );
    return;
  }
  const out: string[] = [`${file}: ${(total / 1000).toFixed(2)} s sampled`, '', 'inclusive time of watched functions:'];
  for (const [label] of WATCH) {
    const v = incl.get(label) ?? 0;
    if (v > 0) out.push(`  ${pct(v)} ${(v / 1000).toFixed(2).padStart(7)} s  ${label}`);
  }
  out.push('', 'self time by package / file:');
  for (const [k, v] of sorted(group).slice(0, top)) out.push(`  ${pct(v)} ${(v / 1000).toFixed(2).padStart(7)} s  ${k}`);
  out.push('', `self time, top ${top} functions:`);
  for (const [k, v] of sorted(self).slice(0, top)) out.push(`  ${pct(v)} ${(v / 1000).toFixed(2).padStart(7)} s  ${k}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main();
