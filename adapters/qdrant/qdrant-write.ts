/**
 * Writing points: a batch becomes Qdrant points (ids mapped by `pointId`, payload checked against
 * the schema or kept whole), sent as byte-budgeted upserts, several in flight, all waited for.
 */
import type { WriteOptions } from '../../src/adapter.js';
import { chunksByBytes, forEachLimit } from '../../src/async.js';
import { engineCall } from '../../src/engine-errors.js';
import { InvalidInputError } from '../../src/errors.js';
import { idCollisionGuard } from '../../src/id-mapping.js';
import type { Id, RecordBatch, VectorColumn } from '../../src/model.js';
import { idAt } from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import type { PointStruct, QdrantContext } from './qdrant-client.js';
import { type ResolvedCollection, lookupId } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { ORIGINAL_ID_KEY, PLUGIN, WHOLE_PAYLOAD_FIELD, pointId } from './qdrant-types.js';

export async function writePoints(ctx: QdrantContext, r: ResolvedCollection, batch: RecordBatch, options: WriteOptions): Promise<void> {
  const collection = r.name;
  validateBatchVectors(batch, r.schema.vectors, PLUGIN);
  const known = new Set(r.schema.payload.map((p) => p.name));
  const points: PointStruct[] = new Array<PointStruct>(batch.length);
  const sizes: number[] = new Array<number>(batch.length);
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
    let rowBytes = 64 + JSON.stringify(payload).length;
    let vector: number[] | Record<string, number[]>;
    if (r.unnamed) {
      const col = batch.vectors[(r.vectors[0] as ResolvedCollection['vectors'][number]).field.name] as VectorColumn;
      vector = Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
      rowBytes += col.dims * 10;
    } else {
      const named: Record<string, number[]> = {};
      for (const v of r.vectors) {
        const col = batch.vectors[v.field.name] as VectorColumn;
        if (col.valid && col.valid[i] === 0) continue;
        named[v.q] = Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
        rowBytes += col.dims * 10; // JSON text of a float32
      }
      vector = named;
    }
    points[i] = { id: pid.id, vector, payload };
    sizes[i] = rowBytes;
  }
  const parts = chunksByBytes(points, sizes, ctx.options.writeBatchBytes).map((c) => c.items);
  // Up to writeConcurrency upserts in flight; all waited for (wait: true) before write() returns,
  // so the marker the core writes next never runs ahead of stored points.
  const upsert = async (part: PointStruct[]): Promise<void> => {
    await engineCall(qdrantErrors, 'upsert', collection, () => ctx.client.upsert(collection, { wait: true, points: part }));
  };
  await forEachLimit(parts, ctx.options.writeConcurrency, upsert, options.signal);
}

/** Deletes the points of `ids`, 1000 per request. */
export async function deletePoints(ctx: QdrantContext, r: ResolvedCollection, ids: Id[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    const points = ids.slice(i, i + 1000).map((id) => lookupId(r, id));
    await engineCall(qdrantErrors, 'delete', r.name, () => ctx.client.delete(r.name, { wait: true, points }));
  }
}
