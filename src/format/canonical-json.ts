import { parse as losslessParse } from 'lossless-json';
import { JsonNumber, type Payload, type PayloadValue } from '../model.js';
import { JsonTooDeepError, MAX_PAYLOAD_DEPTH, jsonDepthExceeds } from './bounded-json.js';

// Keys that JavaScript engines enumerate first, in numeric order, whatever the insertion order.
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * A copy with object keys inserted in UTF-16 code-unit order, or undefined when the value holds an
 * object with an array-index-like key (JS would enumerate it out of that order) or a JsonNumber
 * (JSON.stringify cannot write its text verbatim). Copies are null-prototype objects: a key such
 * as "__proto__" is an ordinary key, never the prototype setter.
 */
function sortedCopy(v: PayloadValue): PayloadValue | undefined {
  if (v === 0 && 1 / v < 0) return undefined; // -0: JSON.stringify would write 0, the general writer -0
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof JsonNumber) return undefined;
  if (Array.isArray(v)) {
    const out: PayloadValue[] = new Array<PayloadValue>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = sortedCopy(v[i] as PayloadValue);
      if (x === undefined) return undefined;
      out[i] = x;
    }
    return out;
  }
  const keys = Object.keys(v).sort();
  const out = Object.create(null) as { [key: string]: PayloadValue };
  for (const k of keys) {
    if (ARRAY_INDEX.test(k)) return undefined;
    const x = sortedCopy(v[k] as PayloadValue);
    if (x === undefined) return undefined;
    out[k] = x;
  }
  return out;
}

/**
 * True when JSON.stringify writes `v` as JCS: object keys already in UTF-16 order and none
 * array-index-like, no JsonNumber, no -0, nothing JSON.stringify would change (undefined members,
 * functions, toJSON). A check without a copy; sortedCopy handles everything else.
 */
function inCanonicalOrder(v: PayloadValue): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return v !== 0 || 1 / v > 0;
    case 'object':
      break;
    default:
      return false;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!inCanonicalOrder(v[i] as PayloadValue)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== null && proto !== Object.prototype) return false; // JsonNumber, Date, ... (toJSON)
  let prev: string | undefined;
  for (const k in v) {
    if (!Object.hasOwn(v, k)) return false;
    if ((prev !== undefined && !(prev < k)) || ARRAY_INDEX.test(k)) return false;
    if (!inCanonicalOrder((v as Record<string, PayloadValue>)[k] as PayloadValue)) return false;
    prev = k;
  }
  return true;
}

/** The general writer: JCS, with a JsonNumber written as its text. Undefined members are skipped, as JSON.stringify does. */
function write(v: PayloadValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === 0 && 1 / v < 0) return '-0'; // the token -0, as a JsonNumber('-0') is written: never a silent 0
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => write(x) ?? 'null').join(',')}]`;
  const parts: string[] = [];
  for (const k of Object.keys(v).sort()) {
    const x = write(v[k]);
    if (x !== undefined) parts.push(`${JSON.stringify(k)}:${x}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * RFC 8785 (JCS) canonical JSON: keys sorted by UTF-16 code units, ECMAScript number serialisation,
 * no whitespace; a {@link JsonNumber} (a number a float64 would change) is written as its exact
 * text, and a number -0 (which JSON.stringify writes as 0) as the token `-0`, exactly as a
 * JsonNumber('-0') — so no sign is lost silently, and it reads back as a number. The record digest hashes this, so two engines holding the same payload produce the same bytes.
 *
 * Fast path: JSON.stringify of a key-sorted copy, which is byte-identical to JCS for JSON values
 * (JCS's number and string rules are JSON.stringify's) and ~5x faster than a recursive writer
 * (bench/segment-encode-micro.ts). Objects with array-index keys such as "10" and values holding a
 * JsonNumber take the general writer, because JavaScript enumerates those keys numerically first.
 */
export function canonicalPayload(payload: Payload): string {
  // Most payloads are built with their keys in order already (an adapter inserts columns sorted):
  // then JSON.stringify writes them as they are, without a sorted copy.
  if (inCanonicalOrder(payload)) return JSON.stringify(payload);
  const sorted = sortedCopy(payload);
  if (sorted !== undefined) return JSON.stringify(sorted);
  return write(payload) ?? '{}';
}

/** Canonical JSON of one value (e.g. a json column's value sent back to its engine), JsonNumbers verbatim. */
export function stringifyPayloadValue(value: PayloadValue): string {
  return write(value) ?? 'null';
}

/**
 * A quick filter: patterns of number tokens JSON.parse could change — 16 or more significant digits,
 * a trailing fractional zero (`1.50`), an exponent (`1e400`), `-0`, six leading fractional zeros
 * (JavaScript writes 1e-7 in exponent form). It also matches inside strings (half of all UUIDs hold
 * `\d[eE]\d`), so a match is confirmed token by token before the slower exact parser runs.
 */
const MAYBE_INEXACT = /(?:\d\.?){16}|\.\d*0(?!\d)|\d[eE][+-]?\d|-0(?![.\d])|\.0{6}/;

/**
 * Every JSON number token: one starts the text or follows `[`, `:` or `,` (whitespace between).
 * Strings may hold such a sequence too (`"a,1.50"`); that only sends a text to the exact parser.
 */
const NUMBER_TOKEN = /(?:^|[[:,])\s*(-?\d[\d.eE+-]*)/g;

/** True when some number token of `text` is not the ECMAScript shortest form of its float64 (JSON.parse would change it). */
function mayBeInexact(text: string): boolean {
  NUMBER_TOKEN.lastIndex = 0;
  for (let m = NUMBER_TOKEN.exec(text); m !== null; m = NUMBER_TOKEN.exec(text)) {
    const token = m[1] as string;
    if (String(Number(token)) !== token) return true;
  }
  return false;
}

function exactNumber(token: string): number | JsonNumber {
  const n = Number(token);
  return String(n) === token ? n : new JsonNumber(token);
}

/**
 * Parses JSON text (a payload, or a json value the engine rendered) without changing any number:
 * a number token whose text is the ECMAScript shortest round-trip form of its float64 becomes a
 * `number`, any other (`9007199254740993`, `1.50`, `-0`, `1e400`) a {@link JsonNumber} of its text.
 * Keys such as "__proto__" become own properties.
 */
export function parseExactJson(text: string): PayloadValue {
  if (!MAYBE_INEXACT.test(text)) return JSON.parse(text) as PayloadValue;
  const value = JSON.parse(text) as PayloadValue;
  // Canonical text (every stored payload) that JSON.stringify writes back unchanged held only numbers in
  // their shortest round-trip form: nothing was changed. Two native calls, where the token check below
  // also fires on digits inside strings (timestamps, ids) and sends such payloads to the slower parser.
  if (JSON.stringify(value) === text || !mayBeInexact(text)) return value;
  return losslessParse(text, null, exactNumber) as PayloadValue;
}

/**
 * A payload read back from canonical JSON: exact numbers, and a null-prototype top level so field names
 * never meet Object.prototype. Stored text is untrusted: nesting deeper than MAX_PAYLOAD_DEPTH is a
 * JsonTooDeepError before any recursive code sees it (the segment reader reports it as damage).
 */
export function parsePayload(text: string): Payload {
  if (jsonDepthExceeds(text, MAX_PAYLOAD_DEPTH)) throw new JsonTooDeepError(MAX_PAYLOAD_DEPTH);
  const p = parseExactJson(text);
  if (p === null || typeof p !== 'object' || Array.isArray(p) || p instanceof JsonNumber) return p as unknown as Payload;
  return Object.setPrototypeOf(p, null) as Payload;
}

/**
 * True when `text` is the canonical JSON of the payload it holds: `canonicalPayload(parsePayload(text)) === text`,
 * the check verify makes of every stored payload. A plain object that JSON.stringify writes back
 * unchanged with its keys in order is canonical after two native calls and a walk; anything else
 * (exact numbers, -0, array-index keys, a top level that is no object) takes the exact route. Deeper
 * nesting than MAX_PAYLOAD_DEPTH is a JsonTooDeepError, text that is no JSON a SyntaxError.
 */
export function isCanonicalPayloadText(text: string): boolean {
  if (jsonDepthExceeds(text, MAX_PAYLOAD_DEPTH)) throw new JsonTooDeepError(MAX_PAYLOAD_DEPTH);
  const value = JSON.parse(text) as PayloadValue;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && inCanonicalOrder(value) && JSON.stringify(value) === text) {
    return true;
  }
  return canonicalPayload(parsePayload(text)) === text;
}
