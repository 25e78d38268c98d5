/**
 * Before a restore creates or drops anything: the pgvector version of the target (installed, or the
 * one `CREATE EXTENSION vector` would install), the column type each vector field needs and the
 * version that added it, and the operator class of each recorded vector index. A snapshot the target
 * cannot hold is refused here, naming the field, the type and the pgvector version it needs.
 */
import { UnsupportedOperationError } from '../../src/errors.js';
import { type CollectionSchema, type Metric, describeKind } from '../../src/model.js';
import type { PgvectorContext } from './pgvector-context.js';
import type { PgQueryable } from './pgvector-driver.js';
import { quoteLiteral } from './pgvector-sql.js';
import { PG_VECTOR_TYPES, type PgVectorType, opclassFor, typeForField, versionAtLeast } from './pgvector-vectors.js';

const PLUGIN = 'pgvector';
/** Vector index methods (others are payload indexes or not pgvector's). */
export const VECTOR_INDEX_METHODS = new Set(['hnsw', 'ivfflat']);

/** The target's pgvector: the installed version, else the one CREATE EXTENSION would install; undefined without either. */
export async function probeVectorVersion(q: PgQueryable): Promise<{ version: string | undefined; installed: boolean }> {
  const r = await q.query(
    `SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector') AS installed,
            (SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'vector') AS available`,
  );
  const row = r.rows[0] ?? {};
  const installed = row.installed == null ? undefined : String(row.installed);
  const available = row.available == null ? undefined : String(row.available);
  return { version: installed ?? available, installed: installed !== undefined };
}

/** The pgvector type of each vector field, refusing (before anything is created) one this pgvector lacks. */
export function checkVectorTypes(schema: CollectionSchema, version: string | undefined): Map<string, PgVectorType> {
  const types = new Map<string, PgVectorType>();
  for (const v of schema.vectors) {
    const type = typeForField(v);
    if (type === undefined) {
      const what = describeKind(v);
      throw new UnsupportedOperationError(
        `Vector field ${JSON.stringify(v.name)} holds ${what} vectors, which pgvector has no column type for ` +
          `(it stores float32 vector, float16 halfvec, binary bit and sparse sparsevec). Restore with ` +
          `convertVectors or omitVectors naming the field, or into an engine that stores it. Nothing was created.`,
        { plugin: PLUGIN, details: { field: v.name, kind: what } },
      );
    }
    const since = PG_VECTOR_TYPES[type].since;
    if (version !== undefined && !versionAtLeast(version, since)) {
      // bit is PostgreSQL's own type; what 0.7.0 added are its distance operators and index classes.
      const needs =
        type === 'bit'
          ? `pgvector's bit operators (Hamming, Jaccard), which came with ${since}`
          : `a ${type} column, which pgvector has since ${since}`;
      throw new UnsupportedOperationError(
        `Vector field ${JSON.stringify(v.name)} needs ${needs}; ` +
          `this server has pgvector ${version}. Upgrade the extension (ALTER EXTENSION vector UPDATE, after ` +
          `installing pgvector >= ${since}), or restore with convertVectors / omitVectors naming the field. ` +
          `Nothing was created.`,
        { plugin: PLUGIN, details: { field: v.name, type, needs: since, pgvector: version } },
      );
    }
    types.set(v.name, type);
  }
  return types;
}

/**
 * Refuses, before anything is created or dropped, a field whose column type this pgvector lacks and
 * a plain vector index whose operator class it lacks (vector_l1_ops for HNSW came with pgvector
 * 0.7): without the index the metric would be lost, and vectordr never drops a metric silently.
 * `seen` gets the version as soon as it is read (the adapter's capabilities follow it).
 */
export async function preflightCreate(ctx: PgvectorContext, schema: CollectionSchema, seen: (version: string) => void): Promise<void> {
  const { version, installed } = await ctx.run('check pgvector version', () => probeVectorVersion(ctx.driver));
  if (version !== undefined) seen(version);
  const types = checkVectorTypes(schema, version);
  // No extension yet (create() installs it): its operator classes cannot be listed; the version stood for them.
  if (!installed) return;
  for (const ix of schema.indexes) {
    const vector = schema.vectors.find((v) => v.name === ix.field);
    if (!vector || !VECTOR_INDEX_METHODS.has(ix.kind) || ix.params.unsupported !== undefined || ix.params.expression !== undefined)
      continue;
    const metric: Metric = ix.metric ?? vector.metric;
    const opclass = opclassFor(types.get(vector.name) as PgVectorType, metric);
    if (!opclass) continue; // reported by buildIndexes
    const r = await ctx.run('check operator class', () =>
      ctx.driver.query(
        `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod ` +
          `WHERE c.opcname = ${quoteLiteral(opclass)} AND a.amname = ${quoteLiteral(ix.kind)}) AS ok`,
      ),
    );
    const ok = r.rows[0]?.ok;
    if (ok === true || ok === 't') continue;
    throw new UnsupportedOperationError(
      `pgvector ${String(version)} has no ${opclass} for ${ix.kind} indexes, so ` +
        `${JSON.stringify(ix.field)} could not be searched by ${metric} ` +
        `(pgvector added vector_l1_ops in 0.7.0; ivfflat has no l1, jaccard or sparsevec classes). Upgrade pgvector, ` +
        `restore with another index kind, or into an engine that has this metric. Nothing was created.`,
      { plugin: PLUGIN, details: { field: ix.field, opclass, method: ix.kind, pgvector: String(version) } },
    );
  }
}
