/**
 * Insert and upsert requests built column by column, sent through the SDK's own channel pool.
 *
 * The SDK's `insert` takes rows and turns them into columns itself. When a collection has a dynamic
 * field it first deep-copies every row through `JSON.parse(JSON.stringify(row))`, vector included.
 * Its retry interceptor then `JSON.stringify`s every whole request it sends, for a debug line it
 * cuts to 4096 characters. On Milvus 2.3.5 those two took more client CPU than everything else in a
 * restore (docs/benchmarks.md, Milvus), and their garbage held the restore's RSS near 600 MB. This
 * module builds the request the SDK's `insert` builds (`grpc/Data.js`, `_insert`), field by field
 * and with the SDK's own value helpers (`buildFieldData`, `getValidDataArray`, `sparseRowsToBytes`).
 * Dense vectors are encoded straight from the batch's typed arrays into the request's bytes, never a
 * `number[]` per row. It is sent by `quietCall` (milvus-rpc.ts), on the SDK's own pooled clients.
 */
import {
  DEFAULT_DYNAMIC_FIELD,
  DataType,
  type MilvusClient,
  buildFieldData,
  convertToDataType,
  getDataKey,
  getSparseDim,
  getValidDataArray,
  sparseRowsToBytes,
} from '@zilliz/milvus2-sdk-node';
import { InvalidInputError } from '../../src/errors.js';
import { ProtobufWriter, WIRE_VARINT, lenFieldSize, varintSize } from '../../src/wire/protobuf-writer.js';
import type { AnyVectorColumn } from '../../src/model.js';
import type { MilvusStatus } from './milvus-errors.js';
import { quietCall } from './milvus-rpc.js';
import { VECTOR_FIELD_NUMBER, denseColumnValues } from './milvus-vectors.js';
import { DYNAMIC_FIELD, type MilvusFieldInfo, PLUGIN } from './milvus-types.js';

/** What a request is built from: the collection's fields, whether it has a dynamic field. */
export interface ColumnTarget {
  fields: readonly MilvusFieldInfo[];
  dynamic: boolean;
}

/** A field as the SDK's insert sees it (`grpc/Data.js`: the `fieldMap` entries), with this request's values. */
interface ColumnField {
  name: string;
  type: DataType;
  elementType: DataType;
  dim: number;
  nullable: boolean | undefined;
  default_value: unknown;
  fieldMap: Map<string, unknown>;
  data: unknown[];
}

/**
 * An InsertRequest / UpsertRequest: what the SDK's proto serializer encodes, and the dense vector
 * fields already encoded (`tail`: `fields_data` entries, appended to the serializer's bytes).
 */
export interface MutationRequest {
  request: { collection_name: string; num_rows: number; fields_data: Record<string, unknown>[] };
  tail: Buffer;
}

/** The answer to an insert or upsert. */
export interface MutationResult {
  status?: MilvusStatus;
  insert_cnt?: string | number;
  upsert_cnt?: string | number;
}

const VECTOR_TYPES = new Set<DataType>([
  DataType.FloatVector,
  DataType.Float16Vector,
  DataType.BFloat16Vector,
  DataType.BinaryVector,
  DataType.SparseFloatVector,
  DataType.Int8Vector,
]);

/**
 * The request for `rows` (rows `offset ..` of `batch`; a row holds every value but its dense
 * vectors, which come from the batch's columns). Upserts include an autoID key, as the SDK does.
 */
export function mutationRequest(
  collection: string,
  target: ColumnTarget,
  rows: readonly Record<string, unknown>[],
  offset: number,
  vectors: Readonly<Record<string, AnyVectorColumn>>,
  upsert: boolean,
): MutationRequest {
  const columns = new Map<string, ColumnField>();
  for (const f of target.fields) {
    if (f.is_dynamic || f.name === DYNAMIC_FIELD || (f.autoID && !upsert)) continue;
    columns.set(f.name, {
      name: f.name,
      type: convertToDataType(f.data_type as keyof typeof DataType),
      elementType: convertToDataType((f.element_type ?? 'None') as keyof typeof DataType),
      dim: Number(f.dim),
      nullable: f.nullable,
      default_value: f.default_value,
      fieldMap: new Map<string, unknown>(),
      data: [],
    });
  }
  const meta: ColumnField | undefined = target.dynamic
    ? {
        name: DEFAULT_DYNAMIC_FIELD,
        type: DataType.JSON,
        elementType: DataType.None,
        dim: Number.NaN,
        nullable: false,
        default_value: undefined,
        fieldMap: new Map<string, unknown>(),
        data: [],
      }
    : undefined;
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k] as Record<string, unknown>;
    const dynamic: Record<string, unknown> = {};
    for (const key of Object.keys(row)) {
      const field = columns.get(key);
      if (field) field.data[k] = buildFieldData(row as never, field as never, undefined, k);
      else if (meta) dynamic[key] = row[key];
      else throw noField(key, collection);
    }
    if (meta) meta.data[k] = Buffer.from(JSON.stringify(dynamic));
  }
  const fields_data: Record<string, unknown>[] = [];
  const encoded: Uint8Array[] = [];
  for (const field of meta ? [...columns.values(), meta] : columns.values()) {
    if (DENSE_TYPES.has(field.type)) {
      const column = vectors[field.name];
      if (!column) throw noField(field.name, collection);
      encoded.push(denseFieldData(field, column, offset, rows.length));
    } else fields_data.push(fieldData(field, rows.length));
  }
  return { request: { collection_name: collection, num_rows: rows.length, fields_data }, tail: Buffer.concat(encoded) };
}

/** Dense vector types, encoded here (`denseFieldData`) rather than by the proto serializer. */
const DENSE_TYPES = new Set<DataType>([DataType.FloatVector, DataType.Float16Vector, DataType.BinaryVector]);

// Field numbers of schema.proto and milvus.proto (SDK 3.0, Milvus 2.3-2.6).
const INSERT_FIELDS_DATA = 5; // InsertRequest and UpsertRequest: repeated schema.FieldData fields_data = 5
const FIELD_TYPE = 1; // FieldData: DataType type = 1
const FIELD_NAME = 2; // FieldData: string field_name = 2
const FIELD_VECTORS = 4; // FieldData: VectorField vectors = 4
const FIELD_VALID_DATA = 7; // FieldData: repeated bool valid_data = 7 (packed)
const VECTOR_DIM = 1; // VectorField: int64 dim = 1
const FLOAT_ARRAY_DATA = 1; // FloatArray: repeated float data = 1 (packed)

/**
 * One `fields_data` entry of a dense vector field, as the request's bytes carry it, written with the
 * project's protobuf writer (src/wire/protobuf-writer.ts, as the Qdrant and Weaviate codecs): the
 * values go into the message as whole buffers, with no JavaScript number (nor protobuf.js writer
 * operation) per value. The same message the SDK's serializer writes for the same rows
 * (test/unit/milvus-insert.test.ts decodes it with the SDK's own deserializer).
 */
function denseFieldData(field: ColumnField, column: AnyVectorColumn, offset: number, n: number): Uint8Array {
  const dense = denseColumnValues(column, offset, offset + n, field.name);
  // float32 values sit in a FloatArray message; binary and float16 bytes are VectorField fields themselves.
  const values =
    dense.key === 'float_vector'
      ? lenFieldSize(VECTOR_FIELD_NUMBER.float_vector, lenFieldSize(FLOAT_ARRAY_DATA, dense.values.byteLength))
      : lenFieldSize(VECTOR_FIELD_NUMBER[dense.key], dense.values.byteLength);
  const vectorField = varintSize(VECTOR_DIM * 8) + varintSize(dense.dim) + values;
  const nameBytes = Buffer.byteLength(field.name, 'utf8');
  // A nullable vector field (Milvus 2.6) carries valid_data, as the SDK sends it: every row valid.
  const nullable = field.nullable === true;
  const fieldData =
    varintSize(FIELD_TYPE * 8) +
    varintSize(field.type) +
    lenFieldSize(FIELD_NAME, nameBytes) +
    lenFieldSize(FIELD_VECTORS, vectorField) +
    (nullable ? lenFieldSize(FIELD_VALID_DATA, n) : 0);
  const w = new ProtobufWriter(lenFieldSize(INSERT_FIELDS_DATA, fieldData));
  w.lenHeader(INSERT_FIELDS_DATA, fieldData).tag(FIELD_TYPE, WIRE_VARINT).varint(field.type).string(FIELD_NAME, field.name);
  w.lenHeader(FIELD_VECTORS, vectorField).tag(VECTOR_DIM, WIRE_VARINT).varint(dense.dim);
  if (dense.key === 'float_vector') {
    w.lenHeader(VECTOR_FIELD_NUMBER.float_vector, lenFieldSize(FLOAT_ARRAY_DATA, dense.values.byteLength));
    w.packedFloats(FLOAT_ARRAY_DATA, dense.values);
  } else w.bytes(VECTOR_FIELD_NUMBER[dense.key], dense.values);
  if (nullable) w.bytes(FIELD_VALID_DATA, new Uint8Array(n).fill(1));
  return w.finish();
}

/** One scalar or sparse column of the request, in the form the SDK's `_insert` gives it (`buildColumnData`). */
function fieldData(field: ColumnField, n: number): Record<string, unknown> {
  const isVector = VECTOR_TYPES.has(field.type);
  const dataKey = getDataKey(field.type);
  let keyValue: Record<string, unknown>;
  if (field.type === DataType.SparseFloatVector) {
    const rows = field.data.filter((v) => v !== undefined && v !== null);
    const dim = field.dim || getSparseDim(rows as never);
    keyValue = { dim, [dataKey]: { dim, contents: sparseRowsToBytes(rows as never) } };
  } else if (isVector) {
    throw new Error(`vector type ${String(field.type)} of ${JSON.stringify(field.name)} is encoded as a dense column or refused before`);
  } else if (field.type === DataType.Array) {
    const elementTypeKey = getDataKey(field.elementType);
    keyValue = {
      [dataKey]: {
        data: field.data.filter((v) => v !== undefined).map((d) => ({ [elementTypeKey]: { type: field.elementType, data: d } })),
        element_type: field.elementType,
      },
    };
  } else {
    keyValue = { [dataKey]: { data: field.data.filter((v) => v !== undefined) } };
  }
  // Nullable fields always carry valid_data; so do scalar fields with a server default.
  const needValidData = field.nullable === true || (!isVector && field.default_value !== undefined && field.default_value !== null);
  return {
    type: field.type,
    field_name: field.name,
    is_dynamic: field.name === DEFAULT_DYNAMIC_FIELD,
    [isVector ? 'vectors' : 'scalars']: keyValue,
    valid_data: needValidData ? getValidDataArray(field.data as never, n) : [],
  };
}

function noField(name: string, collection: string): InvalidInputError {
  return new InvalidInputError(
    'SCHEMA_MISMATCH',
    `Field ${JSON.stringify(name)} has no column in Milvus collection ${JSON.stringify(collection)} (and the ` +
      `collection has no dynamic field). Nothing of this batch was written.`,
    { plugin: PLUGIN, details: { collection, field: name } },
  );
}

/** Sends an insert or upsert through the client's channel pool (milvus-rpc.ts: without the interceptor's JSON of it). */
export async function sendMutation(client: MilvusClient, method: 'Insert' | 'Upsert', mutation: MutationRequest): Promise<MutationResult> {
  // Timeout 0: no deadline of the call's own, as the SDK's insert without `timeout`.
  return quietCall<MutationResult>(client, method, mutation.request, 0, mutation.tail);
}
