/**
 * Micro-benchmark of the finite check every snapshot segment's float32 vectors pass
 * (`firstNonFinite`, src/format/vector-elements.ts) against the one-comparison-per-value loop it
 * replaced, alternated in one process on one 4 MiB segment's worth of values (1260 × 768).
 *
 *   npx tsx bench/finite-check-micro.ts [--rows 1260] [--dims 768] [--repeat 9]
 */
import { parseArgs } from 'node:util';
import { firstNonFinite } from '../src/format/vector-elements.js';
import { alternate, median } from './bench-lib.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1260' },
    dims: { type: 'string', default: '768' },
    repeat: { type: 'string', default: '9' },
  },
});
const values = new Float32Array(Number(args.rows) * Number(args.dims));
for (let i = 0; i < values.length; i++) values[i] = Math.random() - 0.5;

function perValue(d: Float32Array): number {
  for (let i = 0; i < d.length; i++) {
    const x = d[i] as number;
    if (x - x !== 0) return i;
  }
  return -1;
}

const times20 = (fn: () => number) => (): number => {
  let r = 0;
  for (let k = 0; k < 20; k++) r = fn();
  return r;
};
const runs = alternate(
  { 'per value (before)': times20(() => perValue(values)), 'eight per step (firstNonFinite)': times20(() => firstNonFinite(values)) },
  Number(args.repeat),
  (outs) => {
    if (new Set(Object.values(outs)).size !== 1) throw new Error('the two checks disagree');
  },
);
process.stdout.write(`${values.length} float32 values, median CPU ms per call (of ${args.repeat} turns of 20 calls)\n`);
for (const [name, r] of Object.entries(runs)) process.stdout.write(`  ${name.padEnd(34)} ${(median(r.cpuMs) / 20).toFixed(3)} ms\n`);
