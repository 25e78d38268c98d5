/**
 * `vectordr verify`: integrity of the snapshots in scope (every segment re-hashed, every digest
 * recomputed; no engine), and with `--parity` / `--recall` the live collections against their
 * snapshot. Problems found are not errors but a result: exit 3, with the report.
 */
import { type ParityReport, type RecallReport, type Report, isVectordrError } from '../../index.js';
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count } from '../format.js';
import { messageOf } from '../output.js';
import type { EngineOptions } from '../settings.js';

export interface VerifyCommandOptions extends EngineOptions {
  collection?: string;
  snapshot?: string;
  parity?: boolean;
  recall?: boolean;
  k: number;
}

/** A live check of one collection that could not run (the collection is gone, the engine refused). */
interface CheckFailure {
  collection: string;
  error: { code: string; message: string };
}

const shortIds = (ids: readonly (bigint | string)[]): string => ids.slice(0, 10).map(String).join(', ') + (ids.length > 10 ? ', ...' : '');

function parityLines(p: ParityReport): string[] {
  const head = `parity ${p.live} vs snapshot ${p.snapshot}: ${p.ok ? 'OK' : 'DIFFERS'} (live ${count(p.rows.live)} rows, snapshot ${count(p.rows.snapshot)})`;
  if (p.ok) return [head];
  return [
    head,
    ...(p.missing.length > 0 ? [`  missing from live: ${shortIds(p.missing)}`] : []),
    ...(p.extra.length > 0 ? [`  not in the snapshot: ${shortIds(p.extra)}`] : []),
    ...(p.changed.length > 0 ? [`  changed: ${shortIds(p.changed)}`] : []),
    ...(p.truncated ? [`  (${p.mismatchedBuckets.length} differing buckets; the lists are incomplete)`] : []),
  ];
}

function recallLine(r: RecallReport): string {
  const warnings = r.warnings.length > 0 ? ` (${r.warnings.join('; ')})` : '';
  return `recall@${r.k} ${r.live} vs snapshot ${r.snapshot}: ${r.recall.toFixed(3)} (minimum ${r.minRecall}): ${r.ok ? 'OK' : 'TOO LOW'}${warnings}`;
}

export async function verifyCommand(ctx: CommandContext, o: VerifyCommandOptions): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const scope = {
    ...(o.collection === undefined ? {} : { collection: o.collection }),
    ...(o.snapshot === undefined ? {} : { snapshot: o.snapshot }),
  };
  const integrity = await ctx.track('verify-integrity', { collection: o.collection ?? '' }, () =>
    repo.verify({ ...scope, signal: ctx.signal, onProgress: ctx.onProgress }),
  );
  const parity: Report<ParityReport>[] = [];
  const recall: Report<RecallReport>[] = [];
  const failures: CheckFailure[] = [];
  if (o.parity === true || o.recall === true) {
    const adapter = await ctx.engine(o);
    const collections =
      o.collection !== undefined ? [o.collection] : [...new Set((await repo.list({ signal: ctx.signal })).map((s) => s.collection))];
    for (const collection of collections) {
      const which = { collection, snapshot: o.snapshot ?? 'latest', signal: ctx.signal, onProgress: ctx.onProgress };
      try {
        const target = { collection, engine: adapter.engine };
        if (o.parity === true) parity.push(await ctx.track('verify-parity', target, () => repo.verifyParity(adapter, which)));
        if (o.recall === true)
          recall.push(await ctx.track('verify-recall', target, () => repo.verifyRecall(adapter, { ...which, k: o.k })));
      } catch (err) {
        // One collection that cannot be checked does not hide the others' results; alone, it is the command's error.
        if (collections.length === 1 || !isVectordrError(err) || err.category === 'aborted') throw err;
        failures.push({ collection, error: { code: err.code, message: messageOf(err) } });
      }
    }
  }
  const ok = integrity.ok && parity.every((p) => p.ok) && recall.every((r) => r.ok) && failures.length === 0;
  const checked = integrity.snapshots;
  const summary = {
    ok,
    integrity: integrity.toJSON(),
    ...(o.parity === true ? { parity: parity.map((p) => p.toJSON()) } : {}),
    ...(o.recall === true ? { recall: recall.map((r) => r.toJSON()) } : {}),
    ...(failures.length > 0 ? { failures } : {}),
  };
  // A failed verification is shown even with --quiet: it is the point of running it.
  const show = ok ? ctx.out.summary.bind(ctx.out) : ctx.out.listing.bind(ctx.out);
  show(summary, () => [
    `integrity: ${checked.filter((s) => s.ok).length} of ${checked.length} snapshots OK (${count(checked.reduce((n, s) => n + s.rows, 0))} rows re-hashed)`,
    ...checked
      .filter((s) => !s.ok)
      .flatMap((s) => [`  ${s.collection} ${s.snapshot}: FAILED`, ...s.problems.map((p) => `    ${p.code}: ${p.message}`)]),
    ...integrity.heads.map((h) => `  ${h.collection} ${h.key}: ${h.code}: ${h.message}`),
    ...parity.flatMap(parityLines),
    ...recall.map(recallLine),
    ...failures.map((f) => `${f.collection}: not checked: ${f.error.message}`),
    ok ? 'verify: OK' : 'verify: PROBLEMS FOUND',
  ]);
  return {
    exitCode: ok ? EXIT_CODES.OK : EXIT_CODES.PARTIAL,
    result: summary,
    ...(o.collection === undefined ? {} : { collection: o.collection }),
  };
}
