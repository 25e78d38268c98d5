/**
 * Writing points: a batch becomes Qdrant points (ids mapped by `pointId`, payload checked against
 * the schema or kept whole), sent as byte-budgeted upserts over gRPC (vectors as binary floats) or
 * REST (JSON), several in flight, the last one waited for (see `upsertAll`).
 */
import type { WriteOptions } from '../../src/adapter.js';
import { chunksByBytes, forEachLimit } from '../../src/async.js';
import { engineCall } from '../../src/engine-errors.js';
import { EngineError, InvalidInputError, throwIfAborted } from '../../src/errors.js';
import { idCollisionGuard } from '../../src/id-mapping.js';
import type { Id, RecordBatch, VectorColumn } from '../../src/model.js';
import { idAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PointStruct, QdrantContext } from './qdrant-client.js';
import { type ResolvedCollection, lookupId } from './qdrant-describe.js';
import type { GrpcChannel } from './qdrant-grpc-client.js';
import { type WirePoint, decodeUpdateStatus, encodeUpsertRequest } from './qdrant-grpc-wire.js';
import { qdrantErrors } from './qdrant-errors.js';
import { ORIGINAL_ID_KEY, PLUGIN, WHOLE_PAYLOAD_FIELD, pointId } from './qdrant-types.js';

export async function writePoints(ctx: QdrantContext, r: ResolvedCollection, batch: RecordBatch, options: WriteOptions): Promise<void> {
  const collection = r.name;
  validateBatchVectors(batch, r.schema.vectors, PLUGIN);
  const known = new Set(r.schema.payload.map((p) => p.name));
  const rows: PointHead[] = new Array<PointHead>(batch.length);
  const claim = idCollisionGuard('Qdrant point', PLUGIN);
  for (let i = 0; i < batch.length; i++) {
    const id = idAt(batch, i);
    const pid = pointId(id, r.schema.idType);
    claim(String(pid.id), id);
    const src = batch.payloads[i] ?? {};
    let payload: Record<string, unknown>;
    if (r.wholePayload) {
      const whole = src[WHOLE_PAYLOAD_FIELD];
      if (whole !== undefined && whole !== null && (typeof whole !== 'object' || Array.isArray(whole))) {
        throw new InvalidInputError(
          'SCHEMA_MISMATCH',
          `Row ${String(id)}: field ${WHOLE_PAYLOAD_FIELD} must be a JSON object to become a Qdrant ` +
            `payload. Nothing of this batch was written.`,
          { plugin: PLUGIN },
        );
      }
      payload = { ...((whole as Record<string, unknown> | undefined) ?? {}) };
    } else {
      payload = {};
      for (const [k, v] of Object.entries(src)) {
        if (!known.has(k)) {
          throw new InvalidInputError(
            'SCHEMA_MISMATCH',
            `Payload field ${JSON.stringify(k)} is not in the schema of Qdrant collection ` +
              `${JSON.stringify(collection)}. Nothing of this batch was written.`,
            { plugin: PLUGIN },
          );
        }
        if (v !== null) payload[k] = v;
      }
    }
    if (pid.original !== undefined) payload[ORIGINAL_ID_KEY] = pid.original;
    rows[i] = { id: pid.id, payload };
  }
  const channel = await ctx.grpc?.channel();
  if (channel)
    return upsertAll(ctx, collection, grpcParts(ctx, r, batch, rows), options, (part, wait) => upsertGrpc(channel, collection, part, wait));
  // number[] vectors are made per request, when it is sent: a segment's worth of them at once
  // (8 bytes a float, plus the JSON text) was most of the REST restore's peak RSS.
  return upsertAll(ctx, collection, restParts(ctx, r, batch, rows), options, (part, wait) =>
    ctx.client.upsert(collection, { wait, points: part.map((i) => restPoint(r, batch, rows[i] as PointHead, i)) }),
  );
}

/** A point's id and payload, ready for either transport. */
interface PointHead {
  id: number | string;
  payload: Record<string, unknown>;
}

/** REST upserts: the rows of each request, cut by `writeBatchBytes` of estimated JSON text. */
function restParts(ctx: QdrantContext, r: ResolvedCollection, batch: RecordBatch, rows: PointHead[]): number[][] {
  const sizes = rows.map((head, i) => {
    let rowBytes = 64 + JSON.stringify(head.payload).length;
    for (const v of r.vectors) {
      const col = batch.vectors[v.field.name] as VectorColumn;
      // JSON text of a float32 widened to a double: up to ~20 characters (-0.022320542484521866)
      if (!col.valid || col.valid[i] !== 0) rowBytes += col.dims * 20;
    }
    return rowBytes;
  });
  return chunksByBytes(
    rows.map((_, i) => i),
    sizes,
    ctx.options.writeBatchBytes,
  ).map((c) => c.items);
}

/** Row `i` as a REST point: vectors as number[]. */
function restPoint(r: ResolvedCollection, batch: RecordBatch, head: PointHead, i: number): PointStruct {
  const vector = (v: ResolvedCollection['vectors'][number]): number[] => {
    const col = batch.vectors[v.field.name] as VectorColumn;
    return Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
  };
  if (r.unnamed) return { id: head.id, vector: vector(r.vectors[0] as ResolvedCollection['vectors'][number]), payload: head.payload };
  const named: Record<string, number[]> = {};
  for (const v of r.vectors) {
    const col = batch.vectors[v.field.name] as VectorColumn;
    if (!col.valid || col.valid[i] !== 0) named[v.q] = vector(v);
  }
  return { id: head.id, vector: named, payload: head.payload };
}

/** gRPC upserts: vectors as views of the batch's Float32Array columns (their bytes go on the wire), cut by `writeBatchBytes`. */
function grpcParts(ctx: QdrantContext, r: ResolvedCollection, batch: RecordBatch, rows: PointHead[]): WirePoint[][] {
  const sizes: number[] = new Array<number>(batch.length);
  const points = rows.map((head, i): WirePoint => {
    let rowBytes = 48 + JSON.stringify(head.payload).length;
    let vector: Float32Array | Map<string, Float32Array>;
    if (r.unnamed) {
      const col = batch.vectors[(r.vectors[0] as ResolvedCollection['vectors'][number]).field.name] as VectorColumn;
      vector = col.data.subarray(i * col.dims, (i + 1) * col.dims);
      rowBytes += col.dims * 4;
    } else {
      vector = new Map();
      for (const v of r.vectors) {
        const col = batch.vectors[v.field.name] as VectorColumn;
        if (col.valid && col.valid[i] === 0) continue;
        vector.set(v.q, col.data.subarray(i * col.dims, (i + 1) * col.dims));
        rowBytes += col.dims * 4 + v.q.length + 8;
      }
    }
    sizes[i] = rowBytes;
    return { id: head.id, payload: head.payload, vector };
  });
  return chunksByBytes(points, sizes, ctx.options.writeBatchBytes).map((c) => c.items);
}

async function upsertGrpc(channel: GrpcChannel, collection: string, part: WirePoint[], wait: boolean): Promise<void> {
  const answer = await channel.call('/qdrant.Points/Upsert', encodeUpsertRequest(collection, part, wait));
  const status = decodeUpdateStatus(answer);
  // 2 Completed (wait), 1 Acknowledged (no wait); 3 ClockRejected and 4 WaitTimeout did not apply the points.
  if (status !== 1 && status !== 2) {
    throw new EngineError(
      `upsert into ${JSON.stringify(collection)}: Qdrant answered update status ${status}`,
      status === 4 ? 'transient' : 'permanent',
      {
        plugin: PLUGIN,
      },
    );
  }
}

/**
 * Sends `parts` with up to `writeConcurrency` in flight, every one but the last with `wait: false`
 * (Qdrant acknowledges once the points are in its write-ahead log: durable, not yet searchable),
 * then the last with `wait: true` once every other was acknowledged. A shard applies its updates
 * in the order they entered the log, so when the last is applied every earlier one is too: write()
 * returns with every point searchable, and the marker the core writes next never runs ahead of
 * stored points. One wait per write() instead of one per request keeps Qdrant's update queue full.
 */
async function upsertAll<P>(
  ctx: QdrantContext,
  collection: string,
  parts: P[][],
  options: WriteOptions,
  send: (part: P[], wait: boolean) => Promise<unknown>,
): Promise<void> {
  const last = parts.pop();
  if (last === undefined) return;
  const upsert = (wait: boolean) => async (part: P[]) => {
    await engineCall(qdrantErrors, 'upsert', collection, () => send(part, wait));
  };
  await forEachLimit(parts, ctx.options.writeConcurrency, upsert(false), options.signal);
  throwIfAborted(options.signal);
  await upsert(true)(last);
}

/** Deletes the points of `ids`, 1000 per request. */
export async function deletePoints(ctx: QdrantContext, r: ResolvedCollection, ids: Id[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    const points = ids.slice(i, i + 1000).map((id) => lookupId(r, id));
    await engineCall(qdrantErrors, 'delete', r.name, () => ctx.client.delete(r.name, { wait: true, points }));
  }
}
