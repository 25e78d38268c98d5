/**
 * Type mapping between PostgreSQL columns and vectordr's neutral payload types, in both directions:
 * - scan: a SELECT expression per column that yields text (or bytea for vectors) in a canonical,
 *   session-setting-independent form, and a parser from that text to the neutral JSON value;
 * - write: the neutral value to text (cast server-side) and, for the COPY fast path, binary encoders.
 */
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
  json: 'json',
  jsonb: 'json',
  bytea: 'bytes',
};

export function neutralType(typname: string): { type: PayloadType; array: boolean } {
  const array = typname.startsWith('_');
  const base = array ? typname.slice(1) : typname;
  const type = BY_TYPNAME[base];
  if (array && (type === undefined || type === 'json' || type === 'bytes' || type === 'datetime' || type === 'date')) return { type: 'json', array: false };
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

/** SELECT expression producing canonical text for a payload column. */
export function selectExpr(col: ColumnInfo, field: Pick<PayloadField, 'type' | 'array'>): string {
  const c = quoteIdent(col.name);
  // int8 elements as strings so JSON parsing cannot round them; parseText turns them back.
  if (field.array && field.type === 'int64') return `to_json(${c}::text[])::text`;
  if (field.array || (field.type === 'json' && col.typname.startsWith('_'))) return `to_json(${c})::text`;
  switch (field.type) {
    case 'datetime': {
      // Naive timestamps are taken as UTC; 'infinity' and '-infinity' pass through as text.
      const utc = col.typname === 'timestamptz' ? `${c} AT TIME ZONE 'UTC'` : c;
      return `CASE WHEN isfinite(${c}) THEN to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') ELSE ${c}::text END`;
    }
    case 'date':
      return `CASE WHEN isfinite(${c}) THEN to_char(${c}, 'YYYY-MM-DD') ELSE ${c}::text END`;
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


export function parseText(text: string | null, field: Pick<PayloadField, 'type' | 'array'>): PayloadValue {
  if (text === null) return null;
  if (field.array && field.type === 'int64') return (JSON.parse(text) as (string | null)[]).map((v) => (v === null ? null : int64ToJson(v)));
  if (field.array || field.type === 'json') return JSON.parse(text) as PayloadValue;
  switch (field.type) {
    case 'bool':
      return text === 't' || text === 'true';
    case 'int32':
      return Number(text);
    case 'int64':
      return int64ToJson(text);
    case 'float32':
    case 'float64': {
      const n = Number(text);
      return Number.isFinite(n) ? n : text; // NaN / Infinity have no JSON number form
    }
    default:
      return text;
  }
}

/** Neutral JSON value -> text PostgreSQL casts back to the column type. */
export function toText(value: PayloadValue | undefined, field: Pick<PayloadField, 'type' | 'array'>): string | null {
  if (value === null || value === undefined) return null;
  if (field.array) return JSON.stringify(value);
  switch (field.type) {
    case 'json':
      return JSON.stringify(value);
    case 'bool':
      return value ? 't' : 'f';
    default:
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

/** Server-side cast from the text parameter to the column type. */
export function castExpr(param: string, nativeType: string, field: Pick<PayloadField, 'type' | 'array'>): string {
  if (field.type === 'bytes' && !field.array) return `decode(${param}, 'base64')::${nativeType}`;
  // Arrays, including arrays of types captured as JSON (numeric[], date[], jsonb[], ...).
  if (field.array || nativeType.endsWith('[]')) {
    return `CASE WHEN ${param} IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(${param}::jsonb))::${nativeType} END`;
  }
  return `${param}::${nativeType}`;
}
