/**
 * A scan over gRPC `Points/Scroll`: the same pages in the same id order as the REST scan, but each
 * page's vectors arrive as packed floats and are copied straight into the batch's Float32Array
 * columns (qdrant-grpc-wire.ts). The next page is asked for as soon as a page arrives, so Qdrant
 * reads page k+1 while the snapshot encodes page k.
 */
import { engineRead } from '../../src/engine-errors.js';
import { EngineError } from '../../src/errors.js';
import { type AnyVectorColumn, type RecordBatch, kindOf, requireDims } from '../../src/model.js';
import type { GrpcChannel } from './qdrant-grpc-client.js';
import { type WirePointId, decodeScrollResponse, encodeScrollRequest } from './qdrant-grpc-wire.js';
import type { ResolvedCollection } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { pointsBatch } from './qdrant-scan.js';
import { PLUGIN, idFromPoint, pointIdLess } from './qdrant-types.js';
import { denseColumn, kindColumn } from './qdrant-vectors.js';

/** One page as a batch of `r`'s schema, and where the next starts. */
export interface GrpcPage {
  batch: RecordBatch;
  next: WirePointId | undefined;
}

/** Reads the page of `limit` points after `offset`, checked to be in Qdrant's id order. */
export async function scrollPageGrpc(
  channel: GrpcChannel,
  r: ResolvedCollection,
  offset: WirePointId | undefined,
  limit: number,
  signal?: AbortSignal,
): Promise<GrpcPage> {
  const names = r.vectors.map((v) => (r.unnamed ? '' : v.q));
  const request = encodeScrollRequest(r.name, offset, limit, r.unnamed ? null : names);
  const answer = await engineRead(qdrantErrors, 'scroll', r.name, () => channel.call('/qdrant.Points/Scroll', request, signal), { signal });
  const sink = {
    names,
    dims: r.vectors.map((v) => (kindOf(v.field) === 'sparse' ? 0 : requireDims(v.field, PLUGIN))),
    kinds: r.vectors.map((v) => kindOf(v.field)),
  };
  const page = decodeScrollResponse(answer, limit, sink, r.name);
  for (let i = 1; i < page.ids.length; i++) {
    if (!pointIdLess(page.ids[i - 1], page.ids[i])) {
      throw new EngineError(
        `Qdrant returned points of ${JSON.stringify(r.name)} out of id order; a scroll could skip ` +
          `points, so the snapshot was stopped.`,
        'permanent',
        { plugin: PLUGIN },
      );
    }
  }
  const next = page.next;
  if (typeof next === 'bigint') idFromPoint(next, undefined, r.schema.idType, r.name); // above 2^63: refused as the REST scan does
  const vectors: Record<string, AnyVectorColumn> = {};
  const point = (row: number): string =>
    String(idFromPoint(page.ids[row], r.meta ? page.payloads[row] : undefined, r.schema.idType, r.name));
  r.vectors.forEach((v, k) => {
    const rows = page.rows[k];
    if (rows) {
      vectors[v.field.name] = kindColumn(v.field, rows);
      return;
    }
    const src = { collection: r.name, vector: v.field.name, point };
    vectors[v.field.name] = denseColumn(v.field.element, requireDims(v.field, PLUGIN), page.columns[k] as Float32Array, page.valid[k], src);
  });
  return { batch: pointsBatch(r, page.ids, page.payloads, vectors), next };
}
