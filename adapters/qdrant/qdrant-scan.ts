/**
 * Reading points: the scan pages with `scroll` and `next_page_offset` (id order), each page checked
 * to be in Qdrant's id order; `fetch` retrieves by id. Both turn points into columnar batches.
 */
import type { ScanOptions, ScanSession } from '../../src/adapter.js';
import { engineRead } from '../../src/engine-errors.js';
import { EngineError, throwIfAborted } from '../../src/errors.js';
import {
  type AnyVectorColumn,
  type Checkpoint,
  type Id,
  type JsonValue,
  type Payload,
  type RecordBatch,
  type VectorRecord,
  kindOf,
  requireDims,
} from '../../src/model.js';
import { recordAt } from '../../src/model.js';
import { sliceBatch } from '../../src/format/rows.js';
import type { PointId, PointLike, QdrantContext } from './qdrant-client.js';
import { type ResolvedCollection, lookupId } from './qdrant-describe.js';
import { type GrpcPage, scrollPageGrpc } from './qdrant-grpc-scan.js';
import type { GrpcChannel } from './qdrant-grpc-client.js';
import type { WirePointId } from './qdrant-grpc-wire.js';
import { qdrantErrors } from './qdrant-errors.js';
import { denseColumn, kindColumn, restRow, setJsonFloats } from './qdrant-vectors.js';
import { ORIGINAL_ID_KEY, PLUGIN, WHOLE_PAYLOAD_FIELD, idFromPoint, pointIdLess } from './qdrant-types.js';

/**
 * A scan session over `r`; `estimatedRows` is the exact count taken before the first page, and
 * `checkpoint` where a change-field chain continues (qdrant-change-field.ts), when it starts one.
 */
export function openScan(
  ctx: QdrantContext,
  r: ResolvedCollection,
  estimatedRows: number,
  options: ScanOptions,
  checkpoint?: Checkpoint,
): ScanSession {
  const collection = r.name;
  const pageSize = ctx.options.scanPageRows;
  const logger = ctx.logger;
  let closed = false;
  return {
    schema: r.schema,
    checkpoint,
    estimatedRows,
    async *batches(): AsyncIterable<RecordBatch> {
      let seen = 0;
      const channel = await ctx.grpc?.channel();
      const stop = (): boolean => closed;
      const pages = channel ? grpcPages(channel, r, pageSize, stop, options.signal) : restPages(ctx, r, pageSize, stop, options.signal);
      for await (const page of pages) {
        for (let start = 0; start < page.length; start += options.batchSize) {
          const end = Math.min(page.length, start + options.batchSize);
          const batch = start === 0 && end === page.length ? page : sliceBatch(page, start, end);
          seen += batch.length;
          yield batch;
        }
      }
      if (seen !== estimatedRows)
        logger.warn(
          { collection, scanned: seen, counted: estimatedRows },
          'point count changed during the scan (writes during a live snapshot)',
        );
    },
    async close() {
      closed = true;
    },
  };
}

/** The pages of a REST scan (`scroll`, floats as JSON text). */
async function* restPages(
  ctx: QdrantContext,
  r: ResolvedCollection,
  pageSize: number,
  stop: () => boolean,
  signal: AbortSignal | undefined,
): AsyncIterable<RecordBatch> {
  let offset: PointId | undefined;
  for (;;) {
    throwIfAborted(signal);
    if (stop()) return;
    const { points, next } = await scrollPage(ctx, r, offset, pageSize);
    yield toRecordBatch(r, points);
    if (next === undefined || points.length === 0) return;
    offset = next;
  }
}

/** The pages of a gRPC scan, one asked for ahead: Qdrant reads page k+1 while the consumer encodes page k. */
async function* grpcPages(
  channel: GrpcChannel,
  r: ResolvedCollection,
  pageSize: number,
  stop: () => boolean,
  signal: AbortSignal | undefined,
): AsyncIterable<RecordBatch> {
  const ask = (after: WirePointId | undefined): Promise<GrpcPage> => {
    const p = scrollPageGrpc(channel, r, after, pageSize, signal);
    p.catch(() => undefined); // observed when awaited, never an unhandled rejection meanwhile
    return p;
  };
  let pending: Promise<GrpcPage> | undefined = ask(undefined);
  while (pending) {
    throwIfAborted(signal);
    if (stop()) return;
    const { batch, next }: GrpcPage = await pending;
    pending = next === undefined || batch.length === 0 ? undefined : ask(next);
    yield batch;
  }
}

/** What a scroll reads: `filter`, and less than whole points (`with_payload`, `with_vector`). @default whole points, no filter */
export interface ScrollBody {
  filter?: Record<string, unknown>;
  with_payload?: boolean | { include: string[] };
  with_vector?: boolean | string[];
}

/** One scroll page, checked to be in Qdrant's id order. */
export async function scrollPage(
  ctx: QdrantContext,
  r: ResolvedCollection,
  offset: PointId | undefined,
  limit: number,
  body: ScrollBody = {},
): Promise<{ points: PointLike[]; next: PointId | undefined }> {
  const res = await engineRead(qdrantErrors, 'scroll', r.name, () =>
    ctx.client.scroll(r.name, {
      limit,
      ...(offset !== undefined ? { offset } : {}),
      with_payload: true,
      with_vector: withVector(r),
      ...body,
    }),
  );
  const points = res.points;
  for (let i = 1; i < points.length; i++) {
    if (!pointIdLess((points[i - 1] as PointLike).id, (points[i] as PointLike).id)) {
      throw new EngineError(
        `Qdrant returned points of ${JSON.stringify(r.name)} out of id order; a scroll could skip ` +
          `points, so the snapshot was stopped.`,
        'permanent',
        { plugin: PLUGIN },
      );
    }
  }
  const n = res.next_page_offset;
  const next = n === null || n === undefined ? undefined : typeof n === 'object' ? undefined : n;
  if (next !== undefined && typeof next === 'number' && !Number.isSafeInteger(next)) idFromPoint(next, undefined, 'int64', r.name); // throws the rounding error
  return { points, next };
}

/** The records of `ids` that exist, in the order of `ids`. */
export async function fetchRecords(ctx: QdrantContext, r: ResolvedCollection, ids: Id[]): Promise<VectorRecord[]> {
  const out = new Map<string, VectorRecord>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000).map((id) => lookupId(r, id));
    const body = { ids: chunk, with_payload: true, with_vector: withVector(r) };
    const points = await engineRead(qdrantErrors, 'retrieve', r.name, () => ctx.client.retrieve(r.name, body));
    const batch = toRecordBatch(r, points);
    for (let k = 0; k < batch.length; k++) {
      const rec = recordAt(batch, k);
      out.set(String(rec.id), rec);
    }
  }
  return ids.flatMap((id) => out.get(String(id)) ?? []);
}

/** Which vectors to read: the unnamed one, or every named one the schema knows. */
export function withVector(r: ResolvedCollection): true | string[] {
  return r.unnamed ? true : r.vectors.map((v) => v.q);
}

/** Points as a columnar batch of `r`'s schema: what scan, fetch and change-field links all render records with. */
export function toRecordBatch(r: ResolvedCollection, points: PointLike[]): RecordBatch {
  const n = points.length;
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  const pointName = (i: number): string =>
    String(idFromPoint(points[i]?.id, r.meta ? points[i]?.payload : undefined, r.schema.idType, r.name));
  const rawOf = (p: PointLike, v: ResolvedCollection['vectors'][number]): unknown =>
    r.unnamed ? p.vector : (p.vector as Record<string, unknown> | null | undefined)?.[v.q];
  for (const v of r.vectors) {
    const src = { collection: r.name, vector: v.field.name };
    if (kindOf(v.field) !== 'dense') {
      vectors[v.field.name] = kindColumn(
        v.field,
        points.map((p, i) => restRow(v.field, rawOf(p, v), { ...src, point: () => pointName(i) })),
      );
      continue;
    }
    const dims = requireDims(v.field, PLUGIN);
    const data = new Float32Array(n * dims);
    let valid: Uint8Array | undefined;
    points.forEach((p, i) => {
      const raw = rawOf(p, v);
      if (!Array.isArray(raw)) {
        (valid ??= new Uint8Array(n).fill(1))[i] = 0;
        return;
      }
      if (raw.length !== dims) {
        throw new EngineError(
          `Point ${pointName(i)} of ${JSON.stringify(r.name)}: vector ${v.field.name} has ` + `${raw.length} values, expected ${dims}.`,
          'permanent',
          { plugin: PLUGIN },
        );
      }
      setJsonFloats(data, raw, i * dims, { ...src, point: () => pointName(i) });
    });
    vectors[v.field.name] = denseColumn(v.field.element, dims, data, valid, { ...src, point: pointName });
  }
  return pointsBatch(
    r,
    points.map((p) => p.id),
    points.map((p) => p.payload),
    vectors,
  );
}

/**
 * A batch of `r`'s schema from points' raw ids and payloads and their vector columns (already
 * filled): ids mapped back (`vdr_id`), payloads kept whole or as the schema's fields.
 */
export function pointsBatch(
  r: ResolvedCollection,
  rawIds: readonly unknown[],
  rawPayloads: readonly (Record<string, unknown> | null | undefined)[],
  vectors: Record<string, AnyVectorColumn>,
): RecordBatch {
  const n = rawIds.length;
  const ids: BigInt64Array | string[] = r.schema.idType === 'int64' ? new BigInt64Array(n) : new Array<string>(n);
  const payloads: Payload[] = new Array<Payload>(n);
  for (let i = 0; i < n; i++) {
    const raw = rawPayloads[i];
    const id = idFromPoint(rawIds[i], r.meta ? raw : undefined, r.schema.idType, r.name);
    if (ids instanceof BigInt64Array) ids[i] = id as bigint;
    else ids[i] = String(id);
    const src = { ...(raw ?? {}) };
    if (r.meta) delete src[ORIGINAL_ID_KEY];
    if (r.wholePayload) {
      payloads[i] = Object.keys(src).length > 0 ? { [WHOLE_PAYLOAD_FIELD]: src as Payload } : {};
    } else {
      // Null prototype: a payload key may be "__proto__" (JSON.parse keeps it as an own key).
      const payload = Object.create(null) as Payload;
      for (const [k, v] of Object.entries(src)) if (v !== null && v !== undefined) payload[k] = v as JsonValue;
      payloads[i] = payload;
    }
  }
  return { length: n, ids, vectors, payloads };
}
