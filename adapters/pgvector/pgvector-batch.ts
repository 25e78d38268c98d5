/**
 * Rows into columnar batches, on the read side (scan and fetch): both scan paths deliver a row as
 * [id text, ...vector bytes (vector_send), ...payload text]; vectors are copied once per row and
 * byte-swapped once per batch.
 */
import { EngineError } from '../../src/errors.js';
import { type Payload, type RecordBatch, type VectorColumn, requireDenseFloat32 } from '../../src/model.js';
import type { TableInfo } from './pgvector-describe.js';
import { parseText } from './pgvector-types.js';

const PLUGIN = 'pgvector';

/** Raw row as both scan paths deliver it: [id text, ...vector bytes, ...payload text]. */
export type RawField = Uint8Array | string | null;

export const rawText = (f: RawField): string | null =>
  f === null ? null : typeof f === 'string' ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('utf8');

/** Accumulates raw rows into a columnar batch; vector bytes are copied once and byte-swapped per batch. */
export class BatchBuilder {
  private n = 0;
  private ids: bigint[] | string[] = [];
  /** Allocated when the first row of a batch arrives; handed over whole to the batch by take(). */
  private vecBytes: Uint8Array[] = [];
  private readonly dims: number[];
  private valid: Uint8Array[];
  private anyNull: boolean[];
  private payloads: Payload[] = [];
  private readonly payloadOrder: number[];

  constructor(
    private readonly info: TableInfo,
    private readonly capacity: number,
  ) {
    this.dims = info.vectors.map((v) =>
      requireDenseFloat32(
        info.schema.vectors.find((f) => f.name === v.name)!,
        'the pgvector scan',
        'pgvector',
      ),
    );
    this.valid = info.vectors.map(() => new Uint8Array(capacity));
    this.anyNull = info.vectors.map(() => false);
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
    if (i === 0) this.vecBytes = this.dims.map((d) => new Uint8Array(this.capacity * d * 4));
    const idText = rawText(row[0] ?? null) as string;
    if (schema.idType === 'int64') (this.ids as bigint[]).push(BigInt(idText));
    else (this.ids as string[]).push(idText);
    for (let v = 0; v < this.dims.length; v++) {
      const f = row[1 + v] ?? null;
      const dims = this.dims[v] as number;
      if (f === null) {
        this.anyNull[v] = true;
        continue;
      }
      const bytes = typeof f === 'string' ? Buffer.from(f, 'hex') : f;
      const got = (bytes[0] as number) * 256 + (bytes[1] as number);
      if (got !== dims || bytes.length !== 4 + dims * 4) {
        throw new EngineError(
          `Row ${idText}: vector ${schema.vectors[v]?.name} has ${got} dimensions, the column ` + `declares ${dims}.`,
          'permanent',
          { plugin: PLUGIN },
        );
      }
      (this.vecBytes[v] as Uint8Array).set(bytes.subarray(4), i * dims * 4);
      (this.valid[v] as Uint8Array)[i] = 1;
    }
    // Null prototype: a column may be named "__proto__" or "constructor".
    const payload = Object.create(null) as Payload;
    const base = 1 + this.dims.length;
    for (const k of this.payloadOrder) {
      const p = this.info.payload[k] as TableInfo['payload'][number];
      const raw = rawText(row[base + k] ?? null);
      // SQL NULL is an absent field (absent == null, in every engine); a jsonb 'null' is a present null.
      if (raw !== null) payload[p.field.name] = parseText(raw, p.col, p.field);
    }
    this.payloads.push(payload);
    this.n++;
  }

  take(): RecordBatch {
    const n = this.n;
    const { schema } = this.info;
    const vectors: Record<string, VectorColumn> = {};
    if (n === 0) this.vecBytes = this.dims.map(() => new Uint8Array(0));
    this.vecBytes.forEach((buf, v) => {
      const dims = this.dims[v] as number;
      const bytes = Buffer.from(buf.buffer, buf.byteOffset, n * dims * 4);
      bytes.swap32(); // float4 big-endian -> little-endian, whole batch at once
      // Hand the buffer itself to the batch (no copy); the next batch gets a fresh one.
      const data = new Float32Array(buf.buffer, buf.byteOffset, n * dims);
      const name = (schema.vectors[v] as { name: string }).name;
      vectors[name] = this.anyNull[v] ? { dims, data, valid: (this.valid[v] as Uint8Array).slice(0, n) } : { dims, data };
    });
    const ids = schema.idType === 'int64' ? BigInt64Array.from(this.ids as bigint[]) : (this.ids as string[]);
    // Every buffer is this batch's own (fresh ids, vector buffers handed over whole): it may move to a worker.
    const batch: RecordBatch = { length: n, ids, vectors, payloads: this.payloads, exclusive: true };
    this.n = 0;
    this.ids = [];
    this.payloads = [];
    this.valid = this.valid.map(() => new Uint8Array(this.capacity));
    this.vecBytes = [];
    this.anyNull = this.anyNull.map(() => false);
    return batch;
  }
}
