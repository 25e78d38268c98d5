/**
 * Rows into binary COPY tuples, straight from the neutral values into one ByteSink: a writer per
 * column that handles the common value shapes (strings, finite numbers, booleans, arrays of strings,
 * the scan's own timestamp form) without going through text and a small Buffer per field. Any other
 * value takes the general path (`toText`, then the column's `binaryEncoder`), which defines the
 * bytes: each fast path writes exactly what the general path would (test/unit/pgvector-copy-encode.test.ts).
 */
import type { PayloadField, PayloadValue } from '../../src/model.js';
import { type BinaryEncoder, type ByteSink, binaryEncoder, civilDays } from './pgvector-copy.js';
import { type ColumnInfo, toText } from './pgvector-types.js';

/** Writes one field (int32 length + bytes, or -1 for NULL) of a value; `undefined` is an absent field. */
export type FieldWriter = (sink: ByteSink, value: PayloadValue | undefined) => void;

type Field = Pick<PayloadField, 'type' | 'array'>;

/** The general path: the value's text for the column, through the column's binary encoder. */
function generalWriter(col: Pick<ColumnInfo, 'typname'>, field: Field, enc: BinaryEncoder): FieldWriter {
  return (sink, value) => {
    const t = toText(value, col, field);
    sink.field(t === null ? null : enc(t));
  };
}

/** A writer for the primary key: an int8 key from a bigint id directly, any other through its text. */
export function idWriter(col: Pick<ColumnInfo, 'typname'>): (sink: ByteSink, id: bigint | string) => void {
  const text = payloadWriter(col, { type: 'string', array: false }) as FieldWriter;
  if (col.typname !== 'int8') return (sink, id) => text(sink, String(id));
  return (sink, id) => (typeof id === 'bigint' && id >= INT64_MIN && id <= INT64_MAX ? sink.bigint64Field(id) : text(sink, String(id)));
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'json']);
const TEXT_ARRAY_OID: Record<string, number> = { _text: 25, _varchar: 1043, _bpchar: 1042 };
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const TWO_32 = 2 ** 32;
const US_PER_DAY = 86_400_000_000;
/** Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const DAYS_1970_2000 = 10_957;

/**
 * A writer for a payload column whose type has a binary encoder, or undefined when it has none
 * (the caller then writes with INSERT).
 */
export function payloadWriter(col: Pick<ColumnInfo, 'typname'>, field: Field): FieldWriter | undefined {
  const enc = binaryEncoder(col.typname);
  if (enc === undefined) return undefined;
  const general = generalWriter(col, field, enc);
  const t = col.typname;
  // A value toText passes through unchanged: a string of a field that is not an array, json or bool.
  const verbatim = !field.array && field.type !== 'json' && field.type !== 'bool';
  if (TEXT_TYPES.has(t) && verbatim) {
    return (sink, v) => (typeof v === 'string' ? sink.utf8Field(v) : general(sink, v));
  }
  const arrayOid = TEXT_ARRAY_OID[t];
  if (arrayOid !== undefined) {
    return (sink, v) => (Array.isArray(v) && v.length > 0 && writeTextArray(sink, v, arrayOid) ? undefined : general(sink, v));
  }
  // Numbers: toText writes a finite number in its shortest round-trip form, which the encoder parses back.
  switch (t) {
    case 'float8':
      return (sink, v) => (typeof v === 'number' && finite(v) ? sink.float64Field(v) : general(sink, v));
    case 'float4':
      return (sink, v) => (typeof v === 'number' && finite(v) ? sink.float32Field(v) : general(sink, v));
    case 'int4':
      return (sink, v) =>
        typeof v === 'number' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX ? sink.int32Field(v) : general(sink, v);
    case 'int8':
      return (sink, v) =>
        typeof v === 'number' && Number.isSafeInteger(v) ? sink.int64Field(Math.floor(v / TWO_32), v >>> 0) : general(sink, v);
    case 'bool':
      return field.type === 'bool' ? (sink, v) => (typeof v === 'boolean' ? sink.uint8Field(v ? 1 : 0) : general(sink, v)) : general;
    case 'jsonb':
      return (sink, v) => {
        const text = toText(v, col, field);
        if (text === null) sink.int32(-1);
        else sink.jsonbField(text);
      };
    case 'timestamptz':
    case 'timestamp':
      return verbatim ? (sink, v) => (typeof v === 'string' && writeScanTimestamp(sink, v) ? undefined : general(sink, v)) : general;
    default:
      return general;
  }
}

/** Finite and not -0 (toText writes -0 as the token `-0`; the general path keeps its sign). */
function finite(v: number): boolean {
  return Number.isFinite(v) && !(v === 0 && 1 / v < 0);
}

/**
 * array_send layout of a one-dimensional text array of strings and nulls (ndim 1, has-nulls flag,
 * element oid, length, lower bound 1, then length-prefixed elements). False (nothing written) when an
 * element is neither: the general path then decides.
 */
function writeTextArray(sink: ByteSink, values: readonly PayloadValue[], oid: number): boolean {
  let nulls = 0;
  let max = 20;
  for (const x of values) {
    if (x === null) nulls = 1;
    else if (typeof x !== 'string') return false;
    max += 4 + 3 * (x === null ? 0 : x.length);
  }
  const start = sink.beginField(max);
  sink.int32(1);
  sink.int32(nulls);
  sink.uint32(oid);
  sink.int32(values.length);
  sink.int32(1);
  for (const x of values) {
    if (x === null) sink.int32(-1);
    else sink.utf8Field(x as string);
  }
  sink.endField(start);
  return true;
}

const digit = (s: string, i: number): number => s.charCodeAt(i) - 48;

/** Two decimal digits at i, or NaN. */
function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

/**
 * The form the scan writes a finite timestamp in, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (four-digit year, AD),
 * as microseconds since 2000-01-01 UTC, in two int32 halves; false for any other form or a year
 * outside 1800-2200 (`isoToMicros` then parses it): within those years microseconds stay below 2^53,
 * so Number arithmetic is exact.
 */
function writeScanTimestamp(sink: ByteSink, s: string): boolean {
  if (s.length !== 27 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84) return false;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 || s.charCodeAt(26) !== 90) return false;
  const y = two(s, 0) * 100 + two(s, 2);
  if (!(y >= 1800 && y <= 2200)) return false;
  const mo = two(s, 5);
  const d = two(s, 8);
  const h = two(s, 11);
  const mi = two(s, 14);
  const sec = two(s, 17);
  const frac = two(s, 20) * 10_000 + two(s, 22) * 100 + two(s, 24);
  const days = civilDays(y, mo, d) - DAYS_1970_2000;
  if (Number.isNaN(days + h + mi + sec + frac) || h > 23 || mi > 59 || sec > 59) return false;
  const us = days * US_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1_000_000 + frac;
  const hi = Math.floor(us / TWO_32);
  sink.int64Field(hi, us - hi * TWO_32);
  return true;
}
