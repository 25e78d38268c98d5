/**
 * PostgreSQL binary COPY codec, hand-written: the published binary-COPY parsers decode field by field
 * through generic type hooks and are an order of magnitude slower on 768-float vectors. This one
 * copies vector bytes straight into a batch buffer and byte-swaps the whole batch at once.
 *
 * Format: "PGCOPY\n\377\r\n\0", int32 flags, int32 extension length (+ extension), then tuples of
 * int16 field count and per field int32 length (-1 = NULL) + bytes; trailer int16 -1. Big-endian.
 */
import { EngineError } from '../../src/errors.js';

export const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Incremental tuple parser over arbitrarily split chunks. */
export class CopyBinaryParser {
  private buf: Buffer = Buffer.alloc(0);
  private headerDone = false;
  done = false;

  /** Parses as many complete tuples as the buffered bytes allow; fields are views valid until the next push. */
  *push(chunk: Uint8Array): Generator<(Buffer | null)[]> {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buf, chunk]);
    let pos = 0;
    const b = this.buf;
    if (!this.headerDone) {
      if (b.length < 19) return;
      if (!b.subarray(0, 11).equals(COPY_SIGNATURE))
        throw new EngineError('COPY stream does not start with the binary signature.', 'permanent', { plugin: 'pgvector' });
      const ext = b.readInt32BE(15);
      if (b.length < 19 + ext) return;
      pos = 19 + ext;
      this.headerDone = true;
    }
    for (;;) {
      if (b.length - pos < 2) break;
      const nfields = b.readInt16BE(pos);
      if (nfields === -1) {
        this.done = true;
        pos += 2;
        break;
      }
      let p = pos + 2;
      const fields: (Buffer | null)[] = new Array<Buffer | null>(nfields);
      let complete = true;
      for (let f = 0; f < nfields; f++) {
        if (b.length - p < 4) {
          complete = false;
          break;
        }
        const len = b.readInt32BE(p);
        p += 4;
        if (len === -1) {
          fields[f] = null;
          continue;
        }
        if (b.length - p < len) {
          complete = false;
          break;
        }
        fields[f] = b.subarray(p, p + len);
        p += len;
      }
      if (!complete) break;
      pos = p;
      yield fields;
    }
    // Keep only the unconsumed tail (a partial tuple); copy so the big chunk can be collected.
    this.buf = pos >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(pos));
  }
}

type Utf8Write = (this: Buffer, s: string, offset: number, length: number) => number;

/**
 * Node's `Buffer#utf8Write`: what `Buffer#write` calls after normalising its arguments, about twice
 * as fast on the short strings of a payload (undocumented, so `write` stands in where it is missing).
 */
const utf8Write: Utf8Write =
  (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write ??
  function (this: Buffer, s: string, offset: number, length: number): number {
    return this.write(s, offset, length, 'utf8');
  };

/**
 * Growable output buffer emitting ~1 MiB chunks. Every write reserves its room first (`ensure`), so a
 * field never spans two chunks; `take()` hands over the chunks completed so far, for streaming.
 */
export class ByteSink {
  buf: Buffer;
  pos = 0;
  private chunks: Buffer[] = [];

  constructor(private readonly chunkSize = 1 << 20) {
    this.buf = Buffer.allocUnsafe(chunkSize);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.chunkSize));
  }

  flush(): void {
    if (this.pos > 0) this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    this.pos = 0;
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    let n = this.pos;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  /** The completed chunks written since the last take() (the chunk being filled stays). */
  take(): Buffer[] {
    const out = this.chunks;
    this.chunks = [];
    return out;
  }

  int16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }

  int32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }

  uint32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** One length-prefixed field. */
  field(b: Uint8Array | null): void {
    if (b === null) {
      this.int32(-1);
      return;
    }
    this.int32(b.length);
    this.bytes(b);
  }

  /** A text field: its UTF-8 bytes written in place (room for 3 bytes per UTF-16 unit, the most it takes). */
  utf8Field(s: string): void {
    this.ensure(4 + 3 * s.length);
    const n = utf8Write.call(this.buf, s, this.pos + 4, 3 * s.length);
    this.buf.writeInt32BE(n, this.pos);
    this.pos += 4 + n;
  }

  /** A jsonb field: version byte 1, then the JSON text. */
  jsonbField(s: string): void {
    this.ensure(5 + 3 * s.length);
    this.buf[this.pos + 4] = 1;
    const n = utf8Write.call(this.buf, s, this.pos + 5, 3 * s.length);
    this.buf.writeInt32BE(n + 1, this.pos);
    this.pos += 5 + n;
  }

  int32Field(v: number): void {
    this.ensure(8);
    this.buf.writeInt32BE(4, this.pos);
    this.pos = this.buf.writeInt32BE(v, this.pos + 4);
  }

  /** An int8 (or timestamp) field from its high (signed) and low (unsigned) 32-bit halves. */
  int64Field(hi: number, lo: number): void {
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.buf.writeInt32BE(hi, this.pos + 4);
    this.pos = this.buf.writeUInt32BE(lo, this.pos + 8);
  }

  bigint64Field(v: bigint): void {
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.pos = this.buf.writeBigInt64BE(v, this.pos + 4);
  }

  float32Field(v: number): void {
    this.ensure(8);
    this.buf.writeInt32BE(4, this.pos);
    this.pos = this.buf.writeFloatBE(v, this.pos + 4);
  }

  float64Field(v: number): void {
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.pos = this.buf.writeDoubleBE(v, this.pos + 4);
  }

  uint8Field(v: number): void {
    this.ensure(5);
    this.buf.writeInt32BE(1, this.pos);
    this.buf[this.pos + 4] = v;
    this.pos += 5;
  }

  /**
   * Starts a field whose length is known only after its bytes: reserves `maxBytes` after the length
   * word (in one chunk), so `endField` can fill the length in. Returns the length word's position.
   */
  beginField(maxBytes: number): number {
    this.ensure(4 + maxBytes);
    const start = this.pos;
    this.pos += 4;
    return start;
  }

  endField(start: number): void {
    this.buf.writeInt32BE(this.pos - start - 4, start);
  }

  /** A vector field: int32 length, int16 dims, int16 0, dims float4 big-endian. */
  vector(data: Float32Array, offset: number, dims: number): void {
    this.denseFloat(new Uint8Array(data.buffer, data.byteOffset + offset * 4, dims * 4), dims, 4);
  }

  /** A halfvec field: int32 length, int16 dims, int16 0, dims float16 big-endian (from float16 bit patterns). */
  halfvec(data: Uint16Array, offset: number, dims: number): void {
    this.denseFloat(new Uint8Array(data.buffer, data.byteOffset + offset * 2, dims * 2), dims, 2);
  }

  /** The elements copied as they are, then byte-swapped in place (faster than a swapped copy). */
  private denseFloat(elements: Uint8Array, dims: number, width: 2 | 4): void {
    const n = elements.length;
    this.ensure(8 + n);
    const b = this.buf;
    let p = b.writeInt32BE(4 + n, this.pos);
    p = b.writeInt16BE(dims, p);
    p = b.writeInt16BE(0, p);
    b.set(elements, p);
    if (width === 4) b.subarray(p, p + n).swap32();
    else b.subarray(p, p + n).swap16();
    this.pos = p + n;
  }

  /** A bit field (varbit_send): int32 length, int32 bit count, the bytes, most significant bit first. */
  bits(bytes: Uint8Array, bits: number): void {
    this.ensure(8 + bytes.length);
    let p = this.buf.writeInt32BE(4 + bytes.length, this.pos);
    p = this.buf.writeInt32BE(bits, p);
    this.buf.set(bytes, p);
    this.pos = p + bytes.length;
  }

  /** A sparsevec field: int32 length, int32 dims, int32 nnz, int32 0, nnz int32 indices (0-based), nnz float4 values. */
  sparsevec(indices: Uint32Array, values: Float32Array, dims: number): void {
    const n = indices.length * 4;
    this.ensure(16 + 2 * n);
    const b = this.buf;
    let p = b.writeInt32BE(12 + 2 * n, this.pos);
    p = b.writeInt32BE(dims, p);
    p = b.writeInt32BE(indices.length, p);
    p = b.writeInt32BE(0, p);
    b.set(new Uint8Array(indices.buffer, indices.byteOffset, n), p);
    b.set(new Uint8Array(values.buffer, values.byteOffset, n), p + n);
    b.subarray(p, p + 2 * n).swap32();
    this.pos = p + 2 * n;
  }

  finish(): Buffer[] {
    this.flush();
    return this.take();
  }
}

export function copyHeader(sink: ByteSink): void {
  sink.bytes(COPY_SIGNATURE);
  sink.int32(0);
  sink.int32(0);
}

const US_2000 = 946_684_800_000_000n;
const DAYS_1970_2000 = 10_957;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;
const INTEGER = /^-?\d+$/;

function integer(t: string, bits: 16 | 32): number {
  const n = Number(t);
  const limit = 2 ** (bits - 1);
  if (!INTEGER.test(t) || n < -limit || n >= limit) throw new RangeError(`not an int${bits}: ${t}`);
  return n;
}

function timestampMicros(t: string): bigint {
  if (t === 'infinity') return INT64_MAX;
  if (t === '-infinity') return INT64_MIN;
  return isoToMicros(t) - US_2000;
}

/** Binary send format of one neutral text value for the column's typname, or undefined if unsupported. */
export type BinaryEncoder = (text: string) => Uint8Array;

function fixed(size: number, write: (b: Buffer, text: string) => void): BinaryEncoder {
  return (text) => {
    const b = Buffer.allocUnsafe(size);
    write(b, text);
    return b;
  };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC is year 0), any year. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970 of 'YYYY-MM-DD' (four or more year digits, optional ' BC' as PostgreSQL writes it), or NaN. */
function dateDays(year: string, month: string, day: string, bc: string | undefined): number {
  if (bc && Number(year) === 0) return Number.NaN;
  return civilDays(bc ? 1 - Number(year) : Number(year), Number(month), Number(day));
}

/** Days since 1970 of a proleptic Gregorian date (astronomical year), or NaN when the month or day does not exist. */
export function civilDays(y: number, m: number, d: number): number {
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (m < 1 || m > 12 || d < 1 || d > (MONTH_DAYS[m - 1] as number) + (m === 2 && leap ? 1 : 0)) return Number.NaN;
  return daysFromCivil(y, m, d);
}

/**
 * Parses ISO-8601 'YYYY-MM-DDTHH:MM:SS(.ffffff)(Z|±HH:MM)?' to microseconds since 1970 (naive = UTC).
 * Years may have more than four digits and carry PostgreSQL's ' BC' suffix, as the scan writes them.
 */
export function isoToMicros(text: string): bigint {
  const m = /^(\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)?( BC)?$/.exec(text);
  const days = m ? dateDays(m[1] as string, m[2] as string, m[3] as string, m[9]) : Number.NaN;
  if (!m || Number.isNaN(days) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59)
    throw new RangeError(`not an ISO-8601 timestamp: ${text}`);
  const seconds = days * 86_400 + Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]) - zoneSeconds(m[8]);
  return BigInt(seconds) * 1_000_000n + BigInt((m[7] ?? '').padEnd(6, '0'));
}

function zoneSeconds(z: string | undefined): number {
  if (!z || z === 'Z') return 0;
  const sign = z.startsWith('-') ? -1 : 1;
  const digits = z.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2) || '0') * 60);
}

const utf8: BinaryEncoder = (t) => Buffer.from(t, 'utf8');

export const BINARY_ENCODERS: Record<string, BinaryEncoder> = {
  bool: fixed(1, (b, t) => b.writeUInt8(t === 't' || t === 'true' ? 1 : 0)),
  int2: fixed(2, (b, t) => b.writeInt16BE(integer(t, 16))),
  int4: fixed(4, (b, t) => b.writeInt32BE(integer(t, 32))),
  int8: fixed(8, (b, t) => {
    if (!INTEGER.test(t)) throw new RangeError(`not an int64: ${t}`);
    b.writeBigInt64BE(BigInt(t));
  }),
  float4: fixed(4, (b, t) => b.writeFloatBE(Number(t))),
  float8: fixed(8, (b, t) => b.writeDoubleBE(Number(t))),
  text: utf8,
  varchar: utf8,
  bpchar: utf8,
  json: utf8,
  jsonb: (t) => Buffer.concat([Buffer.of(1), Buffer.from(t, 'utf8')]),
  uuid: (t) => {
    const hex = t.replaceAll('-', '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a uuid: ${t}`);
    return Buffer.from(hex, 'hex');
  },
  timestamptz: fixed(8, (b, t) => b.writeBigInt64BE(timestampMicros(t))),
  timestamp: fixed(8, (b, t) => b.writeBigInt64BE(timestampMicros(t))),
  date: fixed(4, (b, t) => {
    if (t === 'infinity' || t === '-infinity') {
      b.writeInt32BE(t === 'infinity' ? 0x7fffffff : -0x80000000);
      return;
    }
    const m = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/.exec(t);
    const days = m ? dateDays(m[1] as string, m[2] as string, m[3] as string, m[4]) : Number.NaN;
    if (Number.isNaN(days)) throw new RangeError(`not a date: ${t}`);
    b.writeInt32BE(days - DAYS_1970_2000);
  }),
  bytea: (t) => Buffer.from(t, 'base64'),
};

/** Element type OIDs for one-dimensional arrays the binary path can encode. */
const ARRAY_ELEMENT_OID: Record<string, number> = {
  bool: 16,
  int2: 21,
  int4: 23,
  int8: 20,
  float4: 700,
  float8: 701,
  text: 25,
  varchar: 1043,
  bpchar: 1042,
  uuid: 2950,
};

/**
 * Binary encoder for a column type, or undefined when it has none (the adapter then uses INSERT).
 * Arrays arrive as JSON text (see pgvector-types toText) and are sent in array_send layout:
 * ndim, has-nulls flag, element oid, length, lower bound 1, then length-prefixed elements.
 */
export function binaryEncoder(typname: string): BinaryEncoder | undefined {
  const scalar = BINARY_ENCODERS[typname];
  if (scalar) return scalar;
  const elem = typname.startsWith('_') ? typname.slice(1) : undefined;
  const oid = elem === undefined ? undefined : ARRAY_ELEMENT_OID[elem];
  const enc = elem === undefined ? undefined : BINARY_ENCODERS[elem];
  if (oid === undefined || enc === undefined) return undefined;
  return (t) => {
    const values = JSON.parse(t) as unknown[];
    if (!Array.isArray(values) || values.some((v) => typeof v === 'object' && v !== null)) {
      throw new RangeError('only one-dimensional arrays of scalars are supported');
    }
    const parts = values.map((v) =>
      v === null ? null : enc(typeof v === 'string' ? v : typeof v === 'boolean' ? (v ? 't' : 'f') : JSON.stringify(v)),
    );
    const size = 20 + parts.reduce((n, p) => n + 4 + (p?.length ?? 0), 0);
    const out = Buffer.allocUnsafe(size);
    let p = out.writeInt32BE(values.length === 0 ? 0 : 1, 0);
    p = out.writeInt32BE(parts.includes(null) ? 1 : 0, p);
    p = out.writeUInt32BE(oid, p);
    if (values.length === 0) return out.subarray(0, 12);
    p = out.writeInt32BE(values.length, p);
    p = out.writeInt32BE(1, p);
    for (const part of parts) {
      if (part === null) {
        p = out.writeInt32BE(-1, p);
        continue;
      }
      p = out.writeInt32BE(part.length, p);
      out.set(part, p);
      p += part.length;
    }
    return out;
  };
}
