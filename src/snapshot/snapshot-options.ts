/** Options and result of a snapshot, full or incremental (shared by snapshot.ts and incremental.ts). */
import { z } from 'zod';
import type { Manifest } from '../format/manifest.js';
import type { CollectionSchema } from '../model.js';
import { fieldRowBytes } from '../format/vector-columns.js';
import { operationOptions } from '../options.js';

export const SnapshotOptionsSchema = z.strictObject({
  /** Free-form labels stored in the manifest (e.g. { trigger: 'cron' }). Never put secrets here. */
  tags: z.record(z.string(), z.string()).default({}),
  /**
   * Target uncompressed bytes per segment. Peak memory is a small multiple of this (the Parquet
   * encoder holds about four copies); larger segments mean fewer objects, smaller ones less memory
   * and finer-grained resume.
   * @default 4194304 (4 MiB): keeps a 768-dim snapshot under 300 MB RSS (docs/benchmarks.md)
   */
  segmentBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(1024 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /**
   * Compression of vector values inside segments. `none` encodes ~3x faster; `zstd` stores float32
   * embeddings ~8-10% smaller. Payload, ids and digests are always zstd.
   * @default 'none'
   */
  vectorCompression: z.enum(['none', 'zstd']).default('none'),
  /**
   * Rows per adapter read. Smaller batches only add copying: rows are assembled into segments anyway.
   * @default the rows of one segment
   */
  batchSize: z.number().int().min(1).max(1_000_000).optional(),
  /**
   * Worker threads that hash and encode segments while the main thread reads the next rows (0: all
   * on the main thread). Output is identical either way. @default 1 when the machine has more than
   * one core and the collection holds at least 4 segments, else 0
   */
  encodeWorkers: z.number().int().min(0).max(16).optional(),
  /**
   * Take an incremental link on the latest snapshot of the collection (or `parent`): only what
   * changed since, captured the best way the adapter can (docs/format.md, "Chains"). When there is
   * no usable parent, `onNoParent` decides. @default false
   */
  incremental: z.boolean().default(false),
  /** The snapshot an incremental builds on. @default the latest snapshot of the collection */
  parent: z.string().min(1).optional(),
  /**
   * No usable parent (none, no delta index, another engine, the chain broke, the chain is at its
   * cap): `full` takes a full snapshot that starts a new chain, and says why in the result
   * (`autoFull`) and the manifest; `error` throws NO_PARENT (or CHAIN_BROKEN). @default 'full'
   */
  onNoParent: z.enum(['full', 'error']).default('full'),
  /** Links after which the next incremental is a full snapshot (bounds restore time and the chain a restore reads). @default 100 */
  maxChainLinks: z.number().int().min(1).max(10_000).default(100),
  /** Age of the chain's full snapshot after which the next incremental is a full snapshot. @default unlimited */
  maxChainAgeMs: z.number().int().positive().optional(),
  /**
   * Write the delta index of a full snapshot, so a chain can start on it (feature `incremental`):
   * a sort of every (id, digest) pair, and objects of about 50 bytes per record. @default `incremental`
   * (a full snapshot taken for a chain has one; a plain full snapshot has none)
   */
  deltaIndex: z.boolean().optional(),
  ...operationOptions,
});
export type SnapshotOptions = z.input<typeof SnapshotOptionsSchema>;

export interface SnapshotResult {
  manifest: Manifest;
  /** `full` or `incremental`: what was taken (an incremental may have become a full snapshot, see `autoFull`). */
  kind: 'full' | 'incremental';
  /** Why a full snapshot was taken although an incremental was asked for. */
  autoFull?: string;
  /** Segments written by this run (the rest were already in the repository). */
  uploadedSegments: number;
  reusedSegments: number;
  /** Bytes of the segments this run wrote, and of those it found already stored. */
  uploadedBytes: number;
  reusedBytes: number;
}

/** Rows per segment: fixed for a schema, so segment boundaries are reproducible. */
export function segmentRowsFor(schema: CollectionSchema, segmentBytes: number): number {
  const rowBytes = schema.vectors.reduce((s, v) => s + fieldRowBytes(v), 0) + 256;
  return Math.max(1, Math.floor(segmentBytes / rowBytes));
}
