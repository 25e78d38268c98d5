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
import type { AnyVectorColumn, Id, RecordBatch } from '../../src/model.js';
import { idAt, isFloat32Column, kindOf } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PointStruct, QdrantContext } from './qdrant-client.js';
import { type ResolvedCollection, lookupId } from './qdrant-describe.js';
import type { GrpcChannel } from './qdrant-grpc-client.js';
import { type WirePoint, type WireVector, decodeUpdateStatus, encodeUpsertRequest } from './qdrant-grpc-wire.js';
import { qdrantErrors } from './qdrant-errors.js';
import { ORIGINAL_ID_KEY, PLUGIN, WHOLE_PAYLOAD_FIELD, pointId } from './qdrant-types.js';
import { type RowValue, restValue, rowValue } from './qdrant-vectors.js';

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
  // (8 bytes a float, plus the JSON text) was most of the REST restore's peak RSS. Multivectors are
  // checked first, so a value REST cannot send is refused before any request.
  for (const v of r.vectors) {
    if (kindOf(v.field) !== 'multi') continue;
    for (let i = 0; i < batch.length; i++) {
      const value = valueOf(r, batch, v, i);
      if (value !== undefined) restValue(value, v.field, () => String(idAt(batch, i)));
    }
  }
  return upsertAll(ctx, collection, restParts(ctx, r, batch, rows), options, (part, wait) =>
    ctx.client.upsert(collection, { wait, points: part.map((i) => restPoint(r, batch, rows[i] as PointHead, i)) }),
  );
}

/** A point's id and payload, ready for either transport. */
interface PointHead {
  id: number | string;
  payload: Record<string, unknown>;
}

/** Estimated bytes of row `i`'s vectors on the wire: `perFloat` per float (binary or JSON text), indices alike. */
function vectorBytes(r: ResolvedCollection, batch: RecordBatch, i: number, perFloat: number): number {
  let bytes = 0;
  for (const v of r.vectors) {
    const col = batch.vectors[v.field.name] as AnyVectorColumn;
    if (col.valid && col.valid[i] === 0) continue;
    if (isFloat32Column(col) || col.kind === 'dense') bytes += col.dims * perFloat;
    else if (col.kind === 'sparse') bytes += ((col.offsets[i + 1] as number) - (col.offsets[i] as number)) * 2 * perFloat;
    else bytes += ((col.offsets[i + 1] as number) - (col.offsets[i] as number)) * col.dims * perFloat;
    bytes += v.q.length + 8;
  }
  return bytes;
}

/** REST upserts: the rows of each request, cut by `writeBatchBytes` of estimated JSON text. */
function restParts(ctx: QdrantContext, r: ResolvedCollection, batch: RecordBatch, rows: PointHead[]): number[][] {
  // JSON text of a float32 widened to a double: up to ~20 characters (-0.022320542484521866)
  const sizes = rows.map((head, i) => 64 + JSON.stringify(head.payload).length + vectorBytes(r, batch, i, 20));
  return chunksByBytes(
    rows.map((_, i) => i),
    sizes,
    ctx.options.writeBatchBytes,
  ).map((c) => c.items);
}

/** Row `i`'s vector `v` as Qdrant takes it, or undefined for a null. */
function valueOf(r: ResolvedCollection, batch: RecordBatch, v: ResolvedCollection['vectors'][number], i: number): RowValue | undefined {
  return rowValue(v.field, batch.vectors[v.field.name] as AnyVectorColumn, i, () => String(idAt(batch, i)));
}

/** Row `i` as a REST point: dense vectors as number[], sparse ones as { indices, values }, multivectors as number[][]. */
function restPoint(r: ResolvedCollection, batch: RecordBatch, head: PointHead, i: number): PointStruct {
  const id = (): string => String(idAt(batch, i));
  const named: Record<string, unknown> = {};
  for (const v of r.vectors) {
    const value = valueOf(r, batch, v, i);
    if (value === undefined) continue;
    if (r.unnamed) return { id: head.id, vector: restValue(value, v.field, id) as number[], payload: head.payload };
    named[v.q] = restValue(value, v.field, id);
  }
  return { id: head.id, vector: named as PointStruct['vector'], payload: head.payload };
}

/** gRPC upserts: dense float32 vectors as views of the batch's columns (their bytes go on the wire), cut by `writeBatchBytes`. */
function grpcParts(ctx: QdrantContext, r: ResolvedCollection, batch: RecordBatch, rows: PointHead[]): WirePoint[][] {
  const wire = (value: RowValue): WireVector =>
    value.kind === 'dense' ? value.data : value.kind === 'sparse' ? { sparse: value } : { multi: value.data, dims: value.dims };
  const sizes: number[] = new Array<number>(batch.length);
  const points = rows.map((head, i): WirePoint => {
    sizes[i] = 48 + JSON.stringify(head.payload).length + vectorBytes(r, batch, i, 4);
    if (r.unnamed) {
      const value = valueOf(r, batch, r.vectors[0] as ResolvedCollection['vectors'][number], i);
      // The unnamed vector is never null (the schema says so; validateBatchVectors checked it).
      return { id: head.id, payload: head.payload, vector: wire(value as RowValue) };
    }
    const vector = new Map<string, WireVector>();
    for (const v of r.vectors) {
      const value = valueOf(r, batch, v, i);
      if (value !== undefined) vector.set(v.q, wire(value));
    }
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
