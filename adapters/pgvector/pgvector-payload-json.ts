/**
 * A row's canonical payload JSON (RFC 8785, src/format/canonical-json.ts), written as UTF-8 straight
 * from the payload fields' COPY bytes, for a snapshot scan (`ScanOptions.payloadJson`): no payload
 * object per row and no canonicalising pass over it afterwards, which were most of the main thread's
 * CPU in a snapshot after the segment work moved to workers (docs/benchmarks.md, "Payload JSON from
 * COPY bytes").
 *
 * A field is written directly only where its bytes are already what canonicalPayload would write
 * for the value parseText gives (pgvector-types.ts): text that needs only JSON escaping (valid UTF-8),
 * decimal integers, booleans, finite floats (fixed notation as it is, exponent notation rewritten as
 * JavaScript writes the number), and text
 * arrays whose to_json text is already in JSON.stringify's form. Anything else (json, jsonb, dates,
 * other arrays, NaN and -0, big integers, a field that arrives as a JS string) takes the object path
 * for that field alone: parseText, then stringifyPayloadValue. Keys are written in UTF-16 order, as
 * canonical JSON sorts them. test/pgvector/payload-json.test.ts compares both paths byte for byte.
 */
import { isUtf8 } from 'node:buffer';
import { stringifyPayloadValue } from '../../src/format/canonical-json.js';
import type { PackedText } from '../../src/format/packed-text.js';
import { type RawField, rawText } from './pgvector-batch.js';
import type { TableInfo } from './pgvector-describe.js';
import { parseText } from './pgvector-types.js';

/** How a field's COPY text becomes JSON: written as it is (after a check), or through the value. */
type FieldKind = 'text' | 'int' | 'bool' | 'float' | 'text-array' | 'value';

interface FieldPlan {
  /** Index of the field in the raw row. */
  at: number;
  /** `"name":` as UTF-8. */
  key: Uint8Array;
  kind: FieldKind;
  col: TableInfo['payload'][number]['col'];
  field: TableInfo['payload'][number]['field'];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = '0123456789abcdef';

/** The kind of a payload column: what the scan's select list (selectExpr) gives for it, and what parseText makes of that. */
function kindOf(p: TableInfo['payload'][number]): FieldKind {
  const { col, field } = p;
  const arrayType = col.typname.startsWith('_');
  if (field.array) return arrayType && field.type === 'string' ? 'text-array' : 'value';
  if (arrayType) return field.type === 'string' ? 'text' : 'value';
  switch (field.type) {
    case 'string':
    case 'uuid':
    case 'datetime':
    case 'bytes':
      return 'text';
    case 'int32':
    case 'int64':
      return 'int';
    case 'bool':
      return 'bool';
    case 'float32':
    case 'float64':
      return 'float';
    default:
      return 'value';
  }
}

/** Accumulates rows' canonical payload JSON into one UTF-8 buffer per batch (`take`). */
export class PayloadJsonWriter {
  private readonly plans: FieldPlan[];
  private buf: Buffer;
  private pos = 0;
  private offsets: number[] = [0];

  /** @param base index of the first payload field in a raw row (after the id and the vectors). */
  constructor(info: TableInfo, base: number, capacity = 64 * 1024) {
    const names = info.payload.map((p) => p.field.name);
    // UTF-16 code-unit order, as canonical JSON sorts keys (and as BatchBuilder inserts them).
    const order = names.map((_, k) => k).sort((a, b) => ((names[a] as string) < (names[b] as string) ? -1 : 1));
    this.plans = order.map((k) => {
      const p = info.payload[k] as TableInfo['payload'][number];
      return { at: base + k, key: Buffer.from(`${JSON.stringify(p.field.name)}:`, 'utf8'), kind: kindOf(p), col: p.col, field: p.field };
    });
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.pos + n, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A short ASCII string (a number, true/false): a loop beats Buffer.write's call overhead at this size. */
  private ascii(s: string): void {
    this.ensure(s.length);
    const buf = this.buf;
    let o = this.pos;
    for (let i = 0; i < s.length; i++) buf[o++] = s.charCodeAt(i);
    this.pos = o;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  add(row: readonly RawField[]): void {
    this.byte(0x7b); // {
    let first = true;
    for (const p of this.plans) {
      const raw = row[p.at] ?? null;
      // SQL NULL is an absent field, as on the object path.
      if (raw === null) continue;
      if (!first) this.byte(0x2c); // ,
      first = false;
      this.bytes(p.key);
      if (typeof raw === 'string' || !this.direct(p.kind, raw)) this.value(p, raw);
    }
    this.byte(0x7d); // }
    this.offsets.push(this.pos);
  }

  /** Writes the field's JSON straight from its bytes; false (nothing written) when it must take the object path. */
  private direct(kind: FieldKind, raw: Uint8Array): boolean {
    switch (kind) {
      case 'text':
        return this.jsonString(raw);
      case 'int':
        if (!isCanonicalInt(raw)) return false;
        this.bytes(raw);
        return true;
      case 'bool':
        this.ascii(isTrue(raw) ? 'true' : 'false');
        return true;
      case 'float': {
        if (isFixedFloat(raw)) {
          this.bytes(raw);
          return true;
        }
        // Exponent form (JavaScript places exponents elsewhere): through the number. float8 text is at most 24 ASCII bytes.
        const n = Number(String.fromCharCode.apply(null, raw as unknown as number[]));
        // parseText keeps NaN, ±Infinity and -0 as their text (a JSON string): the object path writes those.
        if (!Number.isFinite(n) || Object.is(n, -0)) return false;
        this.ascii(String(n));
        return true;
      }
      case 'text-array':
        if (!isCanonicalStringArray(raw)) return false;
        this.bytes(raw);
        return true;
      default:
        return false;
    }
  }

  /** The object path for one field: its value as parseText reads it, written as canonical JSON. */
  private value(p: FieldPlan, raw: RawField): void {
    const s = stringifyPayloadValue(parseText(rawText(raw), p.col, p.field));
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** `raw` (text) as a JSON string, escaped as JSON.stringify escapes; false when it is not valid UTF-8. */
  private jsonString(raw: Uint8Array): boolean {
    let high = false;
    let escapes = 0;
    for (let i = 0; i < raw.length; i++) {
      const b = raw[i] as number;
      if (b < 0x20 || b === QUOTE || b === BACKSLASH) escapes++;
      else if (b >= 0x80) high = true;
    }
    // Invalid UTF-8 (a SQL_ASCII database) decodes to U+FFFD on the object path: let it.
    if (high && !isUtf8(raw)) return false;
    this.ensure(raw.length + escapes * 6 + 2);
    const buf = this.buf;
    let o = this.pos;
    buf[o++] = QUOTE;
    if (escapes === 0) {
      buf.set(raw, o);
      o += raw.length;
    } else {
      for (let i = 0; i < raw.length; i++) {
        const b = raw[i] as number;
        if (b >= 0x20 && b !== QUOTE && b !== BACKSLASH) {
          buf[o++] = b;
          continue;
        }
        buf[o++] = BACKSLASH;
        const short = b === QUOTE ? 0x22 : b === BACKSLASH ? 0x5c : SHORT_ESCAPES[b];
        if (short !== undefined) buf[o++] = short;
        else {
          o += buf.write(`u00${HEX[b >> 4]}${HEX[b & 15]}`, o, 'latin1');
        }
      }
    }
    buf[o++] = QUOTE;
    this.pos = o;
    return true;
  }

  /** The rows added since the last take, as packed UTF-8 in a buffer of their own. */
  take(): PackedText {
    const bytes = new Uint8Array(new ArrayBuffer(this.pos));
    bytes.set(this.buf.subarray(0, this.pos));
    const out = { bytes, offsets: Uint32Array.from(this.offsets) };
    this.pos = 0;
    this.offsets = [0];
    return out;
  }
}

/** The writer of a scan's rows: payload fields follow the id and the vector columns (selectList). */
export function payloadJsonWriter(info: TableInfo): PayloadJsonWriter {
  return new PayloadJsonWriter(info, 1 + info.vectors.length);
}

/** JSON.stringify's two-character escapes of control characters (\b \t \n \f \r); the rest are \u00xx. */
const SHORT_ESCAPES: Partial<Record<number, number>> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };

/** parseText's bool: 't' or 'true'. */
function isTrue(raw: Uint8Array): boolean {
  if (raw.length === 1) return raw[0] === 0x74;
  return raw.length === 4 && raw[0] === 0x74 && raw[1] === 0x72 && raw[2] === 0x75 && raw[3] === 0x65;
}

/**
 * float8 text in fixed notation (digits, `.`, a leading `-`), not `-0`. PostgreSQL writes the shortest
 * round-trip digits (since 12, with extra_float_digits >= 1: the scan's `::float8::text`), in fixed
 * notation only for decimal exponents -4..14; JavaScript writes the same shortest digits in fixed
 * notation for -6..20. So the text is what String(Number(text)) gives, and canonical JSON writes that.
 */
function isFixedFloat(raw: Uint8Array): boolean {
  const neg = raw[0] === 0x2d ? 1 : 0;
  if (raw.length === neg) return false;
  if (neg === 1 && raw.length === 2 && raw[1] === 0x30) return false; // -0: parseText keeps it as text
  for (let i = neg; i < raw.length; i++) {
    const b = raw[i] as number;
    if ((b < 0x30 || b > 0x39) && b !== 0x2e) return false;
  }
  return true;
}

/**
 * A decimal integer as JSON writes it (`0`, or an optional `-` and digits without a leading zero),
 * of at most 15 digits: a safe integer, which int64ToJson keeps a number and JSON writes digit for
 * digit. Longer ones (big int8s are written as strings) take the object path.
 */
function isCanonicalInt(raw: Uint8Array): boolean {
  const neg = raw[0] === 0x2d ? 1 : 0;
  const digits = raw.length - neg;
  if (digits < 1 || digits > 15) return false;
  if (raw[neg] === 0x30) return digits === 1 && neg === 0;
  for (let i = neg; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b < 0x30 || b > 0x39) return false;
  }
  return true;
}

/**
 * True when `raw` is a JSON array of strings and nulls exactly as JSON.stringify writes it: no
 * whitespace, escapes only `\"`, `\\`, `\b \t \n \f \r` and `\u00xx` (lowercase) for the other
 * control characters, valid UTF-8. Then JSON.parse and a canonical re-write give back the same bytes.
 */
export function isCanonicalStringArray(raw: Uint8Array): boolean {
  const n = raw.length;
  if (n < 2 || raw[0] !== 0x5b || raw[n - 1] !== 0x5d) return false;
  if (n === 2) return true;
  let i = 1;
  let high = false;
  for (;;) {
    if (raw[i] === 0x6e) {
      if (raw[i + 1] !== 0x75 || raw[i + 2] !== 0x6c || raw[i + 3] !== 0x6c) return false;
      i += 4;
    } else if (raw[i] === QUOTE) {
      i++;
      for (;;) {
        if (i >= n) return false;
        const b = raw[i] as number;
        if (b === QUOTE) break;
        if (b < 0x20) return false;
        if (b >= 0x80) high = true;
        if (b === BACKSLASH) {
          const e = raw[i + 1];
          if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x74 || e === 0x6e || e === 0x66 || e === 0x72) i += 2;
          else if (e === 0x75) {
            // \u00xx, lowercase hex, only for a control character without a short escape.
            if (raw[i + 2] !== 0x30 || raw[i + 3] !== 0x30) return false;
            const h = HEX.indexOf(String.fromCharCode(raw[i + 4] ?? 0));
            const l = HEX.indexOf(String.fromCharCode(raw[i + 5] ?? 0));
            if (h < 0 || h > 1 || l < 0 || SHORT_ESCAPES[h * 16 + l] !== undefined) return false;
            i += 6;
          } else return false;
        } else i++;
      }
      i++;
    } else return false;
    if (i === n - 1) break;
    if (raw[i] !== 0x2c) return false;
    i++;
  }
  return !high || isUtf8(raw);
}
