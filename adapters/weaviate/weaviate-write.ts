/**
 * Writes: neutral records as Weaviate objects (ids as UUIDs, values converted, vectors by Weaviate
 * name), sent as batch imports of about `writeBatchBytes` with up to `writeConcurrency` in flight
 * across calls (weaviate-pending-writes.ts); and deletes by id.
 */
import type { WriteOptions } from '../../src/adapter.js';
import { chunksByBytes } from '../../src/async.js';
import { InvalidInputError, UnsupportedOperationError, throwIfAborted } from '../../src/errors.js';
import { idCollisionGuard, idToUuid, isUuid } from '../../src/id-mapping.js';
import { type AnyVectorColumn, type Id, type MultiVector, type RecordBatch, idAt, isFloat32Column, vectorAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { WeaviateCollectionLike } from './weaviate-client.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import type { Resolved } from './weaviate-describe.js';
import { grpcCall, refusedObjectsError } from './weaviate-errors.js';
import { type BatchObjectInput, decodeBatchReply, encodeBatchObjects } from './weaviate-grpc-batch.js';
import { LEGACY_VECTOR, ORIGINAL_ID_PROPERTY, PLUGIN, valueToWeaviate } from './weaviate-types.js';

export async function writeRecords(conn: WeaviateConnection, r: Resolved, batch: RecordBatch, options: WriteOptions): Promise<void> {
  const collection = r.schema.name;
  validateBatchVectors(batch, r.schema.vectors, PLUGIN);
  const { objects, sizes } = toObjects(r, batch);
  const col = await conn.collection(r.className);
  const parts = chunksByBytes(objects, sizes, conn.options.writeBatchBytes);
  // Up to writeConcurrency requests in flight, across write() calls: write() returns once its last
  // request is sent, so the next segment is encoded while Weaviate ingests this one; markers, reads
  // and deletes wait for the answers first (weaviate-pending-writes.ts). Weaviate's batch import is
  // an upsert by UUID: insert and upsert are the same call.
  const pending = conn.pending(r.className);
  for (const part of parts) {
    throwIfAborted(options.signal);
    await pending.add(
      part.items.map((o) => o.uuid),
      async () => {
        // No abort signal once sent: a request answered after an abort still lets the markers queued
        // behind it be written, so a rerun resumes from the latest stored prefix.
        const errors = await sendBatch(conn, r, col, part.items);
        if (errors.length === 0) return;
        const refused = errors.map(([k, e]) => ({ id: String(batch.ids[part.offset + Number(k)]), message: e.message }));
        throw refusedObjectsError(collection, refused, part.items.length);
      },
    );
  }
}

/** The batch as Weaviate objects, with a rough size of each (for request sizing). */
function toObjects(r: Resolved, batch: RecordBatch): { objects: BatchObjectInput[]; sizes: number[] } {
  const collection = r.schema.name;
  const byName = new Map(r.props.map((p) => [p.field.name, p]));
  const objects: BatchObjectInput[] = new Array<BatchObjectInput>(batch.length);
  const sizes: number[] = new Array<number>(batch.length);
  const claim = idCollisionGuard('Weaviate UUID', PLUGIN);
  for (let i = 0; i < batch.length; i++) {
    const id = idAt(batch, i);
    if (r.schema.idType === 'uuid' && !isUuid(String(id).toLowerCase())) {
      throw new InvalidInputError(
        'UNSUPPORTED_ID_TYPE',
        `Id ${JSON.stringify(String(id).slice(0, 60))} of a uuid collection is not a UUID. Nothing of this batch was written.`,
        { plugin: PLUGIN },
      );
    }
    const uuid = idToUuid(id, r.schema.idType);
    claim(uuid, id);
    // Null prototype: a property may be named "__proto__" (the client serialises own keys).
    const properties = Object.create(null) as Record<string, unknown>;
    if (r.originalIds) properties[ORIGINAL_ID_PROPERTY] = String(id);
    let rowBytes = 64;
    for (const [key, value] of Object.entries(batch.payloads[i] ?? {})) {
      const p = byName.get(key);
      if (!p) {
        throw new InvalidInputError(
          'SCHEMA_MISMATCH',
          `Payload field ${JSON.stringify(key)} has no property in Weaviate collection ` +
            `${JSON.stringify(collection)}. Nothing of this batch was written.`,
          { plugin: PLUGIN },
        );
      }
      const v = valueToWeaviate(value, p.field, String(id));
      if (v === null) continue;
      properties[p.w] = v;
      rowBytes += typeof v === 'string' ? v.length * 2 : 16;
    }
    const vectors: BatchObjectInput['vectors'] = {};
    for (const v of r.vectors) {
      const col = batch.vectors[v.field.name] as AnyVectorColumn;
      // Dense float32 (the common case) as a view, not a copy.
      const vec = isFloat32Column(col)
        ? col.valid?.[i] === 0
          ? null
          : col.data.subarray(i * col.dims, (i + 1) * col.dims)
        : vectorAt(col, i);
      if (vec === null) continue;
      if (!(vec instanceof Float32Array) && vec.kind !== 'multi') {
        throw new UnsupportedOperationError(
          `Vector ${JSON.stringify(v.field.name)} holds ${vec.kind === 'dense' ? vec.element : vec.kind} vectors, which Weaviate ` +
            `does not store (dense float32 and float32 multi-vectors only). Nothing of this batch was written.`,
          { plugin: PLUGIN, details: { field: v.field.name } },
        );
      }
      if (!(vec instanceof Float32Array) && vec.data.length === 0) {
        throw new InvalidInputError(
          'INVALID_VECTOR',
          `Row ${String(id)}: multi-vector ${JSON.stringify(v.field.name)} holds no vectors, which Weaviate cannot store ` +
            `(an object without the vector reads back as null, not as an empty multi-vector). Nothing of this batch was written.`,
          { plugin: PLUGIN, details: { field: v.field.name } },
        );
      }
      vectors[v.w] = vec;
      rowBytes += (vec instanceof Float32Array ? vec.length : vec.data.length) * 4;
    }
    objects[i] = { uuid, properties, vectors };
    sizes[i] = rowBytes;
  }
  return { objects, sizes };
}

/**
 * One batch import: over vectordr's own BatchObjects encoder when every property is a scalar or an
 * array of scalars (weaviate-grpc-batch.ts says why), else through the client's insertMany (over
 * REST when the batch holds a multi-vector: the client cannot send one).
 * Returns the refused objects by index in `objects`.
 */
async function sendBatch(
  conn: WeaviateConnection,
  r: Resolved,
  col: WeaviateCollectionLike,
  objects: BatchObjectInput[],
): Promise<[number, { message: string }][]> {
  if (r.batchProps) {
    const body = encodeBatchObjects(r.className, objects, r.batchProps, r.legacy ? LEGACY_VECTOR : undefined, conn.options.writeBatchBytes);
    const errors = decodeBatchReply(await conn.grpc().unary('BatchObjects', body));
    return errors.map((e) => [e.index, { message: e.error }]);
  }
  // weaviate-client 3.12's insertMany sends each vector of a multi-vector as a vector of its own
  // (Weaviate refuses them: "AddBatch called on multivector index"); such batches go over REST.
  if (objects.some((o) => Object.values(o.vectors).some((v) => !(v instanceof Float32Array)))) return sendRestBatch(conn, r, objects);
  const res = await grpcCall('insertMany', () =>
    col.data.insertMany(
      objects.map((o) => {
        const vectors = Object.fromEntries(Object.entries(o.vectors).map(([k, v]) => [k, clientVector(v)]));
        return {
          id: o.uuid,
          properties: o.properties,
          vectors: r.legacy ? ((vectors[LEGACY_VECTOR] as number[] | undefined) ?? []) : vectors,
        };
      }),
    ),
  );
  return res.hasErrors ? Object.entries(res.errors).map(([k, e]) => [Number(k), e]) : [];
}

/**
 * One batch import over REST (`POST /v1/batch/objects`, named vectors only): vectors as JSON
 * numbers (a float32 printed as its shortest float64 text reads back as the same float32), a
 * multi-vector as `number[][]`. Returns the refused objects by index, as Weaviate answers them.
 */
async function sendRestBatch(conn: WeaviateConnection, r: Resolved, objects: BatchObjectInput[]): Promise<[number, { message: string }][]> {
  const body = {
    objects: objects.map((o) => ({
      class: r.className,
      id: o.uuid,
      properties: o.properties,
      vectors: Object.fromEntries(Object.entries(o.vectors).map(([k, v]) => [k, clientVector(v)])),
    })),
  };
  const res = (await conn.rest.ok('POST', '/v1/batch/objects', body)) as { result?: { errors?: { error?: { message?: string }[] } } }[];
  return res.flatMap((o, i): [number, { message: string }][] => {
    const errors = o.result?.errors?.error ?? [];
    return errors.length > 0 ? [[i, { message: errors.map((e) => e.message ?? '').join('; ') }]] : [];
  });
}

/** A vector as weaviate-client takes it: `number[]`, or `number[][]` for a multi-vector. */
function clientVector(v: Float32Array | MultiVector): number[] | number[][] {
  if (v instanceof Float32Array) return Array.from(v);
  const out: number[][] = [];
  for (let at = 0; at < v.data.length; at += v.dims) out.push(Array.from(v.data.subarray(at, at + v.dims)));
  return out;
}

/** Deletes by id, 1000 ids per request. */
export async function deleteRecords(conn: WeaviateConnection, r: Resolved, ids: Id[]): Promise<void> {
  await conn.settle(r.className);
  const col = await conn.collection(r.className);
  for (let i = 0; i < ids.length; i += 1000) {
    const uuids = ids.slice(i, i + 1000).map((id) => idToUuid(id, r.schema.idType));
    await grpcCall('deleteMany', () => col.data.deleteMany(col.filter.byId().containsAny(uuids)));
  }
}
