/**
 * Writes one incremental link from its rows given in ascending id-byte order: upserts (with the
 * id's previous digest in the chain, if any) and deletes (with the previous digest). Cuts segments
 * at the fixed row count of the schema, stores them content-addressed, writes the delta index as it
 * goes (the rows are already in index order), and keeps the link's digest as the parent's bucket
 * sums minus every previous digest plus every new one (docs/format.md, "Chains"), so the link is
 * verified without re-reading the chain.
 */
import type { Id, RecordBatch, RecordOp, VectorRecord, CollectionSchema } from '../model.js';
import { batchFromRecords } from '../model.js';
import { BucketDigest, bucketOf, type BucketDigestJson } from '../format/digest.js';
import { IndexWriter } from '../format/delta-index.js';
import type { SegmentRef } from '../format/manifest.js';
import { digestBatch, digestVectorOrder } from '../format/rows.js';
import { encodeSegment, segmentLayout } from '../format/segment-codec.js';
import type { SegmentWriter } from '../repository/ports.js';
import { validateBatchVectors } from '../validate.js';
import { throwIfAborted } from '../errors.js';

const ZERO = new Uint8Array(32);

interface PendingRow {
  idB: Uint8Array;
  op: RecordOp;
  record: VectorRecord;
  prev: Uint8Array | undefined;
}

export interface LinkWriterOptions {
  rowsPerSegment: number;
  vectorCompression: 'none' | 'zstd';
  engine: string;
  signal?: AbortSignal;
  onSegment?: (ref: SegmentRef, uploaded: boolean) => void;
}

export interface WrittenLink {
  segments: SegmentRef[];
  deltaIndex: SegmentRef[];
  digest: BucketDigest;
  upserts: number;
  deletes: number;
  uploaded: number;
  uploadedBytes: number;
}

export class LinkWriter {
  readonly #repo: SegmentWriter;
  readonly #schema: CollectionSchema;
  readonly #o: LinkWriterOptions;
  readonly #digest: BucketDigest;
  readonly #index: IndexWriter;
  readonly #segments: SegmentRef[] = [];
  #pending: PendingRow[] = [];
  #upserts = 0;
  #deletes = 0;
  #uploaded = 0;
  #uploadedBytes = 0;

  constructor(repo: SegmentWriter, schema: CollectionSchema, parentDigest: BucketDigestJson, options: LinkWriterOptions) {
    this.#repo = repo;
    this.#schema = schema;
    this.#o = options;
    this.#digest = BucketDigest.fromJSON(parentDigest);
    this.#index = new IndexWriter(async (bytes, n) => (await this.#repo.putSegment(bytes, n, options.signal)).ref);
  }

  /** Rows so far. */
  get rows(): number {
    return this.#upserts + this.#deletes;
  }

  async upsert(idB: Uint8Array, record: VectorRecord, prev: Uint8Array | undefined): Promise<void> {
    this.#pending.push({ idB, op: 'upsert', record, prev });
    this.#upserts++;
    if (this.#pending.length >= this.#o.rowsPerSegment) await this.#flush();
  }

  async delete(idB: Uint8Array, id: Id, prev: Uint8Array): Promise<void> {
    const vectors = Object.fromEntries(this.#schema.vectors.map((v) => [v.name, null]));
    this.#pending.push({ idB, op: 'delete', record: { id, vectors, payload: {} }, prev });
    this.#deletes++;
    if (this.#pending.length >= this.#o.rowsPerSegment) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    throwIfAborted(this.#o.signal);
    const rows = this.#pending;
    this.#pending = [];
    const schema = this.#schema;
    const batch: RecordBatch = batchFromRecords(
      schema,
      rows.map((r) => r.record),
    );
    const upsertRows = rows.filter((r) => r.op === 'upsert');
    if (upsertRows.length > 0)
      validateBatchVectors(
        batchFromRecords(
          schema,
          upsertRows.map((r) => r.record),
        ),
        schema.vectors,
        this.#o.engine,
      );
    const scratch = new BucketDigest(1); // only the record digests; buckets are computed below
    const d = digestBatch(schema.idType, digestVectorOrder(schema), batch, scratch);
    const ops = rows.map((r) => r.op);
    const prevDigests = new Uint8Array(rows.length * 32);
    const prevValid = new Uint8Array(rows.length);
    const segment = this.#segments.length;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as PendingRow;
      const b = bucketOf(r.idB, this.#digest.buckets);
      if (r.prev) {
        prevDigests.set(r.prev, i * 32);
        prevValid[i] = 1;
        this.#digest.subtract(b, r.prev);
      }
      if (r.op === 'upsert') this.#digest.add(b, d.digests.subarray(i * 32, i * 32 + 32));
      else d.digests.set(ZERO, i * 32); // a delete row's digest is 32 zero bytes
      await this.#index.add({ id: r.idB, op: r.op, digest: d.digests.slice(i * 32, i * 32 + 32), segment, row: i });
    }
    const bytes = encodeSegment(
      segmentLayout(schema),
      { batch, payloadJson: d.payloadJson, digests: d.digests, ops, prev: { digests: prevDigests, valid: prevValid } },
      { vectorCompression: this.#o.vectorCompression },
    );
    this.#segments.length++;
    const { ref, uploaded } = await this.#repo.putSegment(bytes, rows.length, this.#o.signal);
    this.#segments[segment] = ref;
    if (uploaded) {
      this.#uploaded++;
      this.#uploadedBytes += ref.bytes;
    }
    this.#o.onSegment?.(ref, uploaded);
  }

  async finish(): Promise<WrittenLink> {
    await this.#flush();
    const deltaIndex = await this.#index.finish();
    return {
      segments: this.#segments,
      deltaIndex,
      digest: this.#digest,
      upserts: this.#upserts,
      deletes: this.#deletes,
      uploaded: this.#uploaded,
      uploadedBytes: this.#uploadedBytes,
    };
  }
}
