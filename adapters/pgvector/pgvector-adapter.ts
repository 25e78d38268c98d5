/**
 * pgvector adapter: one PostgreSQL table with a single-column primary key and one or more vector(n)
 * columns is one collection. Works on `pg` (binary COPY protocol both ways) and PGlite (binary COPY
 * through /dev/blob, keyset-paged) through the same minimal driver interface; tables with column types
 * that have no binary codec load through batched INSERT ... SELECT FROM unnest().
 */
import type {
  AdapterCapabilities,
  CreateOptions,
  IndexBuildReport,
  ProbeResult,
  ScanOptions,
  ScanSession,
  SearchHit,
  SearchOptions,
  VectorAdapter,
  WriteOptions,
} from '../../src/adapter.js';
import { defineCapabilities, probesForEffort } from '../../src/adapter.js';
import { EngineError, InvalidInputError, NotFoundError, UnsupportedOperationError, VectordrError, throwIfAborted } from '../../src/errors.js';
import { parseOptions } from '../../src/options.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { Checkpoint, CollectionSchema, Id, Payload, PayloadField, PayloadValue, RecordBatch, VectorColumn, VectorRecord } from '../../src/model.js';
import { recordAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import { ByteSink, CopyBinaryParser, binaryEncoder, copyHeader } from './pgvector-copy.js';
import { type IndexDefinition, METRIC_OPCLASS, type TableInfo, describeTable, findTableOid, indexDefinitions, requiredColumnsOutside } from './pgvector-describe.js';
import { type PgDriver, type PgQueryable, type PgSession, pgClientDriver, pgPoolDriver, pgliteDriver } from './pgvector-driver.js';
import { type PgvectorAdapterOptions, PgvectorAdapterOptionsSchema } from './pgvector-options.js';
import { checkCollectionName, checkNativeType, collectionRef, qualified, quoteIdent, quoteLiteral } from './pgvector-sql.js';
import { castExpr, defaultNativeType, isArrayLiteral, parseText, selectExpr, toText } from './pgvector-types.js';

const PLUGIN = 'pgvector';
const MARKER_LINE = /(?:^|\n)vectordr-restore\/v1 [^\n]*$/;
const DISTANCE_OP: Record<string, string> = { l2: '<->', cosine: '<=>', dot: '<#>', l1: '<+>', unspecified: '<->' };
const ID_NATIVE_DEFAULT = { int64: 'bigint', string: 'text', uuid: 'uuid' } as const;
const INDEX_PARAMS: Record<string, Record<string, [number, number]>> = {
  hnsw: { m: [2, 100], ef_construction: [4, 1000] },
  ivfflat: { lists: [1, 32768] },
};

/** Raw row as both scan paths deliver it: [id text, ...vector bytes, ...payload text]. */
type RawField = Uint8Array | string | null;

const text = (f: RawField): string | null => (f === null ? null : typeof f === 'string' ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('utf8'));

/** Accumulates raw rows into a columnar batch; vector bytes are copied once and byte-swapped per batch. */
class BatchBuilder {
  private n = 0;
  private ids: bigint[] | string[] = [];
  /** Allocated when the first row of a batch arrives; handed over whole to the batch by take(). */
  private vecBytes: Uint8Array[] = [];
  private readonly dims: number[];
  private valid: Uint8Array[];
  private anyNull: boolean[];
  private payloads: Payload[] = [];

  constructor(
    private readonly info: TableInfo,
    private readonly capacity: number,
  ) {
    this.dims = info.vectors.map((v) => info.schema.vectors.find((f) => f.name === v.name)!.dims);
    this.valid = info.vectors.map(() => new Uint8Array(capacity));
    this.anyNull = info.vectors.map(() => false);
  }

  get length(): number {
    return this.n;
  }

  add(row: RawField[]): void {
    const i = this.n;
    const { schema } = this.info;
    if (i === 0) this.vecBytes = this.dims.map((d) => new Uint8Array(this.capacity * d * 4));
    const idText = text(row[0] ?? null) as string;
    if (schema.idType === 'int64') (this.ids as bigint[]).push(BigInt(idText));
    else (this.ids as string[]).push(idText);
    for (let v = 0; v < this.dims.length; v++) {
      const f = row[1 + v] ?? null;
      const dims = this.dims[v] as number;
      if (f === null) {
        this.anyNull[v] = true;
        continue;
      }
      const bytes = typeof f === 'string' ? Buffer.from(f, 'hex') : f;
      const got = (bytes[0] as number) * 256 + (bytes[1] as number);
      if (got !== dims || bytes.length !== 4 + dims * 4) {
        throw new EngineError(`Row ${idText}: vector ${schema.vectors[v]?.name} has ${got} dimensions, the column declares ${dims}.`, 'permanent', { plugin: PLUGIN });
      }
      (this.vecBytes[v] as Uint8Array).set(bytes.subarray(4), i * dims * 4);
      (this.valid[v] as Uint8Array)[i] = 1;
    }
    // Null prototype: a column may be named "__proto__" or "constructor".
    const payload = Object.create(null) as Payload;
    const base = 1 + this.dims.length;
    this.info.payload.forEach((p, k) => {
      const raw = text(row[base + k] ?? null);
      // SQL NULL is an absent field (absent == null, in every engine); a jsonb 'null' is a present null.
      if (raw !== null) payload[p.field.name] = parseText(raw, p.col, p.field);
    });
    this.payloads.push(payload);
    this.n++;
  }

  take(): RecordBatch {
    const n = this.n;
    const { schema } = this.info;
    const vectors: Record<string, VectorColumn> = {};
    if (n === 0) this.vecBytes = this.dims.map(() => new Uint8Array(0));
    this.vecBytes.forEach((buf, v) => {
      const dims = this.dims[v] as number;
      const bytes = Buffer.from(buf.buffer, buf.byteOffset, n * dims * 4);
      bytes.swap32(); // float4 big-endian -> little-endian, whole batch at once
      // Hand the buffer itself to the batch (no copy); the next batch gets a fresh one.
      const data = new Float32Array(buf.buffer, buf.byteOffset, n * dims);
      const name = (schema.vectors[v] as { name: string }).name;
      vectors[name] = this.anyNull[v] ? { dims, data, valid: (this.valid[v] as Uint8Array).slice(0, n) } : { dims, data };
    });
    const ids = schema.idType === 'int64' ? BigInt64Array.from(this.ids as bigint[]) : (this.ids as string[]);
    const batch: RecordBatch = { length: n, ids, vectors, payloads: this.payloads };
    this.n = 0;
    this.ids = [];
    this.payloads = [];
    this.valid = this.valid.map(() => new Uint8Array(this.capacity));
    this.vecBytes = [];
    this.anyNull = this.anyNull.map(() => false);
    return batch;
  }
}

/** Maps driver errors to typed errors; keeps VectordrErrors as they are. */
function mapError(err: unknown, what: string): VectordrError {
  if (err instanceof VectordrError) return err;
  if (err instanceof RangeError) {
    return new InvalidInputError('SCHEMA_MISMATCH', `${what}: a value does not fit its column type (${err.message}); nothing from this batch was written.`, { plugin: PLUGIN, cause: err });
  }
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const msg = typeof e.message === 'string' ? e.message : String(err);
  if (code === '42P01') return new NotFoundError('COLLECTION_NOT_FOUND', `${what}: ${msg}`, { plugin: PLUGIN, cause: err });
  if (/^(08|57P|40001|40P01|53)/.test(code) || /ECONNRESET|ECONNREFUSED|ETIMEDOUT|Connection terminated/i.test(msg)) {
    return new EngineError(`${what}: ${msg}`, 'transient', { plugin: PLUGIN, cause: err, details: { sqlstate: code } });
  }
  if (/^22|^23/.test(code)) return new InvalidInputError('SCHEMA_MISMATCH', `${what}: ${msg}`, { plugin: PLUGIN, cause: err, details: { sqlstate: code } });
  return new EngineError(`${what}: ${msg}`, 'permanent', { plugin: PLUGIN, cause: err, details: { sqlstate: code } });
}

/** pgvector's text form; -0 written as -0 (String(-0) is "0"). */
function vectorLiteral(v: Float32Array): string {
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    out += (i > 0 ? ',' : '') + (Object.is(x, -0) ? '-0' : String(x));
  }
  return `${out}]`;
}

/** A payload's own value for a field: never one inherited from Object.prototype (a column named "constructor"). */
function own(payload: Payload, name: string): PayloadValue | undefined {
  return Object.hasOwn(payload, name) ? payload[name] : undefined;
}

export class PgvectorAdapter implements VectorAdapter {
  readonly engine = 'pgvector' as const;
  readonly capabilities: AdapterCapabilities = defineCapabilities({
    idTypes: ['int64', 'string', 'uuid'],
    namedVectors: true,
    atomicMarker: true,
    maxDims: 16_000,
  });
  private readonly driver: PgDriver;
  private readonly schemaName: string;
  private readonly useCopy: boolean;
  private readonly insertBatchRows: number;
  private readonly endpointLabel: string | undefined;
  private readonly logger: Logger;
  private readonly writeInfo = new Map<string, TableInfo>();

  constructor(options: PgvectorAdapterOptions) {
    const o = parseOptions(PgvectorAdapterOptionsSchema, options, 'pgvector adapter', PLUGIN);
    this.logger = o.logger ?? silentLogger;
    this.driver = o.pool ? pgPoolDriver(o.pool, this.logger) : o.client ? pgClientDriver(o.client) : pgliteDriver(o.pglite as PgQueryable);
    this.schemaName = o.schema;
    quoteIdent(o.schema);
    this.useCopy = o.copy === 'auto';
    this.insertBatchRows = o.insertBatchRows;
    this.endpointLabel = o.endpointLabel;
  }

  /**
   * Schema and table of a collection name: `schema.table` when it holds a dot, else the `schema`
   * option's table (docs/adapters/pgvector.md, "Collection names").
   */
  private ref(name: string): [schema: string, table: string] {
    return collectionRef(name, this.schemaName);
  }

  private display(name: string): string {
    return this.ref(name).join('.');
  }

  private table(name: string): string {
    return qualified(...this.ref(name));
  }

  checkCollectionName(name: string, use: 'read' | 'create'): void {
    checkCollectionName(name, use);
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapError(err, what);
    }
  }

  private async withSession<T>(fn: (s: PgSession) => Promise<T>): Promise<T> {
    const s = await this.driver.acquire();
    let broken = false;
    try {
      return await fn(s);
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      s.release(broken);
    }
  }

  /** Runs fn in a transaction on one session, rolling back on error. */
  private transaction<T>(what: string, fn: (s: PgSession) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    return this.run(what, () =>
      this.withSession(async (s) => {
        await s.query(begin);
        try {
          const out = await fn(s);
          await s.query('COMMIT');
          return out;
        } catch (err) {
          await s.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );
  }

  describe(collection: string): Promise<CollectionSchema> {
    return this.run(`describe ${collection}`, async () => (await describeTable(this.driver, ...this.ref(collection), collection)).schema);
  }

  exists(collection: string): Promise<boolean> {
    return this.run(`exists ${collection}`, async () => (await findTableOid(this.driver, ...this.ref(collection))) !== undefined);
  }

  private selectList(info: TableInfo, vectorsAsBytea: boolean): string {
    const parts = [`${quoteIdent(info.pk.name)}::text`];
    for (const v of info.vectors) parts.push(vectorsAsBytea ? `vector_send(${quoteIdent(v.name)})` : quoteIdent(v.name));
    for (const p of info.payload) parts.push(selectExpr(p.col, p.field));
    // Positional aliases: row objects keep every column even when expressions share a name.
    return parts.map((e, i) => `${e} AS c${i}`).join(', ');
  }

  async scan(collection: string, options: ScanOptions): Promise<ScanSession> {
    const { batchSize, signal } = options;
    const session = await this.run(`scan ${collection}`, () => this.driver.acquire());
    let open = true;
    const close = async (): Promise<void> => {
      if (!open) return;
      open = false;
      // A scan abandoned mid-COPY leaves the connection unusable: it is destroyed, which also ends
      // the read-only transaction on the server.
      if (!session.broken) await session.query('COMMIT').catch(() => undefined);
      session.release(session.broken);
    };
    try {
      // One REPEATABLE READ snapshot for describe, checkpoint, count and every row.
      await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const info = await describeTable(session, ...this.ref(collection), collection);
      const cp = await session.query(
        `SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS lsn,
                txid_current_snapshot()::text AS snap, c.reltuples::int8::text AS estimate
           FROM pg_catalog.pg_class c WHERE c.oid = $1::oid`,
        [info.oid],
      );
      const row = cp.rows[0] ?? {};
      const checkpoint: Checkpoint = { engine: 'pgvector', kind: 'pg-lsn', value: { lsn: String(row.lsn ?? ''), snapshot: String(row.snap ?? '') }, takenAt: new Date().toISOString() };
      let estimate = Number(row.estimate ?? -1);
      // reltuples is -1 on a table never analyzed (always so on PGlite, which has no autovacuum) and
      // 0 when it was empty at its last analyze: count it then, in the same snapshot. Autovacuum
      // analyzes any table of real size, so on a server this extra pass is for small or fresh tables.
      if (!(estimate > 0)) estimate = Number((await session.query(`SELECT count(*)::text AS n FROM ${this.table(info.schema.name)}`)).rows[0]?.n ?? 0);
      return {
        schema: info.schema,
        checkpoint,
        estimatedRows: estimate,
        close,
        batches: () => this.scanBatches(session, info, batchSize, signal),
      };
    } catch (err) {
      await close();
      throw mapError(err, `scan ${collection}`);
    }
  }

  /** Rows of an open scan session: binary COPY on pg, keyset pages on PGlite (or with copy: 'never'). */
  private async *scanBatches(session: PgSession, info: TableInfo, batchSize: number, signal: AbortSignal | undefined): AsyncIterable<RecordBatch> {
    const builder = new BatchBuilder(info, batchSize);
    const table = this.table(info.schema.name);
    const path = this.useCopy && session.copyOut ? 'copy-stream' : this.useCopy && session.copyOutBuffered ? 'copy-paged' : 'select-paged';
    this.logger.debug({ collection: info.schema.name, path, batchSize }, 'scan started');
    try {
      if (this.useCopy && session.copyOut) {
        const parser = new CopyBinaryParser();
        for await (const chunk of session.copyOut(`COPY (SELECT ${this.selectList(info, false)} FROM ${table}) TO STDOUT (FORMAT binary)`)) {
          throwIfAborted(signal);
          for (const fields of parser.push(chunk)) {
            builder.add(fields);
            if (builder.length === batchSize) yield builder.take();
          }
        }
      } else {
        // Keyset pages: by binary COPY into a buffer where only that exists (PGlite), else SELECT.
        let after: string | null = null;
        const pk = quoteIdent(info.pk.name);
        const pkType = checkNativeType(info.pk.formatted);
        for (;;) {
          throwIfAborted(signal);
          let rows = 0;
          if (this.useCopy && session.copyOutBuffered) {
            const where = after === null ? '' : `WHERE ${pk} > ${quoteLiteral(after)}::${pkType}`;
            const bytes = await session.copyOutBuffered(`COPY (SELECT ${this.selectList(info, false)} FROM ${table} ${where} ORDER BY ${pk} LIMIT ${batchSize}) TO STDOUT (FORMAT binary)`);
            for (const fields of new CopyBinaryParser().push(bytes)) {
              builder.add(fields);
              after = text(fields[0] ?? null);
              rows++;
            }
          } else {
            const where = after === null ? '' : `WHERE ${pk} > $1::${pkType}`;
            const r = await session.query(`SELECT ${this.selectList(info, true)} FROM ${table} ${where} ORDER BY ${pk} LIMIT ${batchSize}`, after === null ? [] : [after]);
            for (const rowObj of r.rows) builder.add(Object.values(rowObj) as RawField[]);
            if (r.rows.length > 0) after = String(Object.values(r.rows[r.rows.length - 1] as object)[0]);
            rows = r.rows.length;
          }
          if (rows === 0) break;
          yield builder.take();
          if (rows < batchSize) break;
        }
      }
      if (builder.length > 0) yield builder.take();
    } catch (err) {
      throw mapError(err, `scan ${info.schema.name}`);
    }
  }

  async create(schema: CollectionSchema, options: CreateOptions): Promise<void> {
    throwIfAborted(options.signal);
    const names = new Set<string>();
    const column = (name: string, type: string, notNull: boolean): string => {
      if (names.has(name)) throw new InvalidInputError('SCHEMA_MISMATCH', `Field name ${JSON.stringify(name)} is used twice in the schema.`, { plugin: PLUGIN });
      names.add(name);
      return `${quoteIdent(name)} ${type}${notNull ? ' NOT NULL' : ''}`;
    };
    const idType = schema.idNativeType !== undefined && isPgNative(schema.idNativeType) ? schema.idNativeType : ID_NATIVE_DEFAULT[schema.idType];
    const defs = [`${column(schema.idField, idType, true)} PRIMARY KEY`];
    for (const v of schema.vectors) defs.push(column(v.name, `vector(${v.dims})`, !v.nullable));
    for (const p of schema.payload) defs.push(column(p.name, p.nativeType ? checkNativeType(p.nativeType) : defaultNativeType(p), !p.nullable));
    await this.transaction(`create ${schema.name}`, async (s) => {
      const ext = await s.query(`SELECT 1 AS ok FROM pg_catalog.pg_extension WHERE extname = 'vector'`);
      if (ext.rows.length === 0) await s.query('CREATE EXTENSION IF NOT EXISTS vector');
      await s.query(`CREATE TABLE ${this.table(schema.name)} (${defs.join(', ')})`);
    });
    if (options.indexes === 'now') await this.buildIndexes(schema.name, schema, { signal: options.signal });
  }

  /**
   * Refuses, before anything is created or dropped, a vector index whose operator class this
   * pgvector lacks (vector_l1_ops for HNSW came with pgvector 0.7): without the index the metric
   * would be lost, and vectordr never drops a metric silently.
   */
  async preflightCreate(schema: CollectionSchema): Promise<void> {
    for (const ix of schema.indexes) {
      const vector = schema.vectors.find((v) => v.name === ix.field);
      const opclass = vector ? METRIC_OPCLASS[ix.metric ?? vector.metric] : undefined;
      if (!vector || !INDEX_PARAMS[ix.kind] || !opclass || ix.params.unsupported !== undefined) continue;
      const r = await this.run('check operator class', () =>
        this.driver.query(`SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector') AS ev,
            EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am a ON a.oid = c.opcmethod WHERE c.opcname = ${quoteLiteral(opclass)} AND a.amname = ${quoteLiteral(ix.kind)}) AS ok`),
      );
      const row = r.rows[0] ?? {};
      // No extension yet (create() installs it): nothing to check against.
      if (row.ev == null || row.ok === true || row.ok === 't') continue;
      throw new UnsupportedOperationError(`pgvector ${String(row.ev)} has no ${opclass} for ${ix.kind} indexes, so ${JSON.stringify(ix.field)} could not be searched by ${ix.metric ?? vector.metric} (pgvector added vector_l1_ops in 0.7.0). Upgrade pgvector, or restore into an engine that has this metric. Nothing was created.`, {
        plugin: PLUGIN,
        details: { field: ix.field, opclass, method: ix.kind, pgvector: String(row.ev) },
      });
    }
  }

  async buildIndexes(collection: string, schema: CollectionSchema, options: { signal?: AbortSignal } = {}): Promise<IndexBuildReport> {
    const report: IndexBuildReport = { built: [], skipped: [] };
    // What the table already has: a resumed restore (interrupted between the build and the marker
    // that records it) must not build an index twice, and "the same index" means the same definition.
    const oid = await this.run(`indexes of ${collection}`, () => findTableOid(this.driver, ...this.ref(collection)));
    if (oid === undefined) throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${this.display(collection)} does not exist.`, { plugin: PLUGIN });
    const present = await this.run(`indexes of ${collection}`, () => indexDefinitions(this.driver, oid));
    for (const ix of schema.indexes) {
      throwIfAborted(options.signal);
      const skip = (reason: string): void => {
        report.skipped.push({ kind: ix.kind, field: ix.field, reason });
        this.logger.warn({ collection, kind: ix.kind, field: ix.field, reason }, 'index not recreated');
      };
      if (ix.params.unsupported !== undefined) {
        skip(String(ix.params.unsupported));
        continue;
      }
      const vector = schema.vectors.find((v) => v.name === ix.field);
      let sql: string;
      let same: (d: IndexDefinition) => boolean;
      if (vector) {
        const allowed = INDEX_PARAMS[ix.kind];
        if (!allowed) {
          skip(`pgvector has no ${ix.kind} index`);
          continue;
        }
        const opclass = METRIC_OPCLASS[ix.metric ?? vector.metric];
        if (!opclass) {
          skip(`pgvector has no operator class for metric ${ix.metric ?? vector.metric}`);
          continue;
        }
        const withParams: string[] = [];
        for (const [k, v] of Object.entries(ix.params)) {
          const range = allowed[k];
          if (!range || typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) {
            report.skipped.push({ kind: ix.kind, field: ix.field, reason: `parameter ${k}=${String(v)} not applicable; default used`, action: 'converted' });
            continue;
          }
          withParams.push(`${k} = ${v}`);
        }
        sql = `CREATE INDEX ON ${this.table(collection)} USING ${ix.kind} (${quoteIdent(ix.field)} ${opclass})${withParams.length ? ` WITH (${withParams.join(', ')})` : ''}`;
        const options = withParams.map((w) => w.replace(' = ', '=')).sort();
        same = (d) => d.method === ix.kind && d.column === ix.field && d.opclass === opclass && !d.unique && d.options.join(',') === options.join(',');
      } else if (schema.payload.some((p) => p.name === ix.field) && ['btree', 'hash', 'gin', 'brin'].includes(ix.kind)) {
        sql = `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ON ${this.table(collection)} USING ${ix.kind} (${quoteIdent(ix.field)})`;
        same = (d) => d.method === ix.kind && d.column === ix.field && d.defaultOpclass && d.unique === (ix.unique === true) && d.options.length === 0;
      } else {
        skip(`no field ${ix.field} or index kind ${ix.kind} unsupported`);
        continue;
      }
      const match = present.findIndex(same);
      if (match >= 0) {
        present.splice(match, 1); // one existing index stands for one recorded index
        this.logger.info({ collection, kind: ix.kind, field: ix.field }, 'index already present (a resumed restore): not built again');
        continue;
      }
      const t0 = performance.now();
      await this.run(`build index on ${collection}.${ix.field}`, () => this.driver.query(sql));
      const ms = Math.round(performance.now() - t0);
      this.logger.info({ collection, kind: ix.kind, field: ix.field, ms }, 'index built');
      report.built.push({ kind: ix.kind, field: ix.field, ms });
    }
    return report;
  }

  /** Refuses, before anything is written, a target with a NOT NULL column the snapshot cannot fill. */
  async preflightAppend(collection: string, schema: CollectionSchema): Promise<void> {
    const required = await this.run(`check ${collection}`, async () => {
      const oid = await findTableOid(this.driver, ...this.ref(collection));
      if (oid === undefined) throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${this.display(collection)} does not exist.`, { plugin: PLUGIN });
      return requiredColumnsOutside(this.driver, oid, new Set([...schema.vectors.map((v) => v.name), ...schema.payload.map((p) => p.name)]));
    });
    const [column] = required;
    if (column === undefined) return;
    throw new InvalidInputError('SCHEMA_MISMATCH', `Cannot restore into the existing ${this.display(collection)}: column ${JSON.stringify(column)} is NOT NULL without a default, and the snapshot has no such field. Nothing was written. Give the column a default (ALTER TABLE ... ALTER COLUMN ... SET DEFAULT ...) or drop NOT NULL, or restore with ifExists: 'replace' or into a new target.`, {
      plugin: PLUGIN,
      details: { target: collection, columns: required },
    });
  }

  /**
   * One transaction: INSERT ... SELECT ... ON CONFLICT DO UPDATE from the staging table into the
   * target, then DROP the staging table. A row the target refuses (a CHECK, unique or foreign key
   * constraint, a trigger) rolls it all back: the target is left exactly as it was.
   */
  async merge(source: string, target: string): Promise<void> {
    try {
      await this.transaction(`merge into ${target}`, async (s) => {
        const from = await describeTable(s, ...this.ref(source), source);
        const into = await describeTable(s, ...this.ref(target), target);
        const fields = [...from.vectors.map((v) => v.name), ...from.payload.map((p) => p.col.name)].map(quoteIdent);
        const sets = fields.map((n) => `${n} = EXCLUDED.${n}`);
        await s.query(
          `INSERT INTO ${this.table(target)} (${[quoteIdent(into.pk.name), ...fields].join(', ')}) SELECT ${[quoteIdent(from.pk.name), ...fields].join(', ')} FROM ${this.table(source)}
            ON CONFLICT (${quoteIdent(into.pk.name)}) DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`,
        );
        await s.query(`DROP TABLE ${this.table(source)}`);
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
      const what = constraint ? `constraint ${quoteIdent(constraint)}` : column ? `column ${quoteIdent(column)}` : 'a constraint or column type';
      throw new InvalidInputError('SCHEMA_MISMATCH', `${this.display(target)} refused the snapshot's rows (SQLSTATE ${sqlstate}, ${what}); the restore into it was rolled back, nothing was written to it. Restore with ifExists: 'replace' or into a new target, or change the table so that it accepts these rows.`, {
        plugin: PLUGIN,
        cause: err,
        details: { target, sqlstate, ...(constraint ? { constraint } : {}), ...(column ? { column } : {}) },
      });
    }
  }

  async write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    if (batch.length === 0 && options.marker === undefined) return;
    await this.transaction(`write ${collection}`, async (s) => {
      const info = await this.describeForWrite(s, collection);
      validateBatchVectors(batch, info.schema.vectors.filter((v) => v.name in batch.vectors), PLUGIN);
      const fields = this.writableFields(info, batch);
      const copyable =
        this.useCopy &&
        s.copyIn !== undefined &&
        [info.pk, ...fields.payload.map((p) => p.col)].every((c) => binaryEncoder(c.typname) !== undefined) &&
        // Arrays held as their text form ('[0:2]={1,2,3}') are cast by the server, on the INSERT path.
        !fields.payload.some((p) => batch.payloads.some((row) => isArrayLiteral(own(row, p.field.name), p.col, p.field)));
      if (batch.length > 0) {
        if (copyable) await this.writeCopy(s, info, fields, batch, options.mode);
        else await this.writeInsert(s, info, fields, batch, options.mode);
      }
      if (options.marker !== undefined) await this.setMarker(s, info.oid, info.schema.name, options.marker);
    });
  }

  /**
   * The table's shape for write(), cached per table: a restore writes hundreds of batches into one
   * table, and describing it costs five catalog queries. The cache is keyed by the table's oid, so a
   * table dropped and recreated under the same name is described again.
   */
  private async describeForWrite(s: PgSession, collection: string): Promise<TableInfo> {
    const oid = await findTableOid(s, ...this.ref(collection));
    const cached = this.writeInfo.get(collection);
    if (cached && cached.oid === oid) return cached;
    const info = await describeTable(s, ...this.ref(collection), collection);
    this.writeInfo.set(collection, info);
    return info;
  }

  /** Target columns for the batch's fields; a payload field the table lacks is an error, never dropped. */
  private writableFields(info: TableInfo, batch: RecordBatch): { vectors: TableInfo['vectors']; payload: TableInfo['payload'] } {
    const vectors = info.vectors.filter((v) => v.name in batch.vectors);
    const missing = Object.keys(batch.vectors).filter((n) => !info.vectors.some((v) => v.name === n));
    if (missing.length > 0) throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${info.schema.name} has no vector column ${missing.join(', ')}.`, { plugin: PLUGIN });
    const keys = new Set<string>();
    for (const p of batch.payloads) for (const k of Object.keys(p)) keys.add(k);
    const unknown = [...keys].filter((k) => !info.payload.some((p) => p.field.name === k));
    if (unknown.length > 0) {
      throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${info.schema.name} has no column for payload field(s) ${unknown.join(', ')}; add them or restore into a new table. Nothing was written.`, { plugin: PLUGIN });
    }
    return { vectors, payload: info.payload };
  }

  private conflictClause(info: TableInfo, fields: { vectors: TableInfo['vectors']; payload: TableInfo['payload'] }, mode: WriteOptions['mode']): string {
    if (mode === 'insert') return '';
    const sets = [...fields.vectors.map((v) => v.name), ...fields.payload.map((p) => p.col.name)].map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`);
    return ` ON CONFLICT (${quoteIdent(info.pk.name)}) DO ${sets.length ? `UPDATE SET ${sets.join(', ')}` : 'NOTHING'}`;
  }

  private columnList(info: TableInfo, fields: { vectors: TableInfo['vectors']; payload: TableInfo['payload'] }): string {
    return [info.pk.name, ...fields.vectors.map((v) => v.name), ...fields.payload.map((p) => p.col.name)].map(quoteIdent).join(', ');
  }

  private async writeCopy(s: PgSession, info: TableInfo, fields: { vectors: TableInfo['vectors']; payload: TableInfo['payload'] }, batch: RecordBatch, mode: WriteOptions['mode']): Promise<void> {
    const sink = new ByteSink();
    copyHeader(sink);
    const nFields = 1 + fields.vectors.length + fields.payload.length;
    const idEnc = binaryEncoder(info.pk.typname) as (t: string) => Uint8Array;
    const encs = fields.payload.map((p) => binaryEncoder(p.col.typname) as (t: string) => Uint8Array);
    const cols = fields.vectors.map((v) => batch.vectors[v.name] as VectorColumn);
    for (let i = 0; i < batch.length; i++) {
      sink.int16(nFields);
      sink.field(idEnc(String(batch.ids[i])));
      for (const col of cols) {
        if (col.valid && col.valid[i] === 0) sink.int32(-1);
        else sink.vector(col.data, i * col.dims, col.dims);
      }
      const payload = batch.payloads[i] ?? {};
      fields.payload.forEach((p, k) => {
        const t = toText(own(payload, p.field.name), p.col, p.field);
        sink.field(t === null ? null : (encs[k] as (t: string) => Uint8Array)(t));
      });
    }
    sink.int16(-1);
    const columns = this.columnList(info, fields);
    const copyIn = s.copyIn as NonNullable<PgSession['copyIn']>;
    if (mode === 'insert') {
      await copyIn(`COPY ${this.table(info.schema.name)} (${columns}) FROM STDIN (FORMAT binary)`, sink.finish());
      return;
    }
    const tmp = quoteIdent(`vectordr_stage_${process.pid}`);
    await s.query(`CREATE TEMP TABLE ${tmp} (LIKE ${this.table(info.schema.name)} INCLUDING DEFAULTS) ON COMMIT DROP`);
    await copyIn(`COPY ${tmp} (${columns}) FROM STDIN (FORMAT binary)`, sink.finish());
    await s.query(`INSERT INTO ${this.table(info.schema.name)} (${columns}) SELECT ${columns} FROM ${tmp}${this.conflictClause(info, fields, mode)}`);
  }

  private async writeInsert(s: PgSession, info: TableInfo, fields: { vectors: TableInfo['vectors']; payload: TableInfo['payload'] }, batch: RecordBatch, mode: WriteOptions['mode']): Promise<void> {
    const all: { nativeType: string; field: Pick<PayloadField, 'type' | 'array'> }[] = [
      { nativeType: info.pk.formatted, field: { type: 'string', array: false } },
      ...fields.vectors.map((v) => ({ nativeType: v.formatted, field: { type: 'string' as const, array: false } })),
      ...fields.payload.map((p) => ({ nativeType: p.col.formatted, field: p.field })),
    ];
    const casts = all.map((c, k) => castExpr(`u.c${k}`, checkNativeType(c.nativeType), c.field));
    const sql = `INSERT INTO ${this.table(info.schema.name)} (${this.columnList(info, fields)})
      SELECT ${casts.join(', ')} FROM unnest(${all.map((_, k) => `$${k + 1}::text[]`).join(', ')}) AS u(${all.map((_, k) => `c${k}`).join(', ')})${this.conflictClause(info, fields, mode)}`;
    for (let start = 0; start < batch.length; start += this.insertBatchRows) {
      const end = Math.min(batch.length, start + this.insertBatchRows);
      const params: (string | null)[][] = all.map(() => []);
      for (let i = start; i < end; i++) {
        (params[0] as (string | null)[]).push(String(batch.ids[i]));
        fields.vectors.forEach((v, k) => {
          const col = batch.vectors[v.name] as VectorColumn;
          (params[1 + k] as (string | null)[]).push(col.valid && col.valid[i] === 0 ? null : vectorLiteral(col.data.subarray(i * col.dims, (i + 1) * col.dims)));
        });
        const payload = batch.payloads[i] ?? {};
        fields.payload.forEach((p, k) => {
          (params[1 + fields.vectors.length + k] as (string | null)[]).push(toText(own(payload, p.field.name), p.col, p.field));
        });
      }
      await s.query(sql, params);
    }
  }

  private async setMarker(q: PgQueryable, oid: string, table: string, marker: string | undefined): Promise<void> {
    const current = (await q.query(`SELECT obj_description($1::oid, 'pg_class') AS c`, [oid])).rows[0]?.c;
    const user = typeof current === 'string' ? current.replace(MARKER_LINE, '') : '';
    const next = marker === undefined ? user : user ? `${user}\n${marker}` : marker;
    await q.query(`COMMENT ON TABLE ${this.table(table)} IS ${next ? quoteLiteral(next) : 'NULL'}`);
  }

  async readMarker(collection: string): Promise<string | undefined> {
    return this.run(`read marker of ${collection}`, async () => {
      const oid = await findTableOid(this.driver, ...this.ref(collection));
      if (!oid) return undefined;
      const c = (await this.driver.query(`SELECT obj_description($1::oid, 'pg_class') AS c`, [oid])).rows[0]?.c;
      const m = typeof c === 'string' ? MARKER_LINE.exec(c) : null;
      return m ? m[0].replace(/^\n/, '') : undefined;
    });
  }

  async writeMarker(collection: string, marker: string | undefined): Promise<void> {
    await this.transaction(`write marker of ${collection}`, async (s) => {
      const oid = await findTableOid(s, ...this.ref(collection));
      if (!oid) throw new NotFoundError('COLLECTION_NOT_FOUND', `Table ${this.display(collection)} does not exist.`, { plugin: PLUGIN });
      await this.setMarker(s, oid, collection, marker);
    });
  }

  async swap(source: string, target: string, options: { replace: boolean }): Promise<void> {
    await this.transaction(`swap ${source} into ${target}`, async (s) => {
      const [sourceSchema, sourceTable] = this.ref(source);
      const [targetSchema, targetTable] = this.ref(target);
      if (options.replace) await s.query(`DROP TABLE IF EXISTS ${this.table(target)}`);
      if (sourceSchema !== targetSchema) await s.query(`ALTER TABLE ${this.table(source)} SET SCHEMA ${quoteIdent(targetSchema)}`);
      await s.query(`ALTER TABLE ${qualified(targetSchema, sourceTable)} RENAME TO ${quoteIdent(targetTable)}`);
      // Indexes (and the primary key constraint with its index) were named after the staging table.
      const oid = await findTableOid(s, ...this.ref(target));
      const idx = await s.query(
        `SELECT ic.relname AS name FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::oid ORDER BY 1`,
        [oid],
      );
      for (const row of idx.rows) {
        const name = String(row.name);
        if (!name.startsWith(sourceTable)) continue;
        const renamed = targetTable + name.slice(sourceTable.length);
        if (Buffer.byteLength(renamed, 'utf8') > 63) continue;
        const taken = await s.query(`SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [targetSchema, renamed]);
        if (taken.rows.length === 0) await s.query(`ALTER INDEX ${qualified(targetSchema, name)} RENAME TO ${quoteIdent(renamed)}`);
      }
    });
  }

  async drop(collection: string): Promise<void> {
    await this.run(`drop ${collection}`, () => this.driver.query(`DROP TABLE IF EXISTS ${this.table(collection)}`));
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    await this.run(`delete from ${collection}`, async () => {
      const info = await describeTable(this.driver, ...this.ref(collection), collection);
      await this.driver.query(`DELETE FROM ${this.table(collection)} WHERE ${quoteIdent(info.pk.name)} = ANY($1::text[]::${checkNativeType(info.pk.formatted)}[])`, [ids.map(String)]);
    });
  }

  count(collection: string): Promise<number> {
    return this.run(`count ${collection}`, async () => Number((await this.driver.query(`SELECT count(*)::text AS n FROM ${this.table(collection)}`)).rows[0]?.n ?? 0));
  }

  fetch(collection: string, ids: Id[]): Promise<VectorRecord[]> {
    return this.run(`fetch from ${collection}`, async () => {
      const info = await describeTable(this.driver, ...this.ref(collection), collection);
      if (ids.length === 0) return [];
      const r = await this.driver.query(
        `SELECT ${this.selectList(info, true)} FROM ${this.table(collection)} WHERE ${quoteIdent(info.pk.name)} = ANY($1::text[]::${checkNativeType(info.pk.formatted)}[]) ORDER BY 1`,
        [ids.map(String)],
      );
      const builder = new BatchBuilder(info, Math.max(1, r.rows.length));
      for (const row of r.rows) builder.add(Object.values(row) as RawField[]);
      const batch = builder.take();
      return Array.from({ length: batch.length }, (_, i) => recordAt(batch, i));
    });
  }

  async search(collection: string, vector: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    if (!Number.isInteger(k) || k < 1) throw new InvalidInputError('INVALID_OPTIONS', `k must be a positive integer, got ${k}.`, { plugin: PLUGIN });
    return this.transaction(`search ${collection}`, async (s) => {
      const info = await describeTable(s, ...this.ref(collection), collection);
      const field = options.vector === undefined ? info.schema.vectors[0] : info.schema.vectors.find((v) => v.name === options.vector);
      if (!field) throw new InvalidInputError('SCHEMA_MISMATCH', `Table ${collection} has no vector column ${String(options.vector)}.`, { plugin: PLUGIN });
      validateBatchVectors({ length: 1, ids: ['q'], vectors: { [field.name]: { dims: vector.length, data: vector } }, payloads: [{}] }, [field], PLUGIN);
      if (options.exact) {
        await s.query('SET LOCAL enable_indexscan = off');
        await s.query('SET LOCAL enable_bitmapscan = off');
      } else if (options.effort !== undefined) {
        // Integers only (validated), so they can be part of the statement: SET takes no parameters.
        const effort = Math.max(1, Math.trunc(options.effort));
        await s.query(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(effort, k))}`);
        const ivf = info.schema.indexes.find((i) => i.field === field.name && i.kind === 'ivfflat');
        if (ivf) await s.query(`SET LOCAL ivfflat.probes = ${probesForEffort(effort, Number(ivf.params.lists ?? 100))}`);
      }
      const op = DISTANCE_OP[field.metric] ?? '<->';
      const r = await s.query(
        `SELECT ${quoteIdent(info.pk.name)}::text AS id, (${quoteIdent(field.name)} ${op} $1::vector)::float8 AS d FROM ${this.table(collection)}
          WHERE ${quoteIdent(field.name)} IS NOT NULL ORDER BY ${quoteIdent(field.name)} ${op} $1::vector LIMIT ${k}`,
        [vectorLiteral(vector)],
      );
      return r.rows.map((row) => ({ id: info.schema.idType === 'int64' ? BigInt(String(row.id)) : String(row.id), score: Number(row.d) }));
    });
  }

  async probe(): Promise<ProbeResult> {
    const t0 = performance.now();
    try {
      const r = await this.driver.query(
        `SELECT pg_is_in_recovery()::text AS standby, COALESCE((EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::int8, 0)::text AS lag,
                current_setting('server_version') AS version`,
      );
      const row = r.rows[0] ?? {};
      const standby = row.standby === 'true';
      const result: ProbeResult = { reachable: true, role: standby ? 'standby' : 'primary', latencyMs: performance.now() - t0, engineVersion: String(row.version) };
      if (standby) result.lagMs = Number(row.lag);
      return result;
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: mapError(err, 'probe').message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; extensionVersion?: string; endpoint: string }> {
    return this.run('describe endpoint', async () => {
      const r = await this.driver.query(
        `SELECT current_setting('server_version') AS v, (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector') AS ev,
                current_database() AS db, COALESCE(host(inet_server_addr()), 'local') AS host, COALESCE(inet_server_port()::text, '') AS port`,
      );
      const row = r.rows[0] ?? {};
      const endpoint = this.endpointLabel ?? (this.driver.kind === 'pglite' ? `pglite/${String(row.db)}` : `${String(row.host)}:${String(row.port)}/${String(row.db)}`);
      const out: { engineVersion: string; extensionVersion?: string; endpoint: string } = { engineVersion: String(row.v), endpoint };
      if (row.ev != null) out.extensionVersion = String(row.ev);
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

