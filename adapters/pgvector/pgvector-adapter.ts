/**
 * pgvector adapter: one PostgreSQL table with a single-column primary key and one or more vector(n)
 * columns is one collection. Works on `pg` (binary COPY protocol both ways) and PGlite (binary COPY
 * through /dev/blob, keyset-paged) through the same minimal driver interface; tables with column types
 * that have no binary codec load through batched INSERT ... SELECT FROM unnest().
 */
import * as api from '../../src/adapter.js';
import { InvalidInputError, NotFoundError, UnsupportedOperationError, VectordrError, throwIfAborted } from '../../src/errors.js';
import { parseOptions } from '../../src/options.js';
import { displayOnly } from '../../src/display.js';
import { silentLogger } from '../../src/logger.js';
import type { Checkpoint, CollectionSchema, Id, RecordBatch, VectorQuery, VectorRecord } from '../../src/model.js';
import { PgvectorCapture } from './pgvector-capture.js';
import { PgvectorContext } from './pgvector-context.js';
import { availableCollations, checkTypesOnTarget, finishSequences, planDefinition, renameStagedObjects } from './pgvector-definition.js';
import { describeTable, findTableOid, requiredColumnsOutside } from './pgvector-describe.js';
import { type PgQueryable, pgClientDriver, pgPoolDriver, pgliteDriver } from './pgvector-driver.js';
import { pgvectorError } from './pgvector-errors.js';
import { buildIndexes } from './pgvector-indexes.js';
import { checkVectorTypes, preflightCreate } from './pgvector-preflight.js';
import { readMarker, writeMarker } from './pgvector-marker.js';
import { deriveReplicationFactory } from './pgvector-replication.js';
import { type PgvectorAdapterOptions, PgvectorAdapterOptionsSchema, PGVECTOR_RENAMED_OPTIONS } from './pgvector-options.js';
import { exportView, openRangeScan } from './pgvector-export.js';
import { openScan, selectByIds } from './pgvector-scan.js';
import { search } from './pgvector-search.js';
import { checkCollectionName, checkNativeType, qualified, quoteIdent } from './pgvector-sql.js';
import { defaultNativeType } from './pgvector-types.js';
import { PG_VECTOR_TYPES, type PgVectorType, columnType, vectorKindsOf } from './pgvector-vectors.js';
import { OVERRIDING, PgvectorWriter } from './pgvector-write.js';

const PLUGIN = 'pgvector';
const ID_NATIVE_DEFAULT = { int64: 'bigint', string: 'text', uuid: 'uuid' } as const;

export class PgvectorAdapter implements api.VectorAdapter {
  readonly engine = 'pgvector' as const;
  private readonly declared: api.AdapterCapabilities;
  /** The target's pgvector version, once a probe, preflight or endpoint description has read it. */
  private pgvectorVersion: string | undefined;
  private readonly ctx: PgvectorContext;
  private readonly capture: PgvectorCapture;
  private readonly useCopy: boolean;
  private readonly writer: PgvectorWriter;
  private readonly endpointLabel: string | undefined;

  constructor(options: PgvectorAdapterOptions) {
    displayOnly(this, 'PgvectorAdapter', () => ({
      engine: this.engine,
      ...(this.endpointLabel === undefined ? {} : { endpoint: this.endpointLabel }),
    }));
    const o = parseOptions(PgvectorAdapterOptionsSchema, options, 'pgvector adapter', PLUGIN, PGVECTOR_RENAMED_OPTIONS);
    const logger = o.logger ?? silentLogger;
    const driver = o.pool ? pgPoolDriver(o.pool, logger) : o.client ? pgClientDriver(o.client) : pgliteDriver(o.pglite as PgQueryable);
    quoteIdent(o.schema);
    this.ctx = new PgvectorContext(driver, o.schema, logger);
    this.useCopy = o.copy === 'auto';
    this.writer = new PgvectorWriter(this.ctx, { useCopy: this.useCopy, writeBatchRows: o.writeBatchRows });
    this.endpointLabel = o.endpointLabel;
    this.capture = new PgvectorCapture(this.ctx, o.replicationClient ?? deriveReplicationFactory(o.pool ?? o.client), this.useCopy);
    this.declared = api.defineCapabilities({
      idTypes: ['int64', 'string', 'uuid'],
      namedVectors: true,
      atomicMarker: true,
      maxDims: PG_VECTOR_TYPES.vector.maxDims,
      // bit(n) counts bits, sparsevec(n) declares an index space: neither is vector(n)'s 16,000.
      maxDimsOf: {
        float16: PG_VECTOR_TYPES.halfvec.maxDims,
        binary: PG_VECTOR_TYPES.bit.maxDims,
        sparse: PG_VECTOR_TYPES.sparsevec.maxDims,
      },
      // Logical decoding on a server; PGlite has none (per table, planCapture may say less).
      changeCapture: driver.kind === 'pg' ? 'native' : 'digest',
      vectorKinds: vectorKindsOf(undefined),
    });
  }

  /**
   * What this adapter stores. `vectorKinds` follows the target's pgvector version once it has been
   * read (`probe`, `describeEndpoint`, or a restore's `preflightCreate`): halfvec, sparsevec and the
   * bit operators came with 0.7.0, so an older pgvector stores dense float32 only. Before that every
   * kind of 0.7+ is declared, and `preflightCreate` refuses a snapshot whose types the target lacks,
   * naming the version needed, before anything is created.
   */
  get capabilities(): api.AdapterCapabilities {
    if (this.pgvectorVersion === undefined) return this.declared;
    return { ...this.declared, vectorKinds: vectorKindsOf(this.pgvectorVersion) };
  }

  checkCollectionName(name: string, use: 'read' | 'create'): void {
    checkCollectionName(name, use);
  }

  describe(collection: string): Promise<CollectionSchema> {
    return this.ctx.run(
      `describe ${collection}`,
      async () => (await describeTable(this.ctx.driver, ...this.ctx.ref(collection), collection)).schema,
    );
  }

  exists(collection: string): Promise<boolean> {
    return this.ctx.run(
      `exists ${collection}`,
      async () => (await findTableOid(this.ctx.driver, ...this.ctx.ref(collection))) !== undefined,
    );
  }

  scan(collection: string, options: api.ScanOptions): Promise<api.ScanSession> {
    const { startCapture } = options;
    if (startCapture !== undefined) return this.capture.startScan(collection, { ...options, startCapture });
    return openScan(this.ctx, collection, options, this.useCopy);
  }

  /** A view other processes can join: a server's exported snapshot (PGlite, one in-process connection, has none). */
  async exportView(collection: string, options: { signal?: AbortSignal } = {}): Promise<api.ExportedView> {
    if (this.ctx.driver.kind !== 'pg' || !this.ctx.driver.concurrent) {
      throw new UnsupportedOperationError(
        `A distributed snapshot needs exportView on a PostgreSQL server through a pool (or a client per worker): ` +
          `the coordinator holds one connection for the exported snapshot while workers scan on others. Take a plain snapshot instead.`,
        { plugin: PLUGIN, details: { capability: 'exportView' } },
      );
    }
    return exportView(this.ctx, collection, options.signal);
  }

  scanRange(collection: string, options: api.RangeScanOptions): Promise<api.ScanSession> {
    return openRangeScan(this.ctx, collection, options, this.useCopy);
  }

  planCapture(collection: string): Promise<api.CapturePlan> {
    return this.capture.plan(collection);
  }

  captureChanges(collection: string, from: Checkpoint, options: { captureId: string; signal?: AbortSignal }): Promise<api.ChangeSession> {
    return this.capture.open(collection, from, options);
  }

  captureStatus(captureId: string): Promise<api.CaptureStatus> {
    return this.capture.status(captureId);
  }

  dropCapture(captureId: string): Promise<void> {
    return this.capture.drop(captureId);
  }

  async create(schema: CollectionSchema, options: api.CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    const names = new Set<string>();
    const column = (name: string, type: string, notNull: boolean): string => {
      if (names.has(name))
        throw new InvalidInputError('SCHEMA_MISMATCH', `Field name ${JSON.stringify(name)} is used twice in the schema.`, {
          plugin: PLUGIN,
        });
      names.add(name);
      return `${quoteIdent(name)} ${type}${notNull ? ' NOT NULL' : ''}`;
    };
    const idType =
      schema.idNativeType !== undefined && isPgNative(schema.idNativeType) ? schema.idNativeType : ID_NATIVE_DEFAULT[schema.idType];
    const defs = [`${column(schema.idField, idType, true)} PRIMARY KEY`];
    const types = checkVectorTypes(schema, undefined);
    for (const v of schema.vectors) defs.push(column(v.name, columnType(types.get(v.name) as PgVectorType, v.dims), !v.nullable));
    for (const p of schema.payload)
      defs.push(column(p.name, p.nativeType ? checkNativeType(p.nativeType) : defaultNativeType(p), !p.nullable));
    // Types a manifest names, checked on this server before any DDL holds them.
    const recordedTypes = [
      ...(schema.idNativeType !== undefined && isPgNative(schema.idNativeType) ? [schema.idNativeType] : []),
      ...schema.payload.flatMap((p) => (p.nativeType ? [p.nativeType] : [])),
      ...(schema.definition?.columns.map((c) => c.type) ?? []),
    ];
    await this.ctx.transaction(`create ${schema.name}`, async (s) => {
      const ext = await s.query(`SELECT 1 AS ok FROM pg_catalog.pg_extension WHERE extname = 'vector'`);
      if (ext.rows.length === 0) await s.query('CREATE EXTENSION IF NOT EXISTS vector');
      await checkTypesOnTarget(s, recordedTypes);
      if (schema.definition === undefined) {
        await s.query(`CREATE TABLE ${this.ctx.table(schema.name)} (${defs.join(', ')})`);
        return;
      }
      // What the definition leaves out is listed by finishCreate, which every run of a restore calls.
      const trusted = options.definitions?.trusted ?? true; // outside a restore the schema is the caller's own
      const quiet: api.DefinitionGate = { trusted, allows: () => trusted, report: () => undefined };
      const [schemaName, table] = this.ctx.ref(schema.name);
      const plan = planDefinition(schema, schema.definition, { schemaName, table }, quiet, await availableCollations(s, schema.definition));
      await s.query(plan.createTable);
      for (const sql of plan.after) await s.query(sql);
    });
    if (options.indexes === 'now') await this.buildIndexes(schema.name, schema, { signal: options.signal });
  }

  /** Sequences and identities past every restored id, and the list of what the definition left out. */
  async finishCreate(collection: string, schema: CollectionSchema, options: api.CreateOptions): Promise<void> {
    const definition = schema.definition;
    if (definition === undefined) return;
    const gate = options.definitions ?? { trusted: true, allows: () => true, report: () => undefined };
    await this.ctx.transaction(`finish ${collection}`, async (s) => {
      const [schemaName, table] = this.ctx.ref(collection);
      planDefinition(schema, definition, { schemaName, table }, gate, await availableCollations(s, definition));
      await finishSequences(s, this.ctx.table(collection), definition, gate);
    });
  }

  /**
   * Refuses, before anything is created or dropped, a vector field whose column type this pgvector
   * lacks (halfvec, sparsevec and the bit operators came with 0.7.0; the error names the version) and
   * a vector index whose operator class it lacks (vector_l1_ops for HNSW came with 0.7.0): without
   * the index the metric would be lost, and vectordr never drops a metric silently.
   */
  preflightCreate(schema: CollectionSchema): Promise<void> {
    return preflightCreate(this.ctx, schema, (version) => (this.pgvectorVersion = version));
  }

  buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<api.IndexBuildReport> {
    return buildIndexes(this.ctx, collection, schema, options);
  }

  /** Refuses, before anything is written, a target with a NOT NULL column the snapshot cannot fill. */
  async preflightAppend(collection: string, schema: CollectionSchema): Promise<void> {
    const required = await this.ctx.run(`check ${collection}`, async () => {
      const oid = await findTableOid(this.ctx.driver, ...this.ctx.ref(collection));
      if (oid === undefined)
        throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${this.ctx.display(collection)} does not exist.`, { plugin: PLUGIN });
      return requiredColumnsOutside(
        this.ctx.driver,
        oid,
        new Set([...schema.vectors.map((v) => v.name), ...schema.payload.map((p) => p.name)]),
      );
    });
    const [column] = required;
    if (column === undefined) return;
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Cannot restore into the existing ${this.ctx.display(collection)}: column ` +
        `${JSON.stringify(column)} is NOT NULL without a default, and the snapshot has no such ` +
        `field. Nothing was written. Give the column a default (ALTER TABLE ... ALTER COLUMN ... ` +
        `SET DEFAULT ...) or drop NOT NULL, or restore with ifExists: 'replace' or into a new ` +
        `target.`,
      {
        plugin: PLUGIN,
        details: { target: collection, columns: required },
      },
    );
  }

  /**
   * One transaction: INSERT ... SELECT ... ON CONFLICT DO UPDATE from the staging table into the
   * target, then DROP the staging table. A row the target refuses (a CHECK, unique or foreign key
   * constraint, a trigger) rolls it all back: the target is left exactly as it was.
   */
  async merge(source: string, target: string): Promise<void> {
    try {
      await this.ctx.transaction(`merge into ${target}`, async (s) => {
        const from = await describeTable(s, ...this.ctx.ref(source), source);
        const into = await describeTable(s, ...this.ctx.ref(target), target);
        const fields = [...from.vectors.map((v) => v.name), ...from.payload.map((p) => p.col.name)].map(quoteIdent);
        const sets = fields.map((n) => `${n} = EXCLUDED.${n}`);
        await s.query(
          `INSERT INTO ${this.ctx.table(target)} (${[quoteIdent(into.pk.name), ...fields].join(', ')}) ${OVERRIDING} SELECT ${[quoteIdent(from.pk.name), ...fields].join(', ')} FROM ${this.ctx.table(source)}
            ON CONFLICT (${quoteIdent(into.pk.name)}) DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`,
        );
        await s.query(`DROP TABLE ${this.ctx.table(source)}`);
      });
    } catch (err) {
      const e = err instanceof VectordrError ? err : undefined;
      const sqlstate = typeof e?.details?.sqlstate === 'string' ? e.details.sqlstate : '';
      if (!/^2[23]/.test(sqlstate)) throw err;
      // Name the target, the SQLSTATE and the constraint or column — never the engine's message, which
      // can quote a row's value (22P02 "invalid input syntax ...: <value>").
      const cause = e?.cause as { constraint?: unknown; column?: unknown } | undefined;
      const constraint = typeof cause?.constraint === 'string' ? cause.constraint : undefined;
      const column = typeof cause?.column === 'string' ? cause.column : undefined;
      const what = constraint
        ? `constraint ${quoteIdent(constraint)}`
        : column
          ? `column ${quoteIdent(column)}`
          : 'a constraint or column type';
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `${this.ctx.display(target)} refused the snapshot's rows (SQLSTATE ${sqlstate}, ${what}); ` +
          `the restore into it was rolled back, nothing was written to it. Restore with ifExists: ` +
          `'replace' or into a new target, or change the table so that it accepts these rows.`,
        {
          plugin: PLUGIN,
          cause: err,
          details: { target, sqlstate, ...(constraint ? { constraint } : {}), ...(column ? { column } : {}) },
        },
      );
    }
  }

  write(collection: string, batch: RecordBatch, options: api.WriteOptions): Promise<void> {
    return this.writer.write(collection, batch, options);
  }

  writeBatches(collection: string, batches: AsyncIterable<RecordBatch>, options: api.WriteOptions): Promise<void> {
    return this.writer.writeBatches(collection, batches, options);
  }

  readMarker(collection: string): Promise<string | undefined> {
    return readMarker(this.ctx, collection);
  }

  writeMarker(collection: string, marker: string | undefined): Promise<void> {
    return writeMarker(this.ctx, collection, marker);
  }

  async swap(source: string, target: string, options: { replace: boolean }): Promise<void> {
    await this.ctx.transaction(`swap ${source} into ${target}`, async (s) => {
      const [sourceSchema, sourceTable] = this.ctx.ref(source);
      const [targetSchema, targetTable] = this.ctx.ref(target);
      if (options.replace) await s.query(`DROP TABLE IF EXISTS ${this.ctx.table(target)}`);
      if (sourceSchema !== targetSchema) await s.query(`ALTER TABLE ${this.ctx.table(source)} SET SCHEMA ${quoteIdent(targetSchema)}`);
      await s.query(`ALTER TABLE ${qualified(targetSchema, sourceTable)} RENAME TO ${quoteIdent(targetTable)}`);
      // Indexes (and the constraints they back), partitions, sequences and NOT NULL constraints were named after the staging table.
      const oid = await findTableOid(s, ...this.ctx.ref(target));
      if (oid !== undefined) await renameStagedObjects(s, targetSchema, sourceTable, targetTable, oid);
    });
  }

  async drop(collection: string): Promise<void> {
    await this.ctx.run(`drop ${collection}`, () => this.ctx.driver.query(`DROP TABLE IF EXISTS ${this.ctx.table(collection)}`));
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ctx.run(`delete from ${collection}`, async () => {
      const info = await describeTable(this.ctx.driver, ...this.ctx.ref(collection), collection);
      await this.ctx.driver.query(
        `DELETE FROM ${this.ctx.table(collection)} WHERE ${quoteIdent(info.pk.name)} = ` +
          `ANY($1::text[]::${checkNativeType(info.pk.formatted)}[])`,
        [ids.map(String)],
      );
    });
  }

  count(collection: string): Promise<number> {
    return this.ctx.run(`count ${collection}`, async () =>
      Number((await this.ctx.driver.query(`SELECT count(*)::text AS n FROM ${this.ctx.table(collection)}`)).rows[0]?.n ?? 0),
    );
  }

  fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    return this.ctx.run(`fetch from ${collection}`, async () => {
      const info = await describeTable(this.ctx.driver, ...this.ctx.ref(collection), collection);
      return selectByIds(this.ctx.driver, info, this.ctx.table(collection), ids);
    });
  }

  /** Nearest neighbours by the column's distance; a `Float32Array`, or a query of the column's kind (docs/adapters/pgvector.md, "Search"). */
  search(collection: string, query: Float32Array | VectorQuery, k: number, options: api.SearchOptions = {}): Promise<api.SearchHit[]> {
    return search(this.ctx, collection, query, k, options);
  }

  async probe(): Promise<api.ProbeResult> {
    const t0 = performance.now();
    try {
      const r = await this.ctx.driver.query(
        `SELECT pg_is_in_recovery()::text AS standby, COALESCE((EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::int8, 0)::text AS lag,
                current_setting('server_version') AS version,
                (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector') AS ev`,
      );
      const row = r.rows[0] ?? {};
      if (row.ev != null) this.pgvectorVersion = String(row.ev);
      const standby = row.standby === 'true';
      const result: api.ProbeResult = {
        reachable: true,
        role: standby ? 'standby' : 'primary',
        latencyMs: performance.now() - t0,
        engineVersion: String(row.version),
      };
      if (standby) result.lagMs = Number(row.lag);
      return result;
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: pgvectorError(err, 'probe').message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; extensionVersion?: string; endpoint: string }> {
    return this.ctx.run('describe endpoint', async () => {
      const r = await this.ctx.driver.query(
        `SELECT current_setting('server_version') AS v, (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector') AS ev,
                current_database() AS db, COALESCE(host(inet_server_addr()), 'local') AS host, COALESCE(inet_server_port()::text, '') AS port`,
      );
      const row = r.rows[0] ?? {};
      const endpoint =
        this.endpointLabel ??
        (this.ctx.driver.kind === 'pglite' ? `pglite/${String(row.db)}` : `${String(row.host)}:${String(row.port)}/${String(row.db)}`);
      const out: { engineVersion: string; extensionVersion?: string; endpoint: string } = { engineVersion: String(row.v), endpoint };
      if (row.ev != null) {
        out.extensionVersion = String(row.ev);
        this.pgvectorVersion = out.extensionVersion;
      }
      return out;
    });
  }
}

function isPgNative(t: string): boolean {
  try {
    checkNativeType(t);
    return true;
  } catch {
    return false;
  }
}

/** Creates a pgvector adapter over a `pg` Pool/Client or a PGlite instance. */
export function pgvectorAdapter(options: PgvectorAdapterOptions): PgvectorAdapter {
  return new PgvectorAdapter(options);
}
