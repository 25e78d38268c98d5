/**
 * Rows into columnar batches, on the read side (scan and fetch): both scan paths deliver a row as
 * [id text, ...vector bytes (the type's binary send form), ...payload text]; each vector column has
 * an accumulator for its type that copies the bytes once per row and byte-swaps once per batch.
 */
import { EngineError } from '../../src/errors.js';
import type { AnyVectorColumn, Payload, RecordBatch } from '../../src/model.js';
import type { TableInfo } from './pgvector-describe.js';
import type { PayloadJsonWriter } from './pgvector-payload-json.js';
import { parseText } from './pgvector-types.js';
import type { PgVectorType } from './pgvector-vectors.js';

const PLUGIN = 'pgvector';

/** Raw row as both scan paths deliver it: [id text, ...vector bytes, ...payload text]. */
export type RawField = Uint8Array | string | null;

export const rawText = (f: RawField): string | null =>
  f === null ? null : typeof f === 'string' ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('utf8');

/** One vector column of a batch being built: `add` a row's bytes (null: SQL NULL), `take` the column. */
interface ColumnAccumulator {
  add(i: number, bytes: Uint8Array | null, id: string): void;
  take(n: number): AnyVectorColumn;
}

function wrongShape(field: string, id: string, what: string): EngineError {
  return new EngineError(`Row ${id}: vector ${field} ${what}.`, 'permanent', { plugin: PLUGIN });
}

/** Validity per row, allocated on the first NULL. */
class Validity {
  private valid: Uint8Array | undefined;
  constructor(private readonly capacity: number) {}
  setNull(i: number): void {
    this.valid ??= new Uint8Array(this.capacity).fill(1);
    this.valid[i] = 0;
  }
  take(n: number): { valid?: Uint8Array } {
    const out = this.valid ? { valid: this.valid.slice(0, n) } : {};
    this.valid = undefined;
    return out;
  }
}

/**
 * vector and halfvec: `int16 dims, int16 0`, then dims elements of `width` bytes, big-endian; the
 * batch's elements are byte-swapped at once, and the buffer is handed to the batch without a copy.
 */
class DenseFloatAccumulator implements ColumnAccumulator {
  /** Allocated by the first row of a batch, handed over whole to the batch by take(). */
  private bytes: Uint8Array | undefined;
  private readonly validity: Validity;
  constructor(
    private readonly name: string,
    private readonly dims: number,
    private readonly width: 2 | 4,
    private readonly capacity: number,
  ) {
    this.validity = new Validity(capacity);
  }
  add(i: number, b: Uint8Array | null, id: string): void {
    this.bytes ??= new Uint8Array(this.capacity * this.dims * this.width);
    if (b === null) return this.validity.setNull(i);
    const got = (b[0] as number) * 256 + (b[1] as number);
    if (got !== this.dims || b.length !== 4 + this.dims * this.width)
      throw wrongShape(this.name, id, `has ${got} dimensions, the column declares ${this.dims}`);
    this.bytes.set(b.subarray(4), i * this.dims * this.width);
  }
  take(n: number): AnyVectorColumn {
    const buf = this.bytes ?? new Uint8Array(0);
    this.bytes = undefined;
    const size = n * this.dims * this.width;
    const be = Buffer.from(buf.buffer, buf.byteOffset, size);
    const valid = this.validity.take(n);
    if (this.width === 4) {
      be.swap32(); // float4 big-endian -> little-endian, whole batch at once
      return { dims: this.dims, data: new Float32Array(buf.buffer, buf.byteOffset, n * this.dims), ...valid };
    }
    be.swap16();
    return {
      kind: 'dense',
      element: 'float16',
      dims: this.dims,
      data: new Uint16Array(buf.buffer, buf.byteOffset, n * this.dims),
      ...valid,
    };
  }
}

/** bit(n): `int32 bits`, then ceil(bits / 8) bytes, most significant bit first, as the neutral model keeps them. */
class BitAccumulator implements ColumnAccumulator {
  private bytes: Uint8Array | undefined;
  private readonly validity: Validity;
  private readonly rowBytes: number;
  constructor(
    private readonly name: string,
    private readonly dims: number,
    private readonly capacity: number,
  ) {
    this.rowBytes = Math.ceil(dims / 8);
    this.validity = new Validity(capacity);
  }
  add(i: number, b: Uint8Array | null, id: string): void {
    this.bytes ??= new Uint8Array(this.capacity * this.rowBytes);
    if (b === null) return this.validity.setNull(i);
    const bits = ((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number);
    if (bits !== this.dims || b.length !== 4 + this.rowBytes)
      throw wrongShape(this.name, id, `has ${bits} bits, the column declares ${this.dims}`);
    this.bytes.set(b.subarray(4), i * this.rowBytes);
  }
  take(n: number): AnyVectorColumn {
    const data = (this.bytes ?? new Uint8Array(0)).subarray(0, n * this.rowBytes);
    this.bytes = undefined;
    return { kind: 'dense', element: 'binary', dims: this.dims, data, ...this.validity.take(n) };
  }
}

/**
 * sparsevec(n): `int32 dims, int32 nnz, int32 0`, nnz int32 indices (0-based, ascending), nnz
 * float4 values. Indices and values are gathered big-endian into growing buffers and swapped once.
 */
class SparseAccumulator implements ColumnAccumulator {
  private offsets: Uint32Array;
  private indices: Uint8Array = new Uint8Array(1024);
  private values: Uint8Array = new Uint8Array(1024);
  private nnz = 0;
  private readonly validity: Validity;
  constructor(
    private readonly name: string,
    private readonly dims: number,
    private readonly capacity: number,
  ) {
    this.offsets = new Uint32Array(capacity + 1);
    this.validity = new Validity(capacity);
  }
  add(i: number, b: Uint8Array | null, id: string): void {
    if (b === null) {
      this.validity.setNull(i);
      this.offsets[i + 1] = this.nnz;
      return;
    }
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const dims = view.getInt32(0);
    const nnz = view.getInt32(4);
    if (dims !== this.dims) throw wrongShape(this.name, id, `has ${dims} dimensions, the column declares ${this.dims}`);
    if (nnz < 0 || b.length !== 12 + nnz * 8) throw wrongShape(this.name, id, 'is not a sparsevec');
    const need = (this.nnz + nnz) * 4;
    if (need > this.indices.length) {
      const size = Math.max(need, this.indices.length * 2);
      this.indices = grow(this.indices, size);
      this.values = grow(this.values, size);
    }
    this.indices.set(b.subarray(12, 12 + nnz * 4), this.nnz * 4);
    this.values.set(b.subarray(12 + nnz * 4), this.nnz * 4);
    this.nnz += nnz;
    this.offsets[i + 1] = this.nnz;
  }
  take(n: number): AnyVectorColumn {
    const size = this.nnz * 4;
    const idx = this.indices.slice(0, size);
    const val = this.values.slice(0, size);
    Buffer.from(idx.buffer, 0, size).swap32();
    Buffer.from(val.buffer, 0, size).swap32();
    const offsets = this.offsets.slice(0, n + 1);
    this.offsets.fill(0);
    this.nnz = 0;
    return {
      kind: 'sparse',
      dims: this.dims,
      offsets,
      indices: new Uint32Array(idx.buffer, 0, size / 4),
      values: new Float32Array(val.buffer, 0, size / 4),
      ...this.validity.take(n),
    };
  }
}

function grow(b: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(b);
  return out;
}

/** The accumulator of a vector column of `type` with `dims` (bits for bit, the declared dimension for sparsevec). */
function accumulator(type: PgVectorType, name: string, dims: number, capacity: number): ColumnAccumulator {
  switch (type) {
    case 'vector':
      return new DenseFloatAccumulator(name, dims, 4, capacity);
    case 'halfvec':
      return new DenseFloatAccumulator(name, dims, 2, capacity);
    case 'bit':
      return new BitAccumulator(name, dims, capacity);
    case 'sparsevec':
      return new SparseAccumulator(name, dims, capacity);
  }
}

/** Accumulates raw rows into a columnar batch; each vector column through its type's accumulator. */
export class BatchBuilder {
  private n = 0;
  private ids: bigint[] | string[] = [];
  private readonly columns: ColumnAccumulator[];
  private payloads: Payload[] = [];
  private readonly payloadOrder: number[];

  /**
   * @param payloadJson when given, payloads are written as canonical JSON text by it
   *   (pgvector-payload-json.ts) instead of built as objects: the batch's `payloadJson`, `payloads` empty.
   */
  constructor(
    private readonly info: TableInfo,
    capacity: number,
    private readonly payloadJson?: PayloadJsonWriter,
  ) {
    this.columns = info.vectors.map((v) => accumulator(v.type, v.name, v.dims, capacity));
    // Fields in UTF-16 order, as canonical JSON writes them: the payload then needs no sorted copy.
    const names = info.payload.map((p) => p.field.name);
    this.payloadOrder = names.map((_, k) => k).sort((a, b) => ((names[a] as string) < (names[b] as string) ? -1 : 1));
  }

  get length(): number {
    return this.n;
  }

  add(row: RawField[]): void {
    const i = this.n;
    const { schema } = this.info;
    const idText = rawText(row[0] ?? null) as string;
    if (schema.idType === 'int64') (this.ids as bigint[]).push(BigInt(idText));
    else (this.ids as string[]).push(idText);
    for (let v = 0; v < this.columns.length; v++) {
      const f = row[1 + v] ?? null;
      (this.columns[v] as ColumnAccumulator).add(i, typeof f === 'string' ? Buffer.from(f, 'hex') : f, idText);
    }
    if (this.payloadJson) this.payloadJson.add(row);
    else this.payloads.push(this.payloadOf(row));
    this.n++;
  }

  private payloadOf(row: RawField[]): Payload {
    // Null prototype: a column may be named "__proto__" or "constructor".
    const payload = Object.create(null) as Payload;
    const base = 1 + this.columns.length;
    for (const k of this.payloadOrder) {
      const p = this.info.payload[k] as TableInfo['payload'][number];
      const raw = rawText(row[base + k] ?? null);
      // SQL NULL is an absent field (absent == null, in every engine); a jsonb 'null' is a present null.
      if (raw !== null) payload[p.field.name] = parseText(raw, p.col, p.field);
    }
    return payload;
  }

  take(): RecordBatch {
    const n = this.n;
    const vectors = Object.create(null) as Record<string, AnyVectorColumn>;
    this.info.vectors.forEach((v, k) => (vectors[v.name] = (this.columns[k] as ColumnAccumulator).take(n)));
    const ids = this.info.schema.idType === 'int64' ? BigInt64Array.from(this.ids as bigint[]) : (this.ids as string[]);
    // Every buffer is this batch's own (fresh ids, vector buffers handed over whole): it may move to a worker.
    const payloadJson = this.payloadJson?.take();
    const batch: RecordBatch = {
      length: n,
      ids,
      vectors,
      payloads: this.payloads,
      exclusive: true,
      ...(payloadJson ? { payloadJson } : {}),
    };
    this.n = 0;
    this.ids = [];
    this.payloads = [];
    return batch;
  }
}
