/**
 * Distributed snapshots on PostgreSQL: the coordinator's view is a REPEATABLE READ READ ONLY
 * transaction that exports its snapshot (`pg_export_snapshot()`) and stays open; each worker runs
 * its ranged scan in a transaction that imports it (`SET TRANSACTION SNAPSHOT`), so every part reads
 * the same committed state whatever is written meanwhile (docs/architecture.md, "Distributed snapshot").
 */
import type { ExportedView, KeyRange, RangeScanOptions, ScanSession } from '../../src/adapter.js';
import { ConflictError, VectordrError, throwIfAborted } from '../../src/errors.js';
import type { PgvectorContext } from './pgvector-context.js';
import type { TableInfo } from './pgvector-describe.js';
import type { PgQueryable, PgSession } from './pgvector-driver.js';
import { openReadView, openScan } from './pgvector-scan.js';
import { checkNativeType, quoteIdent } from './pgvector-sql.js';

const PLUGIN = 'pgvector';

/** Above this many rows the split samples the table (TABLESAMPLE SYSTEM) instead of sorting every key. */
const EXACT_SPLIT_ROWS = 2_000_000;
/** Rows the sample aims at: bounds within a fraction of a percent of the exact quantiles. */
const SAMPLE_ROWS = 500_000;

export async function exportView(ctx: PgvectorContext, collection: string, signal?: AbortSignal): Promise<ExportedView> {
  throwIfAborted(signal);
  const begin = async (session: PgSession): Promise<string> => {
    // The view sits idle in its transaction until the commit: a server-wide idle timeout must not end it.
    await session.query('SET LOCAL idle_in_transaction_session_timeout = 0');
    // The first query fixes the transaction's snapshot: the one exported.
    return String((await session.query('SELECT pg_export_snapshot() AS id')).rows[0]?.id ?? '');
  };
  const view = await openReadView(ctx, collection, 'export', begin, true);
  return {
    id: view.begun,
    schema: view.schema,
    checkpoint: view.checkpoint,
    estimatedRows: view.estimate,
    close: view.close,
    split: (parts) => ctx.run(`split ${collection}`, () => splitKeys(ctx, view.session, view.info, view.estimate, parts)),
  };
}

/**
 * Up to `parts` ranges of about equal rows: the key quantiles of the view (`percentile_disc`),
 * exact up to EXACT_SPLIT_ROWS rows and from a block sample above. Equal bounds (few distinct keys,
 * an empty table) merge, so there may be fewer ranges than asked for, never an empty one by design.
 */
async function splitKeys(ctx: PgvectorContext, q: PgQueryable, info: TableInfo, estimate: number, parts: number): Promise<KeyRange[]> {
  if (parts === 1) return [{ lo: null, hi: null }];
  const pk = quoteIdent(info.pk.name);
  const fractions = Array.from({ length: parts - 1 }, (_, i) => (i + 1) / parts);
  const sample = estimate > EXACT_SPLIT_ROWS ? ` TABLESAMPLE SYSTEM (${Math.max(0.001, (100 * SAMPLE_ROWS) / estimate).toFixed(4)})` : '';
  const r = await q.query(
    `SELECT u.b::text AS b FROM unnest((SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY ${pk}) ` +
      `FROM ${ctx.table(info.schema.name)}${sample})::${checkNativeType(info.pk.formatted)}[]) WITH ORDINALITY AS u(b, i) ORDER BY u.i`,
    [fractions],
  );
  const bounds: string[] = [];
  for (const row of r.rows) {
    const b = row.b;
    if (typeof b === 'string' && bounds.at(-1) !== b) bounds.push(b);
  }
  const ranges: KeyRange[] = [];
  let lo: string | null = null;
  for (const b of bounds) {
    ranges.push({ lo, hi: b });
    lo = b;
  }
  ranges.push({ lo, hi: null });
  return ranges;
}

/** A scan of one range in the coordinator's exported view; VIEW_EXPIRED when that view has ended. */
export async function openRangeScan(
  ctx: PgvectorContext,
  collection: string,
  options: RangeScanOptions,
  useCopy: boolean,
): Promise<ScanSession> {
  const { view, range, ...scan } = options;
  try {
    return await openScan(ctx, collection, scan, useCopy, view, range);
  } catch (err) {
    // 42704 `snapshot "…" does not exist` (the exporting transaction ended); 22023 `invalid snapshot identifier` (never was).
    const sqlstate = err instanceof VectordrError ? err.details.sqlstate : undefined;
    if ((sqlstate === '42704' || sqlstate === '22023') && err instanceof VectordrError && /snapshot/i.test(err.message)) {
      throw new ConflictError(
        'VIEW_EXPIRED',
        `Scan of ${collection}: the exported snapshot ${view} no longer exists (its coordinator's transaction ended, ` +
          `or it is from another server or database). Nothing was read; take a new plan (repo.planSnapshot) and run the workers ` +
          `while its coordinator is open.`,
        { plugin: PLUGIN, cause: err, details: { view } },
      );
    }
    throw err;
  }
}
