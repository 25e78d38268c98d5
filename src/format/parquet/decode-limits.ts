/**
 * Bounds on what decoding one segment may cost, checked before the bytes are expanded (docs/security.md,
 * "Bounded memory"). A segment comes from storage that others may write: a 50 KB file of zstd pages
 * can claim gigabytes, and a forged manifest can declare any row count. The manifest's
 * `segments[].bytes` bounds what is read (checked before the read); these bound what decoding makes of it:
 *
 * - rows: the file's row count must be the manifest's `segments[].rows`, checked from the footer
 *   before any column is allocated;
 * - decoded bytes: the decompressed size of all of a segment's pages together, counted from the page
 *   headers before each page is decompressed, and the zstd output capped at the size the header claims;
 * - one payload cell: the canonical JSON of one record's payload.
 *
 * A file that the direct reader does not handle goes to parquet-wasm, whose zstd output is not
 * bounded: `boundForeignSegment` walks its pages first and decompresses each zstd page here, with its
 * output capped, so parquet-wasm only ever sees pages proven to expand to what they claim.
 */
import { Codec, FileMetaDataField as FM, MAGIC, PageHeaderField as PH, RowGroupField as RG } from './parquet-types.js';
import { type ThriftStruct, type ThriftValue, readStruct } from './thrift.js';
import { zstdDecompress } from './zstd.js';

/**
 * Decompressed bytes one segment may expand to (256 MiB). A segment holds `segmentRowsFor` rows
 * (docs/format.md, "Rows per segment": 655 to 16,000 at the default 4 MiB), so this allows payloads
 * averaging 16 KiB to 400 KiB per row; what no snapshot of such rows produces is refused before it
 * is expanded.
 */
export const MAX_SEGMENT_DECODED_BYTES = 256 * 1024 * 1024;

/** Bytes of one record's payload (canonical JSON): 16 MiB, MongoDB's document limit and far above any vector engine's payload. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface DecodeLimits {
  /** The rows the manifest records for the segment; the file must hold exactly these. @default not checked */
  rows?: number;
  /** @default MAX_SEGMENT_DECODED_BYTES */
  decodedBytes?: number;
  /** @default MAX_PAYLOAD_BYTES */
  payloadBytes?: number;
}

/** A bound of `DecodeLimits` was exceeded: decodeSegment reports it as `SEGMENT_TOO_LARGE`. */
export class LimitExceeded extends Error {}

/** Decompressed bytes still allowed for one segment; `take` before each page is expanded. */
export class DecodeBudget {
  #left: number;
  readonly limit: number;

  constructor(limits: DecodeLimits = {}) {
    this.limit = limits.decodedBytes ?? MAX_SEGMENT_DECODED_BYTES;
    this.#left = this.limit;
  }

  take(bytes: number, what: string): void {
    if (bytes > this.#left) {
      throw new LimitExceeded(`${what} would expand the segment past ${this.limit} decompressed bytes (the limit of one segment)`);
    }
    this.#left -= bytes;
  }
}

/** The file's row count against the manifest's, before anything is allocated for them. */
export function checkRowCount(rows: number, limits: DecodeLimits | undefined): void {
  if (limits?.rows === undefined || rows === limits.rows) return;
  const message = `the file holds ${rows} rows, the manifest records ${limits.rows}`;
  throw rows > limits.rows ? new LimitExceeded(message) : new Error(message);
}

/** Every payload cell within `limits.payloadBytes` (a string's length in UTF-16 units never exceeds its UTF-8 bytes). */
export function checkPayloadCells(payloadJson: readonly string[], limits: DecodeLimits | undefined): void {
  const max = limits?.payloadBytes ?? MAX_PAYLOAD_BYTES;
  for (let i = 0; i < payloadJson.length; i++) {
    const p = payloadJson[i] as string;
    if (p.length > max / 3 && Buffer.byteLength(p, 'utf8') > max) {
      throw new LimitExceeded(`row ${i} has a payload of ${Buffer.byteLength(p, 'utf8')} bytes, over the ${max} one payload may hold`);
    }
  }
}

const PAGE_TYPE_DATA_V2 = 3;
const DATA_PAGE_V2_FIELD = 8;
const V2 = { defLength: 5, repLength: 6, isCompressed: 7 } as const;

function int(s: ThriftStruct, id: number): number | undefined {
  const v = s.get(id);
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

/** Structural damage found while walking the file: decodeSegment reports it as SEGMENT_CORRUPT. */
class Malformed extends Error {}

function need(v: number | undefined, what: string): number {
  if (v === undefined || v < 0) throw new Malformed(`${what} missing or negative`);
  return v;
}

const SNAPPY = 1;

/** The uncompressed length a raw snappy block declares in its varint preamble (what parquet-rs allocates). */
function snappyLength(raw: Uint8Array): number {
  let n = 0;
  for (let i = 0, shift = 0; i < 5 && i < raw.length; i++, shift += 7) {
    const b = raw[i] as number;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return n;
  }
  throw new Malformed('snappy page without a length preamble');
}

function structs(v: ThriftValue | undefined): ThriftStruct[] {
  return Array.isArray(v) ? v.filter((x): x is ThriftStruct => x instanceof Map) : [];
}

/**
 * Proves, before parquet-wasm reads `bytes`, that decoding it stays within `limits`: the rows of all
 * row groups are the manifest's, every column chunk is UNCOMPRESSED, SNAPPY or ZSTD (vectordr writes
 * only UNCOMPRESSED and ZSTD; gzip, brotli and lz4 give no bound on their output before it is made),
 * every zstd page expands to exactly the size its header claims (decompressed here with a capped
 * output) and every snappy page declares that size, within the segment's decoded-bytes budget.
 */
export function boundForeignSegment(bytes: Uint8Array, limits: DecodeLimits = {}): void {
  const size = bytes.length;
  if (size < 12 || MAGIC.some((m, k) => bytes[k] !== m || bytes[size - 4 + k] !== m)) return; // parquet-wasm refuses it
  const footerLength = new DataView(bytes.buffer, bytes.byteOffset, size).getUint32(size - 8, true);
  if (footerLength > size - 12) throw new Malformed(`footer of ${footerLength} bytes in a file of ${size}`);
  const footerStart = size - 8 - footerLength;
  const fm = readStruct(bytes, footerStart, size - 8).value;
  const groups = structs(fm.get(FM.rowGroups));
  let rows = 0;
  for (const rg of groups) rows += need(int(rg, RG.numRows), 'row group num_rows');
  checkRowCount(rows, limits);
  checkRowCount(need(int(fm, FM.numRows), 'num_rows'), limits);
  const budget = new DecodeBudget(limits);
  for (const rg of groups) {
    for (const cc of structs(rg.get(RG.columns))) {
      const meta = cc.get(3);
      if (!(meta instanceof Map)) throw new Malformed('column chunk without metadata');
      const codec = need(int(meta, 4), 'codec');
      if (codec !== Codec.UNCOMPRESSED && codec !== Codec.ZSTD && codec !== SNAPPY) {
        throw new LimitExceeded(`codec ${codec}: only UNCOMPRESSED, SNAPPY and ZSTD pages can be read with a bounded expansion`);
      }
      const dataOffset = need(int(meta, 9), 'data_page_offset');
      const dictOffset = int(meta, 11);
      const start = dictOffset !== undefined && dictOffset > 0 && dictOffset < dataOffset ? dictOffset : dataOffset;
      const total = need(int(meta, 7), 'total_compressed_size');
      if (start < 4 || total > footerStart - start) throw new Malformed(`column chunk [${start}, +${total}) outside the file`);
      const end = start + total;
      for (let pos = start; pos < end;) {
        const h = readStruct(bytes, pos, end);
        const usize = need(int(h.value, PH.uncompressedSize), 'uncompressed_page_size');
        const csize = need(int(h.value, PH.compressedSize), 'compressed_page_size');
        if (csize > end - h.end) throw new Malformed(`page of ${csize} bytes past its column chunk`);
        const raw = bytes.subarray(h.end, h.end + csize);
        pos = h.end + csize;
        if (codec === Codec.UNCOMPRESSED) continue;
        budget.take(usize, `a page of ${usize} bytes`);
        let levels = 0;
        const v2 = h.value.get(DATA_PAGE_V2_FIELD);
        if (int(h.value, PH.type) === PAGE_TYPE_DATA_V2 && v2 instanceof Map) {
          if (v2.get(V2.isCompressed) === false) continue;
          levels =
            need(int(v2, V2.defLength), 'definition_levels_byte_length') + need(int(v2, V2.repLength), 'repetition_levels_byte_length');
          if (levels > csize || levels > usize) throw new Malformed('page levels larger than the page');
        }
        if (usize - levels === 0) continue;
        // Snappy declares its output length up front (parquet-rs allocates that); it must be the header's.
        if (codec === SNAPPY) {
          if (snappyLength(raw.subarray(levels)) !== usize - levels) throw new Malformed('snappy length differs from the page header');
          continue;
        }
        // Capped output: a frame yielding more than the header claims fails here, not in parquet-wasm.
        zstdDecompress(raw.subarray(levels), usize - levels);
      }
    }
  }
}
