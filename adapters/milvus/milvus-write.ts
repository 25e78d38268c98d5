/**
 * Writing into a Milvus collection: batches -> rows (checked against the collection's fields before
 * anything is sent), byte-budgeted insert/upsert requests, deletes, and the append preflight.
 */
import type { WriteOptions } from '../../src/adapter.js';
import { chunksByBytes, forEachLimit } from '../../src/async.js';
import { InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import { type CollectionSchema, type Id, type PayloadField, type PayloadValue, type RecordBatch } from '../../src/model.js';
import { idAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { MilvusContext } from './milvus-client.js';
import { describeRaw, idFilter, isLoaded } from './milvus-describe.js';
import { milvusCall } from './milvus-errors.js';
import { type MutationRequest, mutationRequest, sendMutation } from './milvus-insert.js';
import { checkColumnRow, vectorShapeFromMilvus } from './milvus-vectors.js';
import type { MilvusServerInfo } from './milvus-version.js';
import {
  DYNAMIC_FIELD,
  type MilvusFieldInfo,
  PLUGIN,
  TYPES_PROPERTY,
  type TypeHints,
  parseObject,
  toDynamicValue,
} from './milvus-types.js';

const INT64_MAX = '9223372036854775807';

/** What `write` needs of a collection: its fields and the payload fields kept as dynamic keys. */
interface WriteTarget {
  fields: MilvusFieldInfo[];
  /** The collection has a dynamic field (`$meta`). */
  dynamic: boolean;
  dynamicKeys: Map<string, { type: PayloadField['type']; array: boolean }>;
  /** Declared dims of sparse fields (`vectordr.types`). */
  sparseDims: Record<string, number>;
}

/** What turning one record into a Milvus row needs to know of the write. */
interface RowContext {
  collection: string;
  server: MilvusServerInfo;
  target: WriteTarget;
  pk: MilvusFieldInfo;
  columns: Map<string, MilvusFieldInfo>;
}

/** Writes, deletes and the append preflight; remembers the fields of the collections it writes to. */
export class MilvusWriter {
  /** Fields of a collection, described once per adapter (a restore writes many batches); dropped with the collection. */
  private readonly targets = new Map<string, WriteTarget>();

  constructor(private readonly ctx: MilvusContext) {}

  /** Forgets what it knows of `collection` (it is being created or dropped). */
  forget(collection: string): void {
    this.targets.delete(collection);
  }

  private async targetOf(collection: string): Promise<WriteTarget> {
    let target = this.targets.get(collection);
    if (!target) {
      await this.ctx.server();
      const { fields, dynamic, properties } = await describeRaw(this.ctx.client, collection);
      const hints = parseObject(properties[TYPES_PROPERTY]) as TypeHints;
      target = { fields, dynamic, dynamicKeys: new Map(Object.entries(hints.dynamic ?? {})), sparseDims: hints.sparseDims ?? {} };
      this.targets.set(collection, target);
    }
    return target;
  }

  async write(collection: string, batch: RecordBatch, options: WriteOptions): Promise<void> {
    throwIfAborted(options.signal);
    const target = await this.targetOf(collection);
    const server = await this.ctx.server();
    const { fields } = target;
    const schemaLike = fields.flatMap((f) => {
      const shape = vectorShapeFromMilvus(f, collection);
      // A sparse column may lack the dims its field declares (they are checked per index when written).
      const dims = shape?.kind === 'sparse' ? batch.vectors[f.name]?.dims : shape?.dims;
      return shape ? [{ name: f.name, kind: shape.kind, element: shape.element, dims, nullable: false }] : [];
    });
    validateBatchVectors(batch, schemaLike, PLUGIN);
    const unknown = Object.keys(batch.vectors).find((name) => !schemaLike.some((f) => f.name === name));
    if (unknown !== undefined) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Vector ${JSON.stringify(unknown)} has no vector field in Milvus collection ${JSON.stringify(collection)}. ` +
          `Nothing of this batch was written.`,
        { plugin: PLUGIN, details: { collection, field: unknown } },
      );
    }
    if (!server.float16WhileLoaded && schemaLike.some((f) => f.element === 'float16') && (await isLoaded(this.ctx.client, collection))) {
      throw new UnsupportedOperationError(
        `Milvus collection ${JSON.stringify(collection)} has a float16 field and is loaded; Milvus ${server.version} ` +
          `stops (its query node panics: "unsupported data type: Float16Vector") when a loaded collection takes ` +
          `float16 rows. Nothing was written. Release the collection first, or restore into a new collection ` +
          `(vectordr loads it after the rows are in and flushed).`,
        { plugin: PLUGIN, details: { collection, version: server.version } },
      );
    }
    const pk = fields.find((f) => f.is_primary_key) as MilvusFieldInfo;
    if (pk.autoID && options.mode === 'insert') {
      throw new UnsupportedOperationError(
        `The primary key ${JSON.stringify(pk.name)} of Milvus collection ${JSON.stringify(collection)} is autoID: ` +
          `Milvus would give every restored row a new id. Nothing was written. Restore into a new collection ` +
          `(vectordr creates the key without autoID) or with ifExists: 'replace'.`,
        { plugin: PLUGIN, details: { collection, field: pk.name } },
      );
    }
    const rc: RowContext = { collection, server, target, pk, columns: new Map(fields.map((f) => [f.name, f])) };
    const rows: Record<string, unknown>[] = new Array<Record<string, unknown>>(batch.length);
    const sizes: number[] = new Array<number>(batch.length);
    for (let i = 0; i < batch.length; i++) [rows[i], sizes[i]] = toRow(batch, i, rc);
    const { client } = this.ctx;
    const upsert = options.mode !== 'insert';
    // Every row is checked above, before the first request is built: nothing of a refused batch is sent.
    const request = ({ offset, items }: { offset: number; items: Record<string, unknown>[] }): MutationRequest =>
      mutationRequest(collection, target, items, offset, batch.vectors, upsert);
    const parts = chunksByBytes(rows, sizes, this.ctx.options.writeBatchBytes);
    if (!upsert) {
      // Every request is answered before write() returns: the core writes the marker after it.
      const inFlight = server.serialWrites ? 1 : (this.ctx.options.writeConcurrency ?? 1);
      await forEachLimit(
        parts,
        inFlight,
        async (part) => {
          await milvusCall('insert', collection, () => sendMutation(client, 'Insert', request(part)));
        },
        options.signal,
      );
      return;
    }
    for (const part of parts) {
      throwIfAborted(options.signal);
      await milvusCall('upsert', collection, () => sendMutation(client, 'Upsert', request(part)));
    }
  }

  async delete(collection: string, ids: Id[]): Promise<void> {
    if (ids.length === 0) return;
    const { client } = this.ctx;
    const filter = await idFilter(client, collection, ids);
    await milvusCall('delete', collection, () => client.delete({ collection_name: collection, filter } as never));
  }

  /**
   * Refuses, before anything is written, a target with a scalar field that is neither nullable nor
   * defaulted and that the snapshot does not have: Milvus would refuse every insert without it.
   */
  async preflightAppend(collection: string, schema: CollectionSchema): Promise<void> {
    const { fields } = await describeRaw(this.ctx.client, collection);
    const fed = new Set([...schema.vectors.map((v) => v.name), ...schema.payload.map((p) => p.name)]);
    const required = fields
      .filter((f) => isScalarField(f) && !f.is_primary_key && !f.nullable && !hasDefault(f) && !fed.has(f.name))
      .map((f) => f.name);
    const [field] = required;
    if (field === undefined) return;
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Cannot restore into the existing Milvus collection ${JSON.stringify(collection)}: field ` +
        `${JSON.stringify(field)} is required (not nullable, no default), and the snapshot has no ` +
        `such field. Nothing was written. Restore into a new collection (target) or with ifExists: ` +
        `'replace'.`,
      { plugin: PLUGIN, details: { target: collection, fields: required } },
    );
  }
}

/** Row `i` of the batch as Milvus takes it, and its rough wire size; refuses what Milvus would refuse or misread. */
function toRow(batch: RecordBatch, i: number, rc: RowContext): [Record<string, unknown>, number] {
  const { collection, server, pk, columns } = rc;
  const { fields, dynamicKeys } = rc.target;
  const id = idAt(batch, i);
  const row: Record<string, unknown> = {};
  if (pk.data_type === 'Int64') {
    row[pk.name] = typeof id === 'bigint' ? id.toString() : String(id);
    if (!server.readsMaxInt64Key && row[pk.name] === INT64_MAX) {
      throw new UnsupportedOperationError(
        `Id ${INT64_MAX} (2^63-1) of ${JSON.stringify(collection)}: Milvus ${server.version} ` +
          `stores a row with this primary key, but no query returns it, so vectordr could never read ` +
          `it back (a snapshot would miss it). Nothing of this batch was written; restore into an ` +
          `engine that keeps this id (pgvector, or Qdrant and Weaviate through id mapping).`,
        { plugin: PLUGIN, details: { collection, id: INT64_MAX, version: server.version } },
      );
    }
  } else {
    const s = String(id);
    if (Buffer.byteLength(s, 'utf8') > Number(pk.max_length)) {
      throw new InvalidInputError(
        'VALUE_TOO_LONG',
        `Id ${JSON.stringify(s.slice(0, 40))}${s.length > 40 ? '…' : ''} is ` +
          `${Buffer.byteLength(s, 'utf8')} bytes; primary key ${JSON.stringify(pk.name)} of ` +
          `${JSON.stringify(collection)} holds at most ${String(pk.max_length)}. Nothing of this ` +
          `batch was written; restore into a new collection (created with a long enough key).`,
        { plugin: PLUGIN },
      );
    }
    row[pk.name] = s;
  }
  let rowBytes = 64;
  // Null vectors never get here: validateBatchVectors refuses them (Milvus vectors are not nullable).
  for (const [name, given] of Object.entries(batch.vectors)) {
    const [value, bytes] = checkColumnRow(given, i, name, String(id), rc.target.sparseDims[name]);
    if (value !== undefined) row[name] = value;
    rowBytes += bytes;
  }
  const payload = batch.payloads[i] ?? {};
  for (const [key, value] of Object.entries(payload)) {
    if (key === DYNAMIC_FIELD) {
      rowBytes += dynamicInto(row, value, columns, dynamicKeys, String(id), collection);
      continue;
    }
    const asKey = dynamicKeys.get(key);
    if (asKey) {
      if (value !== null) row[key] = toDynamicValue(value, asKey.type);
      rowBytes += valueBytes(value);
      continue;
    }
    const f = columns.get(key);
    if (!f) {
      const message = `Payload field ${JSON.stringify(key)} has no column in Milvus collection ${JSON.stringify(collection)}.`;
      throw new InvalidInputError('SCHEMA_MISMATCH', message, { plugin: PLUGIN });
    }
    row[key] = toMilvusValue(value, f, collection);
    rowBytes += valueBytes(value);
  }
  for (const f of fields) {
    if (row[f.name] !== undefined && row[f.name] !== null) continue;
    if (f.nullable) row[f.name] = null;
    else if (!f.is_dynamic && !f.data_type.endsWith('Vector') && !hasDefault(f)) {
      // The SDK would leave the value out and Milvus refuse the whole request with a row count.
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Row ${String(id)}: field ${JSON.stringify(f.name)} of Milvus collection ` +
          `${JSON.stringify(collection)} has no value, and the field cannot hold null (Milvus has ` +
          `nullable fields from 2.5 on, and only when created so). Nothing of this batch was ` +
          `written; restore into a new collection, which vectordr creates to hold nulls.`,
        { plugin: PLUGIN, details: { collection, field: f.name } },
      );
    }
  }
  return [row, rowBytes];
}

/** A field of its own that holds payload (not the dynamic field, not a vector). */
function isScalarField(f: MilvusFieldInfo): boolean {
  return !f.is_dynamic && f.name !== DYNAMIC_FIELD && !f.data_type.endsWith('Vector');
}

/** Rough wire size of a payload value, for the insert byte budget. */
function valueBytes(value: PayloadValue): number {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return 8;
  if (typeof value === 'string') return value.length * 2;
  return JSON.stringify(value).length * 2;
}

/** Spreads the `$meta` payload object into the row's dynamic keys; refuses what Milvus would misread. */
function dynamicInto(
  row: Record<string, unknown>,
  value: PayloadValue,
  columns: Map<string, MilvusFieldInfo>,
  dynamicKeys: ReadonlyMap<string, unknown>,
  id: string,
  collection: string,
): number {
  if (value === null) return 0;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Row ${id}: the dynamic field ${DYNAMIC_FIELD} must be a JSON object to restore into ` +
        `Milvus collection ${JSON.stringify(collection)}, got ` +
        `${Array.isArray(value) ? 'an array' : typeof value}. Nothing of this batch was written.`,
      { plugin: PLUGIN },
    );
  }
  for (const key of Object.keys(value)) {
    if (columns.has(key) || dynamicKeys.has(key)) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Row ${id}: dynamic key ${JSON.stringify(key)} has the name of a field of Milvus ` +
          `collection ${JSON.stringify(collection)}; it would overwrite that field. Nothing of this ` +
          `batch was written.`,
        { plugin: PLUGIN },
      );
    }
  }
  Object.assign(row, value);
  return valueBytes(value);
}

/** The field has a server-side default value (Milvus 2.4+), which Milvus fills in for a missing value. */
function hasDefault(f: MilvusFieldInfo): boolean {
  return (
    f.default_value != null && (typeof f.default_value !== 'object' || Object.values(f.default_value as object).some((v) => v != null))
  );
}

/** A neutral payload value as Milvus expects it for field `f`. */
function toMilvusValue(value: PayloadValue, f: MilvusFieldInfo, collection: string): unknown {
  if (value === null) return null;
  if (
    f.data_type === 'VarChar' &&
    typeof value === 'string' &&
    f.max_length !== undefined &&
    Buffer.byteLength(value, 'utf8') > Number(f.max_length)
  ) {
    throw new InvalidInputError(
      'VALUE_TOO_LONG',
      `A value of ${JSON.stringify(f.name)} is ${Buffer.byteLength(value, 'utf8')} bytes; the ` +
        `Milvus field of ${JSON.stringify(collection)} holds at most ${String(f.max_length)}. ` +
        `Nothing of this batch was written.`,
      { plugin: PLUGIN },
    );
  }
  // The neutral float -0 is the string "-0" (docs/format.md, payload values); Milvus floats hold -0.
  const float = (t: string | undefined): boolean => t === 'Float' || t === 'Double';
  const isFloat = float(f.data_type) || (f.data_type === 'Array' && float(f.element_type));
  if (isFloat) return Array.isArray(value) ? value.map((x) => (x === '-0' ? -0 : x)) : value === '-0' ? -0 : value;
  return value;
}
