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
 * Dense vectors go straight from the batch's typed arrays into one array per request, never a
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
import type { AnyVectorColumn } from '../../src/model.js';
import type { MilvusStatus } from './milvus-errors.js';
import { quietCall } from './milvus-rpc.js';
import { denseColumnToMilvus } from './milvus-vectors.js';
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

/** An InsertRequest / UpsertRequest as the SDK's proto serializer takes it. */
export interface MutationRequest {
  collection_name: string;
  num_rows: number;
  fields_data: Record<string, unknown>[];
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
  for (const field of meta ? [...columns.values(), meta] : columns.values()) {
    fields_data.push(fieldData(field, rows.length, offset, vectors, collection));
  }
  return { collection_name: collection, num_rows: rows.length, fields_data };
}

/** One column of the request, in the form the SDK's `_insert` gives it (`buildColumnData`). */
function fieldData(
  field: ColumnField,
  n: number,
  offset: number,
  vectors: Readonly<Record<string, AnyVectorColumn>>,
  collection: string,
): Record<string, unknown> {
  const isVector = VECTOR_TYPES.has(field.type);
  const dataKey = getDataKey(field.type);
  let keyValue: Record<string, unknown>;
  if (field.type === DataType.SparseFloatVector) {
    const rows = field.data.filter((v) => v !== undefined && v !== null);
    const dim = field.dim || getSparseDim(rows as never);
    keyValue = { dim, [dataKey]: { dim, contents: sparseRowsToBytes(rows as never) } };
  } else if (isVector) {
    const column = vectors[field.name];
    if (!column) throw noField(field.name, collection);
    keyValue = denseColumnToMilvus(column, offset, offset + n, field.name);
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
export async function sendMutation(client: MilvusClient, method: 'Insert' | 'Upsert', request: MutationRequest): Promise<MutationResult> {
  // Timeout 0: no deadline of the call's own, as the SDK's insert without `timeout`.
  return quietCall<MutationResult>(client, method, request, 0);
}
