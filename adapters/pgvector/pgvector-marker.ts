/**
 * The restore marker: the last line of the table's comment (`vectordr-restore/v1 ...`, or `/v2` for a
 * chain restore), so it is set in the same transaction as the rows it describes; a user's own comment
 * above it is kept.
 */
import { NotFoundError } from '../../src/errors.js';
import type { PgvectorContext } from './pgvector-context.js';
import { findTableOid } from './pgvector-describe.js';
import type { PgQueryable } from './pgvector-driver.js';
import { quoteLiteral } from './pgvector-sql.js';

const PLUGIN = 'pgvector';
/** Any version: the core parses what it reads; a version this code does not know is still replaced, never stacked. */
const MARKER_LINE = /(?:^|\n)vectordr-restore\/v\d+ [^\n]*$/;

/** Sets (or, with undefined, removes) the marker line of `table`'s comment, on `q` (inside the caller's transaction). */
export async function setMarker(
  ctx: PgvectorContext,
  q: PgQueryable,
  oid: string,
  table: string,
  marker: string | undefined,
): Promise<void> {
  const current = (await q.query(`SELECT obj_description($1::oid, 'pg_class') AS c`, [oid])).rows[0]?.c;
  const user = typeof current === 'string' ? current.replace(MARKER_LINE, '') : '';
  const next = marker === undefined ? user : user ? `${user}\n${marker}` : marker;
  await q.query(`COMMENT ON TABLE ${ctx.table(table)} IS ${next ? quoteLiteral(next) : 'NULL'}`);
}

export function readMarker(ctx: PgvectorContext, collection: string): Promise<string | undefined> {
  return ctx.run(`read marker of ${collection}`, async () => {
    const oid = await findTableOid(ctx.driver, ...ctx.ref(collection));
    if (!oid) return undefined;
    const c = (await ctx.driver.query(`SELECT obj_description($1::oid, 'pg_class') AS c`, [oid])).rows[0]?.c;
    const m = typeof c === 'string' ? MARKER_LINE.exec(c) : null;
    return m ? m[0].replace(/^\n/, '') : undefined;
  });
}

export async function writeMarker(ctx: PgvectorContext, collection: string, marker: string | undefined): Promise<void> {
  await ctx.transaction(`write marker of ${collection}`, async (s) => {
    const oid = await findTableOid(s, ...ctx.ref(collection));
    if (!oid) throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${ctx.display(collection)} does not exist.`, { plugin: PLUGIN });
    await setMarker(ctx, s, oid, collection, marker);
  });
}
