/** Row-level helpers shared by snapshot, restore and verify: digests per batch, slicing, concatenation. */
import {
  type AnyVectorColumn,
  type CollectionSchema,
  type IdType,
  type MultiColumn,
  type RecordBatch,
  type RecordOp,
  type SparseColumn,
  type VectorColumn,
  type VectorShape,
  elementRowWidth,
  isFloat32Column,
} from '../model.js';
import { canonicalPayload } from './canonical-json.js';
import { hash } from 'node:crypto';
import { type BucketDigest, ID_TAG, VECTOR_TAG, bucketOf, float32LeBytes, idBytes, leBytes } from './digest.js';
import { type PackedText, concatPacked, packText, slicePacked } from './packed-text.js';
import { concatColumns, selectRows, sliceColumn } from './vector-columns.js';

export interface DigestedRows {
  payloadJson: string[];
  /** rows * 32 bytes. */
  digests: Uint8Array;
  buckets: Uint32Array;
}

/** Vector field names in digest order (sorted), so engines that list fields differently agree. */
export function digestVectorOrder(schema: Pick<CollectionSchema, 'vectors'>): string[] {
  return schema.vectors.map((v) => v.name).sort();
}

/**
 * Canonicalises payloads, computes record digests and buckets, and adds them to `acc`.
 * `payloadJson` may be given (segments store it) to hash exactly the stored bytes.
 */
export function digestBatch(
  idType: IdType,
  vectorOrder: string[],
  batch: RecordBatch,
  acc: BucketDigest,
  payloadJson?: string[],
): DigestedRows {
  const pj = payloadJson ?? batch.payloads.map(canonicalPayload);
  const { digests, buckets } = hashRecords(idType, vectorOrder, batch, pj, acc.buckets);
  addDigests(acc, digests, buckets);
  return { payloadJson: pj, digests, buckets };
}

/**
 * The bytes of one record digest are laid out in this buffer and hashed in one native call
 * (crypto.hash, a 'binary' string result): ~2.1 µs for a 768-dim record where createHash with five updates and
 * a Buffer result takes ~4.2 µs, and SHA-256 itself ~1.8 µs (docs/benchmarks.md, "Verify throughput").
 * Grown when a record needs more; one per thread.
 */
let scratch = Buffer.allocUnsafeSlow(16 * 1024);

/** The bytes of a typed array as a Buffer over the same memory (no copy). */
const asBuffer = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Record digests and buckets of a batch whose payloads are canonical JSON already (the part a worker thread runs). */
export function hashRecords(
  idType: IdType,
  vectorOrder: string[],
  batch: Pick<RecordBatch, 'length' | 'ids' | 'vectors'>,
  payloadJson: string[] | PackedText,
  bucketCount: number,
): { digests: Uint8Array; buckets: Uint32Array } {
  const packed = Array.isArray(payloadJson) ? undefined : payloadJson;
  const n = batch.length;
  const digests = new Uint8Array(n * 32);
  const buckets = new Uint32Array(n);
  const cols = vectorOrder.map((name) => batch.vectors[name] as AnyVectorColumn);
  // Bytes per record that do not depend on the row: a tag byte per field, the dense vectors.
  let fixed = cols.length;
  const variable: (SparseColumn | MultiColumn)[] = [];
  for (const col of cols) {
    if (isFloat32Column(col)) fixed += col.dims * 4;
    else if (col.kind === 'dense') fixed += elementRowWidth(col.element, col.dims) * col.data.BYTES_PER_ELEMENT;
    else variable.push(col);
  }
  // Byte views made once per batch (little-endian float32 bytes: a view, or one copy on a big-endian
  // host), so each row's bytes are copied by offset (Buffer#copy) without a view per row.
  const dense = cols.map((col) => (isFloat32Column(col) ? asBuffer(float32LeBytes(col.data)) : undefined));
  const payloadBytes = packed ? asBuffer(packed.bytes) : undefined;
  const int64 = idType === 'int64';
  for (let i = 0; i < n; i++) {
    const id = batch.ids[i] as bigint | string;
    // An int64 id's bytes (idBytes in digest.ts: its tag, 8 bytes big-endian) are written in place below.
    const ib = int64 ? undefined : idBytes(idType, id);
    const idLength = ib === undefined ? 9 : ib.length;
    const payload = packed ? undefined : ((payloadJson as string[])[i] as string);
    const at = packed ? (packed.offsets[i] as number) : 0;
    const packedLen = packed ? (packed.offsets[i + 1] as number) - at : 0;
    // The layout of recordDigest (digest.ts): id bytes, per vector its tag byte and bytes (or 0x00), u32be length, payload.
    let most = idLength + fixed + 4 + (payload === undefined ? packedLen : payload.length * 3);
    for (const col of variable) most += variableBytes(col, i);
    if (most > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.max(most, scratch.length * 2));
    if (ib === undefined) {
      scratch[0] = ID_TAG.int64;
      scratch.writeBigInt64BE(typeof id === 'bigint' ? id : BigInt(id), 1);
    } else scratch.set(ib, 0);
    let o = idLength;
    for (let c = 0; c < cols.length; c++) {
      const col = cols[c] as AnyVectorColumn;
      const bytes = dense[c];
      if (col.valid && col.valid[i] === 0) scratch[o++] = 0;
      else if (isFloat32Column(col)) {
        const w = col.dims * 4;
        scratch[o++] = VECTOR_TAG.float32;
        o += (bytes as Buffer).copy(scratch, o, i * w, (i + 1) * w);
      } else o = writeKindVector(col, i, o);
    }
    let len = packedLen;
    if (payloadBytes !== undefined) payloadBytes.copy(scratch, o + 4, at, at + len);
    else len = scratch.write(payload as string, o + 4, 'utf8');
    scratch.writeUInt32BE(len, o);
    const digest = hash('sha256', scratch.subarray(0, o + 4 + len), 'binary');
    for (let k = 0, d = i * 32; k < 32; k++) digests[d + k] = digest.charCodeAt(k);
    // The bucket hashes the id's bytes, still at the start of the scratch buffer (one bucket: no hash needed).
    if (bucketCount !== 1) buckets[i] = bucketOf(scratch.subarray(0, idLength), bucketCount);
  }
  return { digests, buckets };
}

/** Digest bytes of row i of a sparse or multi column after its tag: u32 count and the items. */
function variableBytes(col: SparseColumn | MultiColumn, i: number): number {
  const count = (col.offsets[i + 1] as number) - (col.offsets[i] as number);
  return 4 + (col.kind === 'sparse' ? count * 8 : count * col.dims * 4);
}

/** Writes row i of a column of another kind than dense float32 into the scratch buffer at `o`: tag, then its bytes. */
function writeKindVector(col: Exclude<AnyVectorColumn, VectorColumn>, i: number, o: number): number {
  const put = (bytes: Uint8Array): void => {
    scratch.set(bytes, o);
    o += bytes.length;
  };
  switch (col.kind) {
    case 'dense': {
      const w = elementRowWidth(col.element, col.dims);
      scratch[o++] = VECTOR_TAG[col.element];
      put(leBytes(col.data.subarray(i * w, (i + 1) * w)));
      return o;
    }
    case 'sparse': {
      const from = col.offsets[i] as number;
      const to = col.offsets[i + 1] as number;
      scratch[o++] = VECTOR_TAG.sparse;
      scratch.writeUInt32BE(to - from, o);
      o += 4;
      put(leBytes(col.indices.subarray(from, to)));
      put(leBytes(col.values.subarray(from, to)));
      return o;
    }
    case 'multi': {
      const from = col.offsets[i] as number;
      const to = col.offsets[i + 1] as number;
      scratch[o++] = VECTOR_TAG.multi;
      scratch.writeUInt32BE(to - from, o);
      o += 4;
      put(float32LeBytes(col.data.subarray(from * col.dims, to * col.dims)));
      return o;
    }
  }
}

/** Adds rows' record digests to their buckets. */
export function addDigests(acc: BucketDigest, digests: Uint8Array, buckets: Uint32Array): void {
  for (let i = 0; i < buckets.length; i++) acc.add(buckets[i] as number, digests.subarray(i * 32, i * 32 + 32));
}

export function sliceBatch(batch: RecordBatch, start: number, end: number): RecordBatch {
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  for (const [name, col] of Object.entries(batch.vectors)) vectors[name] = sliceColumn(col, start, end);
  const ops = batch.ops?.slice(start, end);
  return {
    length: end - start,
    ids: batch.ids instanceof BigInt64Array ? batch.ids.subarray(start, end) : batch.ids.slice(start, end),
    vectors,
    payloads: batch.payloads.slice(start, end),
    ...(ops ? { ops } : {}),
    ...(batch.payloadJson ? { payloadJson: slicePacked(batch.payloadJson, start, end) } : {}),
  };
}

export function concatBatches(idType: IdType, vectorFields: readonly VectorShape[], batches: RecordBatch[]): RecordBatch {
  if (batches.length === 1) return batches[0] as RecordBatch;
  const n = batches.reduce((s, b) => s + b.length, 0);
  let ids: BigInt64Array | string[];
  if (idType === 'int64') {
    const out = new BigInt64Array(n);
    let o = 0;
    for (const b of batches) {
      out.set(b.ids as BigInt64Array, o);
      o += b.length;
    }
    ids = out;
  } else {
    ids = batches.flatMap((b) => b.ids as string[]);
  }
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  const lengths = batches.map((b) => b.length);
  for (const f of vectorFields) {
    vectors[f.name] = concatColumns(
      f,
      batches.map((b) => b.vectors[f.name] as AnyVectorColumn),
      lengths,
    );
  }
  const anyOps = batches.some((b) => b.ops);
  const ops: RecordOp[] | undefined = anyOps ? batches.flatMap((b) => b.ops ?? new Array<RecordOp>(b.length).fill('upsert')) : undefined;
  // Canonical payload text where a batch has it: for all rows then (the others' payloads canonicalised here).
  const payloadJson = batches.some((b) => b.payloadJson)
    ? concatPacked(batches.map((b) => b.payloadJson ?? packText(b.payloads.map(canonicalPayload))))
    : undefined;
  return {
    length: n,
    ids,
    vectors,
    payloads: batches.flatMap((b) => b.payloads),
    ...(ops ? { ops } : {}),
    ...(payloadJson ? { payloadJson } : {}),
  };
}

/** The given rows of a column; dense float32 keeps its fast copy. */
function filterColumn(col: AnyVectorColumn, rows: readonly number[], kept: number): AnyVectorColumn {
  if (!isFloat32Column(col)) return selectRows(col, rows);
  const data = new Float32Array(kept * col.dims);
  const valid = col.valid ? new Uint8Array(kept) : undefined;
  rows.forEach((r, j) => {
    data.set(col.data.subarray(r * col.dims, (r + 1) * col.dims), j * col.dims);
    if (valid) valid[j] = col.valid?.[r] ?? 1;
  });
  return valid ? { dims: col.dims, data, valid } : { dims: col.dims, data };
}

/** The rows of `batch` where `keep[i]` is non-zero, in order (the batch itself when it keeps all). */
export function filterBatch(batch: RecordBatch, keep: Uint8Array): RecordBatch {
  let kept = 0;
  for (let i = 0; i < batch.length; i++) if (keep[i]) kept++;
  if (kept === batch.length) return batch;
  const rows: number[] = [];
  for (let i = 0; i < batch.length; i++) if (keep[i]) rows.push(i);
  const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
  for (const [name, col] of Object.entries(batch.vectors)) vectors[name] = filterColumn(col, rows, kept);
  const ids: BigInt64Array | string[] =
    batch.ids instanceof BigInt64Array
      ? BigInt64Array.from(rows, (r) => (batch.ids as BigInt64Array)[r] as bigint)
      : rows.map((r) => (batch.ids as string[])[r] as string);
  const ops = batch.ops ? rows.map((r) => batch.ops?.[r] as RecordOp) : undefined;
  return { length: kept, ids, vectors, payloads: rows.map((r) => batch.payloads[r] ?? {}), ...(ops ? { ops } : {}) };
}
