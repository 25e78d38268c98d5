/**
 * Type mapping between PostgreSQL columns and vectordr's neutral payload types, in both directions:
 * - scan: a SELECT expression per column that yields text (or bytea for vectors) in a canonical,
 *   session-setting-independent form, and a parser from that text to the neutral JSON value;
 * - write: the neutral value to text (cast server-side) and, for the COPY fast path, binary encoders.
 */
import { parseExactJson, stringifyPayloadValue } from '../../src/format/canonical-json.js';
import { type PayloadField, type PayloadType, type PayloadValue, int64ToJson } from '../../src/model.js';
import { quoteIdent } from './pgvector-sql.js';

/** typname (pg_type) -> neutral type. Unknown types travel as their text form (`string`) with nativeType kept. */
const BY_TYPNAME: Record<string, PayloadType> = {
  bool: 'bool',
  int2: 'int32',
  int4: 'int32',
  int8: 'int64',
  float4: 'float32',
  float8: 'float64',
  text: 'string',
  varchar: 'string',
  bpchar: 'string',
  name: 'string',
  citext: 'string',
  uuid: 'uuid',
  timestamptz: 'datetime',
  timestamp: 'datetime',
  date: 'date',
  // json (not jsonb) keeps its text: key order, duplicate keys, whitespace, `1.50`. It travels as
  // that exact text (a string with nativeType json), so a restore into PostgreSQL gets it back byte
  // for byte; parsing it would change it.
  json: 'string',
  jsonb: 'json',
  bytea: 'bytes',
};

export function neutralType(typname: string): { type: PayloadType; array: boolean } {
  const array = typname.startsWith('_');
  const base = array ? typname.slice(1) : typname;
  // json[]: the array's text form, for the same reason as json.
  if (base === 'json') return { type: 'string', array: false };
  const type = BY_TYPNAME[base];
  if (array && (type === undefined || type === 'json' || type === 'bytes' || type === 'datetime' || type === 'date'))
    return { type: 'json', array: false };
  return { type: type ?? 'string', array };
}

/** Default column type when the snapshot came from another engine (no nativeType). */
export function defaultNativeType(field: Pick<PayloadField, 'type' | 'array'>): string {
  const base: Record<PayloadType, string> = {
    bool: 'boolean',
    int32: 'integer',
    int64: 'bigint',
    float32: 'real',
    float64: 'double precision',
    string: 'text',
    uuid: 'uuid',
    datetime: 'timestamp with time zone',
    date: 'date',
    json: 'jsonb',
    bytes: 'bytea',
  };
  return base[field.type] + (field.array ? '[]' : '');
}

export interface ColumnInfo {
  name: string;
  typname: string;
  /** format_type() output, e.g. `character varying(64)`. */
  formatted: string;
  notNull: boolean;
}

/** A column the neutral model holds as an array (typed, or as JSON) rather than as its text form. */
function isJsonArray(col: Pick<ColumnInfo, 'typname'>, field: Pick<PayloadField, 'type' | 'array'>): boolean {
  return col.typname.startsWith('_') && (field.array || field.type !== 'string');
}

/**
 * Prefix of an array value held as the engine's own text form (`L[0:2]={1,2,3}`): arrays with
 * explicit lower bounds or more than one dimension, and jsonb[] with SQL NULL elements (JSON
 * cannot tell them from JSON null). No JSON text starts with it.
 */
const ARRAY_LITERAL = 'L';

/** SELECT expression producing canonical text for a payload column. */
export function selectExpr(col: ColumnInfo, field: Pick<PayloadField, 'type' | 'array'>): string {
  const c = quoteIdent(col.name);
  if (isJsonArray(col, field)) {
    // int8 elements as strings so JSON parsing cannot round them; parseText turns them back.
    const json = field.array && field.type === 'int64' ? `to_json(${c}::text[])::text` : `to_json(${c})::text`;
    const literal = `'${ARRAY_LITERAL}' || ${c}::text`;
    const nullElements = col.typname === '_jsonb' ? ` WHEN array_position(${c}, NULL) IS NOT NULL THEN ${literal}` : '';
    return `CASE WHEN array_ndims(${c}) > 1 OR array_lower(${c}, 1) <> 1 THEN ${literal}${nullElements} ELSE ${json} END`;
  }
  switch (field.type) {
    case 'datetime': {
      // Naive timestamps are taken as UTC; 'infinity' and '-infinity' pass through as text; years
      // before 1 AD carry PostgreSQL's ' BC' suffix (ISO 8601 has no year 0, and to_char's YYYY is unsigned).
      const utc = col.typname === 'timestamptz' ? `(${c} AT TIME ZONE 'UTC')` : c;
      return (
        `CASE WHEN isfinite(${c}) THEN to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || CASE ` +
        `WHEN to_char(${utc}, 'BC') = 'BC' THEN ' BC' ELSE '' END ELSE ${c}::text END`
      );
    }
    case 'date':
      // Days since 2000-01-01, formatted by parseText: to_char() converts to timestamp, whose range
      // ends in 294276 AD while dates go to 5874897 AD, and date's own text output follows DateStyle.
      return `CASE WHEN isfinite(${c}) THEN (${c} - DATE '2000-01-01')::text ELSE ${c}::text END`;
    case 'bytes':
      return `translate(encode(${c}, 'base64'), E'\\n', '')`;
    case 'float32':
    case 'float64':
      // float8 text output is shortest-round-trip since PostgreSQL 12, independent of extra_float_digits >= 1.
      return `${c}::float8::text`;
    default:
      return `${c}::text`;
  }
}

/** 'YYYY-MM-DD' of a day count from 2000-01-01, proleptic Gregorian; years before 1 AD as PostgreSQL writes them ('0044-03-15 BC'). */
function isoDate(daysFrom2000: number): string {
  // civil_from_days (H. Hinnant), on days since 0000-03-01.
  const z = daysFrom2000 + 10_957 + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  const ymd = `${pad(y > 0 ? y : 1 - y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
  return y > 0 ? ymd : `${ymd} BC`;
}

/** A float as the neutral model holds it: a number, or "NaN", "Infinity", "-Infinity", "-0" (no JSON number form). */
function floatValue(n: number, text: string): PayloadValue {
  return Number.isFinite(n) && !Object.is(n, -0) ? n : text;
}

/** The neutral value of a column's text; `col` is the column it was read from. SQL NULL is null. */
export function parseText(
  text: string | null,
  col: Pick<ColumnInfo, 'typname'>,
  field: Pick<PayloadField, 'type' | 'array'>,
): PayloadValue {
  if (text === null) return null;
  if (isJsonArray(col, field)) {
    if (text.startsWith(ARRAY_LITERAL)) return text.slice(ARRAY_LITERAL.length);
    if (field.array && field.type === 'int64')
      return (JSON.parse(text) as (string | null)[]).map((v) => (v === null ? null : int64ToJson(v)));
    if (field.array && (field.type === 'float32' || field.type === 'float64')) {
      return (JSON.parse(text) as (number | string | null)[]).map((v) =>
        typeof v === 'number' ? floatValue(v, Object.is(v, -0) ? '-0' : String(v)) : v,
      );
    }
    return field.array ? (JSON.parse(text) as PayloadValue) : parseExactJson(text);
  }
  if (field.type === 'json') return parseExactJson(text);
  switch (field.type) {
    case 'bool':
      return text === 't' || text === 'true';
    case 'int32':
      return Number(text);
    case 'int64':
      return int64ToJson(text);
    case 'float32':
    case 'float64':
      return floatValue(Number(text), text);
    case 'date':
      return /^-?\d+$/.test(text) ? isoDate(Number(text)) : text;
    default:
      return text;
  }
}

/**
 * Neutral value -> text PostgreSQL casts back to the target column (`col`). `undefined` is an
 * absent field (SQL NULL); null is SQL NULL too, except in a json/jsonb column, where a present
 * null is the JSON value null.
 */
export function toText(
  value: PayloadValue | undefined,
  col: Pick<ColumnInfo, 'typname'>,
  field: Pick<PayloadField, 'type' | 'array'>,
): string | null {
  if (value === undefined) return null;
  if (value === null) return col.typname === 'jsonb' || col.typname === 'json' ? 'null' : null;
  if (field.array || field.type === 'json') return stringifyPayloadValue(value);
  if (field.type === 'bool') return value ? 't' : 'f';
  return typeof value === 'string' ? value : stringifyPayloadValue(value);
}

/** True when the value is an array held as its text form (see ARRAY_LITERAL): binary COPY cannot send it. */
export function isArrayLiteral(
  value: PayloadValue | undefined,
  col: Pick<ColumnInfo, 'typname'>,
  field: Pick<PayloadField, 'type' | 'array'>,
): boolean {
  return typeof value === 'string' && isJsonArray(col, field);
}

/** Server-side cast from the text parameter to the column type. */
export function castExpr(param: string, nativeType: string, field: Pick<PayloadField, 'type' | 'array'>): string {
  if (field.type === 'bytes' && !field.array) return `decode(${param}, 'base64')::${nativeType}`;
  // Arrays, including arrays of types captured as JSON (numeric[], date[], jsonb[], ...); an array
  // held as its text form arrives as a JSON string. json[] travels as text (type string): a plain cast.
  if (field.array || (nativeType.endsWith('[]') && field.type !== 'string')) {
    // jsonb elements as jsonb: as text, a JSON string element '"abc"' would lose its quotes.
    const elements = /^jsonb?(\[\])+$/.test(nativeType)
      ? `SELECT e FROM jsonb_array_elements(${param}::jsonb) AS e`
      : `SELECT jsonb_array_elements_text(${param}::jsonb)`;
    return (
      `CASE WHEN ${param} IS NULL THEN NULL WHEN left(${param}, 1) = '"' THEN (${param}::jsonb ` +
      `#>> '{}')::${nativeType} ELSE ARRAY(${elements})::${nativeType} END`
    );
  }
  return `${param}::${nativeType}`;
}

/** pgvector's text form; -0 written as -0 (String(-0) is "0"). */
export function vectorLiteral(v: Float32Array): string {
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    out += (i > 0 ? ',' : '') + (Object.is(x, -0) ? '-0' : String(x));
  }
  return `${out}]`;
}
