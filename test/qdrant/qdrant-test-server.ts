/**
 * An in-memory, Qdrant-compatible HTTP server for tests, for machines where a real Qdrant cannot
 * run. Every request and every response is checked against Qdrant's published OpenAPI document
 * (v1.19, vendored next to this file): a request Qdrant would refuse is answered 400 and recorded
 * in `violations`, and a response that does not match the document is recorded too (that one is
 * a bug here). Tests assert `violations` stays empty, so an adapter that passes against this
 * server speaks the real API.
 *
 * Behaviour follows Qdrant 1.19 where a disaster-recovery tool can observe it: exact u64 and uuid
 * ids, id-ordered scroll paging, Cosine normalisation on write in float32, float32 storage,
 * asynchronous `wait=false` writes, atomic alias changes, Qdrant's error texts and status codes,
 * float payload numbers parsed as lossily as Qdrant parses them (qdrant-json-numbers.ts).
 * Search is always exact brute force. What is valid per the schema but not emulated is refused
 * with 400 and a message saying so, never ignored.
 *
 * ```ts
 * const server = await startQdrantTestServer();
 * const client = new QdrantClient({ url: server.url });
 * // ... exercise the adapter ...
 * expect(server.violations).toEqual([]);
 * await server.close();
 * ```
 *
 * CLI: `npx tsx test/qdrant/qdrant-test-server.ts --port 54370 [--host 127.0.0.1] [--api-key K]`
 * prints `QDRANT_URL=http://127.0.0.1:54370` and serves until SIGTERM.
 */
import { float16ToFloat32, float32ToFloat16 } from '../../src/format/vector-elements.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { LosslessNumber, isLosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { OpenApiValidator, QDRANT_UUID, type OpenApiOperation } from './openapi-validator.js';
import { storedPayload } from './qdrant-json-numbers.js';

export interface QdrantTestServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Every request or response that failed OpenAPI validation, one line each. */
  readonly violations: string[];
  /** Requests served so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export interface QdrantTestServerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** When set, every request except `/`, `/healthz`, `/readyz`, `/livez` needs `api-key` or `Authorization: Bearer`. */
  apiKey?: string;
  /**
   * How long a `wait=false` write stays invisible before it is applied. Real Qdrant applies it
   * "soon"; a delay makes tests that forget to wait fail here instead of flaking in production.
   * @default 20
   */
  asyncApplyDelayMs?: number;
  /** Called with each violation as it is recorded (the CLI prints them). */
  onViolation?: (line: string) => void;
}

const QDRANT_VERSION = '1.19.0';
const U64_MAX = (1n << 64n) - 1n;
const F32_EPSILON = 1.1920929e-7;
const NORMALIZED_TOLERANCE = Math.fround(1e-6);

let sharedValidator: OpenApiValidator | undefined;
/** Compiling the document's schemas is the slow part (~1 s); every server in the process shares one. */
function validator(): OpenApiValidator {
  sharedValidator ??= OpenApiValidator.fromFile(new URL('./openapi-v1.19.json', import.meta.url));
  return sharedValidator;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** An error answered in Qdrant's shape. `violation` marks a request the real API would refuse. */
class QdrantError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly violation = false,
  ) {
    super(message);
  }
}

const badInput = (description: string) => new QdrantError(400, `Wrong input: ${description}`);
const notFound = (description: string) => new QdrantError(404, `Not found: ${description}`);
const collectionNotFound = (name: string) => notFound(`Collection \`${name}\` doesn't exist!`);
const validationError = (description: string) => new QdrantError(422, `Validation error in JSON body: [${description}]`);
/** Valid per the schema, but outside what this server emulates: refuse loudly, record nothing. */
const unsupported = (what: string) =>
  new QdrantError(400, `Bad request: ${what} is valid Qdrant input but not implemented by the vectordr Qdrant test server`);

// ---------------------------------------------------------------------------------------------
// JSON values. Bodies are parsed with lossless-json: every number is a LosslessNumber holding
// its exact digits, so u64 ids and payload numbers survive; floats are converted where used.

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v) && !isLosslessNumber(v);
const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number => (isLosslessNumber(v) ? Number(v.value) : typeof v === 'number' ? v : NaN);
const present = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * A payload as Qdrant stores it: its float numbers through Qdrant's lossy parsing, twice (a value
 * can come back a few ulps off; see qdrant-json-numbers.ts), its integers exact.
 */
function payloadOf(v: unknown): JsonObject {
  try {
    return storedPayload(obj(v));
  } catch (e) {
    if (e instanceof RangeError) throw new QdrantError(400, `Format error in JSON body: ${e.message}`, true);
    throw e;
  }
}

/** Drops null members, as Qdrant's serializer skips `None` fields when it echoes a config. */
function compact(v: unknown): unknown {
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (present(x)) out[k] = compact(x);
  return out;
}

/**
 * The shortest decimal that reads back as the same float32, which is what Qdrant's serializer
 * writes for stored vectors and scores. Writing the float64 expansion instead (0.10000000149...)
 * would hand clients a different double than real Qdrant does.
 */
function f32Json(x: number): LosslessNumber {
  if (x === 0) return new LosslessNumber(Object.is(x, -0) ? '-0' : '0');
  for (let p = 1; p <= 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return new LosslessNumber(String(Number(s)));
  }
  return new LosslessNumber(String(x));
}

// ---------------------------------------------------------------------------------------------
// Point ids: bigint for integers (exact over the whole u64 range), canonical lower-case
// hyphenated string for uuids.

type PointId = bigint | string;

function parseUuid(s: string): string | undefined {
  if (!QDRANT_UUID.test(s)) return undefined;
  const hex = s
    .toLowerCase()
    .replace(/^urn:uuid:/, '')
    .replace(/[{}-]/g, '');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The schema pass sees ids as float64 and cannot tell 2^64 from 2^64-1 or `1.0` from `1`; serde
 * can, so those are checked here against the exact digits, and recorded as violations.
 */
function parseId(v: unknown, where = 'JSON body'): PointId {
  if (isLosslessNumber(v) && /^(0|[1-9]\d*)$/.test(v.value) && BigInt(v.value) <= U64_MAX) return BigInt(v.value);
  if (typeof v === 'string') {
    const uuid = parseUuid(v);
    if (uuid) return uuid;
  }
  const shown = isLosslessNumber(v) ? v.value : JSON.stringify(v);
  throw new QdrantError(400, `Format error in ${where}: data did not match any variant of untagged enum ExtendedPointId (${shown})`, true);
}

/** A map key whose string order is Qdrant's scroll order: integers numerically, then uuids by bytes. */
const idKey = (id: PointId): string => (typeof id === 'bigint' ? `i${id.toString().padStart(20, '0')}` : `u${id}`);
const idText = (id: PointId): string => String(id);

// ---------------------------------------------------------------------------------------------
// Vectors

type Distance = 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan';

interface DenseConfig {
  readonly kind: 'dense';
  readonly size: number;
  readonly distance: Distance;
  readonly multivector: boolean;
  readonly datatype: 'float32' | 'float16' | 'uint8';
  params: JsonObject;
}
interface SparseConfig {
  readonly kind: 'sparse';
  params: JsonObject;
}

type StoredVector =
  | { kind: 'dense'; values: Float32Array; json?: unknown }
  | { kind: 'multi'; values: Float32Array[]; json?: unknown }
  | { kind: 'sparse'; indices: number[]; values: Float32Array; json?: unknown };

interface StoredPoint {
  readonly id: PointId;
  vectors: Map<string, StoredVector>;
  payload: JsonObject;
  version: number;
}

/**
 * Qdrant's scalar `cosine_preprocess`, in float32: sum of squares accumulated in f32, left alone
 * when zero or already normalised (so re-normalising is stable), else each component divided by
 * the f32 square root. Qdrant switches to SSE/AVX code from 16/32 dimensions, which sums in a
 * different order; from there results can differ from a real server in the last ulp.
 */
function cosinePreprocess(v: Float32Array): Float32Array {
  let length = 0;
  for (const x of v) length = Math.fround(length + Math.fround(x * x));
  if (length < F32_EPSILON || Math.abs(Math.fround(length - 1)) <= NORMALIZED_TOLERANCE) return v;
  const norm = Math.fround(Math.sqrt(length));
  return v.map((x) => x / norm); // a Float32Array's map rounds each quotient to f32
}

/** Similarity as Qdrant reports it: higher is better for Cosine/Dot, lower for Euclid/Manhattan. */
function score(distance: Distance, a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (distance === 'Cosine' || distance === 'Dot') sum = Math.fround(sum + Math.fround(x * y));
    else if (distance === 'Euclid') sum = Math.fround(sum + Math.fround(Math.fround(x - y) ** 2));
    else sum = Math.fround(sum + Math.abs(Math.fround(x - y)));
  }
  return distance === 'Euclid' ? Math.fround(Math.sqrt(sum)) : sum;
}

const higherIsBetter = (d: Distance): boolean => d === 'Cosine' || d === 'Dot';

function vectorJson(v: StoredVector): unknown {
  if (v.json === undefined) {
    if (v.kind === 'dense') v.json = Array.from(v.values, f32Json);
    else if (v.kind === 'multi') v.json = v.values.map((row) => Array.from(row, f32Json));
    else v.json = { indices: v.indices.map((i) => new LosslessNumber(String(i))), values: Array.from(v.values, f32Json) };
  }
  return v.json;
}

// ---------------------------------------------------------------------------------------------
// Payload paths and filters

/** `a.b`, `a[]`, `a[0]` segments of a Qdrant JSON path. */
function pathSegments(key: string): { name: string; index?: number | 'all' }[] {
  if (key.includes('"')) throw unsupported(`quoted payload key ${key}`);
  return key.split('.').map((part) => {
    const m = /^(.*?)(?:\[(\d*)\])?$/.exec(part)!;
    const name = m[1]!;
    if (m[2] === undefined) return { name };
    return { name, index: m[2] === '' ? 'all' : Number(m[2]) };
  });
}

/** Values at a path, before flattening leaf arrays. */
function rawValuesAt(payload: JsonObject, key: string): unknown[] {
  let current: unknown[] = [payload];
  for (const seg of pathSegments(key)) {
    const next: unknown[] = [];
    for (const v of current) {
      if (!isObject(v) || !(seg.name in v)) continue;
      const x = v[seg.name];
      if (seg.index === undefined) next.push(x);
      else if (Array.isArray(x)) {
        if (seg.index === 'all') next.push(...x);
        else if (seg.index < x.length) next.push(x[seg.index]);
      }
    }
    current = next;
  }
  return current;
}

/** Leaf values to match against: arrays match when any element does, as in Qdrant. */
const valuesAt = (payload: JsonObject, key: string): unknown[] => rawValuesAt(payload, key).flatMap((v) => (Array.isArray(v) ? v : [v]));

const isIntegerText = (v: unknown): v is LosslessNumber => isLosslessNumber(v) && /^-?\d+$/.test(v.value);

/** Qdrant's keyword/integer/bool match: integers only equal integer payload values, never floats. */
function matchesValue(leaf: unknown, wanted: unknown): boolean {
  if (typeof wanted === 'string' || typeof wanted === 'boolean') return leaf === wanted;
  return isIntegerText(wanted) && isIntegerText(leaf) && BigInt(leaf.value) === BigInt(wanted.value);
}

type Predicate = (p: StoredPoint) => boolean;

function compileFieldCondition(c: JsonObject): Predicate {
  const key = String(c.key);
  const checks: ((leaf: unknown) => boolean)[] = [];
  for (const k of ['geo_bounding_box', 'geo_radius', 'geo_polygon', 'values_count', 'is_empty', 'is_null']) {
    if (present(c[k])) throw unsupported(`field condition \`${k}\``);
  }
  if (present(c.match)) {
    const match = obj(c.match);
    if ('value' in match) checks.push((leaf) => matchesValue(leaf, match.value));
    else if ('any' in match) {
      const any = arr(match.any);
      checks.push((leaf) => any.some((w) => matchesValue(leaf, w)));
    } else throw unsupported(`match \`${Object.keys(match).join(',')}\``);
  }
  if (present(c.range)) {
    const range = obj(c.range);
    const bounds = (['lt', 'gt', 'gte', 'lte'] as const).filter((b) => present(range[b]));
    if (bounds.some((b) => typeof range[b] === 'string')) throw unsupported('datetime range');
    checks.push((leaf) => {
      if (!isLosslessNumber(leaf)) return false;
      const x = num(leaf);
      return bounds.every((b) => {
        const bound = num(range[b]);
        return b === 'lt' ? x < bound : b === 'gt' ? x > bound : b === 'gte' ? x >= bound : x <= bound;
      });
    });
  }
  if (checks.length === 0) throw validationError(`filter: At least one field condition must be specified (key ${key})`);
  // All given checks must hold for the same leaf value, like one Qdrant field condition.
  return (p) => valuesAt(p.payload, key).some((leaf) => checks.every((check) => check(leaf)));
}

function compileCondition(c: unknown): Predicate {
  const cond = obj(c);
  if ('key' in cond) return compileFieldCondition(cond);
  if ('has_id' in cond) {
    const keys = new Set(arr(cond.has_id).map((id) => idKey(parseId(id))));
    return (p) => keys.has(idKey(p.id));
  }
  if ('is_empty' in cond) {
    const key = String(obj(cond.is_empty).key);
    return (p) => rawValuesAt(p.payload, key).every((v) => v === null || (Array.isArray(v) && v.length === 0));
  }
  if ('is_null' in cond) {
    const key = String(obj(cond.is_null).key);
    return (p) => rawValuesAt(p.payload, key).some((v) => v === null);
  }
  if ('has_vector' in cond) {
    const name = String(cond.has_vector);
    return (p) => p.vectors.has(name);
  }
  if (['must', 'should', 'must_not', 'min_should'].some((k) => k in cond) || Object.keys(cond).length === 0) {
    return compileFilter(cond);
  }
  throw unsupported(`condition \`${Object.keys(cond).join(',')}\``);
}

function compileFilter(f: unknown): Predicate {
  if (!present(f)) return () => true;
  const filter = obj(f);
  if (present(filter.min_should)) throw unsupported('filter `min_should`');
  const list = (v: unknown): Predicate[] => (present(v) ? (Array.isArray(v) ? v : [v]).map(compileCondition) : []);
  const must = list(filter.must);
  const should = list(filter.should);
  const mustNot = list(filter.must_not);
  return (p) => must.every((c) => c(p)) && (should.length === 0 || should.some((c) => c(p))) && !mustNot.some((c) => c(p));
}

/** `with_payload`: true, false, a list of keys to include, or `{include}` / `{exclude}`. */
function selectPayload(payload: JsonObject, selector: unknown, fallback: boolean): JsonObject | undefined {
  const sel = present(selector) ? selector : fallback;
  if (sel === true) return payload;
  if (sel === false) return undefined;
  const pick = (keys: unknown[], include: boolean): JsonObject => {
    const out: JsonObject = include ? {} : { ...payload };
    for (const key of keys.map(String)) {
      const parts = key.split('.');
      if (parts.some((part) => part.includes('['))) throw unsupported(`payload selector path ${key}`);
      let from: unknown = payload;
      let to: JsonObject = out;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (!isObject(from) || !(part in from)) break;
        const value: unknown = from[part];
        if (i === parts.length - 1) {
          if (include) to[part] = value;
          else delete to[part];
        } else {
          if (!isObject(value)) break;
          // Copy the branch so the stored payload is never mutated.
          const branch: JsonObject = include ? obj(to[part]) : { ...obj(to[part]) };
          to[part] = branch;
          to = branch;
          from = value;
        }
      }
    }
    return out;
  };
  if (Array.isArray(sel)) return pick(sel, true);
  const s = obj(sel);
  if ('include' in s) return pick(arr(s.include), true);
  return pick(arr(s.exclude), false);
}

// ---------------------------------------------------------------------------------------------
// Collections

interface Collection {
  readonly name: string;
  /** `vectors` was one VectorParams: the single unnamed vector `""`, echoed back unnamed. */
  readonly single: boolean;
  readonly dense: Map<string, DenseConfig>;
  readonly sparse: Map<string, SparseConfig>;
  params: JsonObject;
  hnsw: JsonObject;
  optimizer: JsonObject;
  wal: JsonObject;
  quantization: unknown;
  strictMode: JsonObject;
  metadata: JsonObject | undefined;
  readonly points: Map<string, StoredPoint>;
  /** Keys in scroll order, rebuilt lazily after writes that add or remove ids. */
  sorted: string[] | undefined;
  readonly indexes: Map<string, { dataType: string; params?: JsonObject }>;
  nextOperationId: number;
  /** Acknowledged `wait=false` writes, applied in order by a timer or by the next waited write. */
  pending: (() => void)[];
  timer: NodeJS.Timeout | undefined;
}

const HNSW_DEFAULTS = { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false };
const OPTIMIZER_DEFAULTS = {
  deleted_threshold: 0.2,
  vacuum_min_vector_number: 1000,
  default_segment_number: 0,
  max_segment_size: null,
  memmap_threshold: null,
  indexing_threshold: 10000,
  flush_interval_sec: 5,
  max_optimization_threads: null,
};
const WAL_DEFAULTS = { wal_capacity_mb: 32, wal_segments_ahead: 0, wal_retain_closed: 1 };

const isVectorParams = (v: unknown): v is JsonObject => isObject(v) && 'size' in v && 'distance' in v && !isObject(v.size);

function denseConfig(name: string, raw: JsonObject): DenseConfig {
  const datatype = present(raw.datatype) ? String(raw.datatype) : 'float32';
  if (datatype !== 'float32' && datatype !== 'float16' && datatype !== 'uint8')
    throw unsupported(`vector datatype ${datatype} (vector ${name || '""'})`);
  // The schema pass already restricted `distance` to the four names.
  return {
    kind: 'dense',
    size: num(raw.size),
    distance: raw.distance as Distance,
    multivector: present(raw.multivector_config),
    datatype,
    params: obj(compact(raw)),
  };
}

function maxOptimizationThreads(v: unknown): unknown {
  return typeof v === 'string' ? null : v; // "auto" in a diff reads back as null
}

function newCollection(name: string, body: JsonObject): Collection {
  for (const k of ['init_from', 'shard_key']) if (present(body[k])) throw unsupported(`create collection \`${k}\``);
  if (body.sharding_method === 'custom') throw unsupported('custom sharding');
  if (obj(body.strict_mode_config).enabled === true) throw unsupported('strict mode (its limits are not enforced)');
  const dense = new Map<string, DenseConfig>();
  const single = isVectorParams(body.vectors);
  if (single) dense.set('', denseConfig('', body.vectors as JsonObject));
  else for (const [n, p] of Object.entries(obj(body.vectors))) dense.set(n, denseConfig(n, obj(p)));
  const sparse = new Map<string, SparseConfig>();
  for (const [n, p] of Object.entries(obj(body.sparse_vectors))) sparse.set(n, { kind: 'sparse', params: obj(compact(p)) });
  const params = obj(
    compact({
      shard_number: body.shard_number ?? 1,
      sharding_method: body.sharding_method,
      replication_factor: body.replication_factor ?? 1,
      write_consistency_factor: body.write_consistency_factor ?? 1,
      on_disk_payload: body.on_disk_payload ?? true,
      payload: body.payload,
    }),
  );
  const optimizer: JsonObject = { ...OPTIMIZER_DEFAULTS, ...obj(compact(body.optimizers_config)) };
  optimizer.max_optimization_threads = maxOptimizationThreads(optimizer.max_optimization_threads);
  return {
    name,
    single,
    dense,
    sparse,
    params,
    hnsw: { ...HNSW_DEFAULTS, ...obj(compact(body.hnsw_config)) },
    optimizer,
    wal: { ...WAL_DEFAULTS, ...obj(compact(body.wal_config)) },
    quantization: body.quantization_config ?? null,
    strictMode: { enabled: false, ...obj(compact(body.strict_mode_config)) },
    metadata: isObject(body.metadata) ? body.metadata : undefined,
    points: new Map(),
    sorted: undefined,
    indexes: new Map(),
    nextOperationId: 0,
    pending: [],
    timer: undefined,
  };
}

function vectorsConfigJson(c: Collection): unknown {
  if (c.single) return c.dense.get('')!.params;
  return Object.fromEntries([...c.dense].map(([n, d]) => [n, d.params]));
}

function collectionInfo(c: Collection): JsonObject {
  const payloadSchema: JsonObject = {};
  for (const [field, index] of c.indexes) {
    let points = 0;
    for (const p of c.points.values()) if (valuesAt(p.payload, field).some((v) => v !== null)) points++;
    payloadSchema[field] = index.params
      ? { data_type: index.dataType, params: index.params, points }
      : { data_type: index.dataType, points };
  }
  const params: JsonObject = { vectors: vectorsConfigJson(c), ...c.params };
  if (c.sparse.size > 0) params.sparse_vectors = Object.fromEntries([...c.sparse].map(([n, s]) => [n, s.params]));
  const config: JsonObject = {
    params,
    hnsw_config: c.hnsw,
    optimizer_config: c.optimizer,
    wal_config: c.wal,
    quantization_config: c.quantization ?? null,
    strict_mode_config: c.strictMode,
  };
  if (c.metadata) config.metadata = c.metadata;
  return {
    status: 'green',
    optimizer_status: 'ok',
    // Below the indexing threshold Qdrant keeps points in plain segments: none counted as indexed.
    indexed_vectors_count: 0,
    points_count: c.points.size,
    segments_count: 1,
    config,
    payload_schema: payloadSchema,
  };
}

function validateCollectionName(name: string): void {
  if (name.length === 0 || name.length > 255 || /[<>:"/\\|?*\0]/.test(name)) {
    throw new QdrantError(
      422,
      'Validation error in path parameters: [name: collection name must be 1 to 255 characters, ' + 'none of < > : " / \\ | ? * or NUL]',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Converting request vectors into stored ones

/** Document, Image and InferenceObject all carry a `model` string; a vector never does. */
const isInference = (v: unknown): boolean => isObject(v) && typeof v.model === 'string';

function denseValues(config: DenseConfig, values: unknown[]): Float32Array {
  if (values.length !== config.size) throw badInput(`Vector dimension error: expected dim: ${config.size}, got ${values.length}`);
  const v = Float32Array.from(values, num);
  // As Qdrant 1.18 keeps them (measured): uint8 clamped and truncated, never normalised; float16
  // normalised first (Cosine), then rounded to the nearest float16.
  if (config.datatype === 'uint8') return v.map((x) => Math.min(255, Math.max(0, Math.trunc(x))));
  const pre = config.distance === 'Cosine' ? cosinePreprocess(v) : v;
  return config.datatype === 'float16' ? pre.map((x) => float16ToFloat32(float32ToFloat16(x))) : pre;
}

type SparseVector = Extract<StoredVector, { kind: 'sparse' }>;

function sparseValues(where: string, v: JsonObject): SparseVector {
  const indices = arr(v.indices).map(num);
  const values = arr(v.values).map(num);
  if (indices.length !== values.length) throw validationError(`${where}: indices and values must be the same length`);
  if (new Set(indices).size !== indices.length) throw validationError(`${where}: indices must be unique`);
  // Qdrant keeps sparse vectors sorted by index and returns them that way.
  const order = indices.map((_, i) => i).sort((a, b) => indices[a]! - indices[b]!);
  return { kind: 'sparse', indices: order.map((i) => indices[i]!), values: Float32Array.from(order, (i) => values[i]!) };
}

function toStoredVector(c: Collection, name: string, value: unknown, where: string): StoredVector {
  const dense = c.dense.get(name);
  const sparse = c.sparse.get(name);
  if (!dense && !sparse) throw badInput(`Not existing vector name error: ${name}`);
  if (isObject(value) && 'indices' in value) {
    if (!sparse) throw badInput('Conversion between sparse and regular vectors failed');
    return sparseValues(where, value);
  }
  if (isInference(value)) throw unsupported('server-side inference (Document, Image, InferenceObject)');
  const values = arr(value);
  if (!dense) throw badInput('Conversion between sparse and regular vectors failed');
  const isMulti = values.length > 0 && Array.isArray(values[0]);
  if (isMulti !== dense.multivector) throw badInput('Conversion between multi and regular vectors failed');
  if (isMulti) return { kind: 'multi', values: values.map((row) => denseValues(dense, arr(row))) };
  return { kind: 'dense', values: denseValues(dense, values) };
}

/** A point's `vector`: a bare dense or multi vector means the unnamed one, an object is by name. */
function toStoredVectors(c: Collection, struct: unknown, where: string): Map<string, StoredVector> {
  const out = new Map<string, StoredVector>();
  if (Array.isArray(struct)) out.set('', toStoredVector(c, '', struct, where));
  else if (isInference(struct)) throw unsupported('server-side inference (Document, Image, InferenceObject)');
  else for (const [name, v] of Object.entries(obj(struct))) out.set(name, toStoredVector(c, name, v, `${where}.${name}`));
  return out;
}

/** `with_vector` output: the unnamed vector alone comes back bare, anything else as a map. */
function vectorsOutput(c: Collection, p: StoredPoint, selector: unknown, fallback: boolean): unknown {
  const sel = present(selector) ? selector : fallback;
  if (sel === false) return undefined;
  let names: string[];
  if (sel === true) names = [...p.vectors.keys()];
  else {
    names = arr(sel).map(String);
    for (const n of names) if (!c.dense.has(n) && !c.sparse.has(n)) throw badInput(`Not existing vector name error: ${n}`);
    names = names.filter((n) => p.vectors.has(n));
  }
  const only = names.length === 1 ? p.vectors.get(names[0]!) : undefined;
  if (names[0] === '' && only && only.kind !== 'sparse') return vectorJson(only);
  return Object.fromEntries(names.map((n) => [n, vectorJson(p.vectors.get(n)!)]));
}

// ---------------------------------------------------------------------------------------------
// The in-memory store

class MemoryStore {
  readonly collections = new Map<string, Collection>();
  aliases = new Map<string, string>();

  constructor(private readonly asyncDelayMs: number) {}

  /** Collection by name or alias, as every Qdrant collection endpoint resolves it. */
  resolve(name: string): Collection {
    const c = this.collections.get(name) ?? this.collections.get(this.aliases.get(name) ?? '');
    if (!c) throw collectionNotFound(name);
    return c;
  }

  drop(c: Collection): void {
    clearTimeout(c.timer);
    c.pending = [];
    this.collections.delete(c.name);
    for (const [alias, target] of this.aliases) if (target === c.name) this.aliases.delete(alias);
  }

  closeAll(): void {
    for (const c of this.collections.values()) clearTimeout(c.timer);
  }

  /**
   * Runs a validated write. `wait=true` applies everything queued first (Qdrant's WAL order) and
   * then this write; `wait=false` only acknowledges, and a timer applies it later.
   */
  write(c: Collection, wait: boolean, apply: (operationId: number) => void): JsonObject {
    const operationId = c.nextOperationId++;
    if (wait) {
      this.flush(c);
      apply(operationId);
      return { operation_id: operationId, status: 'completed' };
    }
    c.pending.push(() => apply(operationId));
    c.timer ??= setTimeout(() => this.flush(c), this.asyncDelayMs);
    return { operation_id: operationId, status: 'acknowledged' };
  }

  private flush(c: Collection): void {
    clearTimeout(c.timer);
    c.timer = undefined;
    const pending = c.pending;
    c.pending = [];
    for (const apply of pending) {
      try {
        apply();
      } catch {
        // Qdrant only logs a failed unwaited operation; the client was already told "acknowledged".
      }
    }
  }

  sortedKeys(c: Collection): string[] {
    c.sorted ??= [...c.points.keys()].sort();
    return c.sorted;
  }

  put(c: Collection, p: StoredPoint): void {
    const key = idKey(p.id);
    if (!c.points.has(key)) c.sorted = undefined;
    c.points.set(key, p);
  }

  remove(c: Collection, keys: Iterable<string>): void {
    for (const key of keys) if (c.points.delete(key)) c.sorted = undefined;
  }

  /** Point keys a PointsSelector names: explicit ids, or those matching a filter (at apply time). */
  selector(c: Collection, body: JsonObject): () => string[] {
    if (present(body.shard_key)) throw unsupported('shard_key');
    if ('points' in body) {
      const keys = arr(body.points).map((id) => idKey(parseId(id)));
      return () => keys;
    }
    const predicate = compileFilter(body.filter);
    return () => [...c.points.values()].filter(predicate).map((p) => idKey(p.id));
  }
}

// ---------------------------------------------------------------------------------------------
// Operations, keyed by the document's operationId

interface RequestContext {
  readonly path: Record<string, string>;
  readonly query: Record<string, unknown>;
  /** Lossless-parsed JSON body (numbers are LosslessNumber). */
  readonly body: unknown;
}

type Reply = { kind: 'result'; value: unknown } | { kind: 'raw'; value: unknown } | { kind: 'text'; value: string };
const result = (value: unknown): Reply => ({ kind: 'result', value });

/** A Record; absent payload or vector are left out, as Qdrant 1.19 serializes them. */
function recordJson(
  c: Collection,
  p: StoredPoint,
  withPayload: unknown,
  withVector: unknown,
  payloadDefault: boolean,
  vectorDefault: boolean,
): JsonObject {
  const out: JsonObject = { id: p.id };
  const payload = selectPayload(p.payload, withPayload, payloadDefault);
  if (payload !== undefined) out.payload = payload;
  const vector = vectorsOutput(c, p, withVector, vectorDefault);
  if (vector !== undefined) out.vector = vector;
  return out;
}

function queryPoints(c: Collection, body: JsonObject): JsonObject {
  for (const k of ['prefetch', 'lookup_from', 'shard_key']) if (present(body[k])) throw unsupported(`query \`${k}\``);
  if (!present(body.query)) throw unsupported('query without `query` (id-ordered listing; use scroll)');
  let input = body.query;
  if (isObject(input) && 'nearest' in input) {
    if (present(input.mmr)) throw unsupported('query `mmr`');
    input = input.nearest;
  } else if (isObject(input) && !('indices' in input)) throw unsupported(`query \`${Object.keys(input).join(',')}\``);
  if (isLosslessNumber(input) || typeof input === 'string') throw unsupported('query by point id');
  if (!Array.isArray(input) && !(isObject(input) && 'indices' in input)) throw unsupported('query by a non-vector input (inference)');
  if (Array.isArray(input) && Array.isArray(input[0])) throw unsupported('multivector query');
  const using = typeof body.using === 'string' ? body.using : '';
  const predicate = compileFilter(body.filter);
  const limit = present(body.limit) ? num(body.limit) : 10;
  const offset = present(body.offset) ? num(body.offset) : 0;
  const threshold = present(body.score_threshold) ? Math.fround(num(body.score_threshold)) : undefined;

  let scored: { p: StoredPoint; score: number }[] = [];
  let better: (a: number, b: number) => number;
  let passes: (s: number) => boolean;
  const sparseConfig = c.sparse.get(using);
  if (sparseConfig) {
    if (Array.isArray(input)) throw badInput('Conversion between sparse and regular vectors failed');
    if (present(sparseConfig.params.modifier) && sparseConfig.params.modifier !== 'none')
      throw unsupported('sparse `modifier` (idf) scoring');
    const q = sparseValues('query', obj(input));
    const weights = new Map(q.indices.map((i, n) => [i, q.values[n]!]));
    for (const p of c.points.values()) {
      const v = p.vectors.get(using);
      if (v?.kind !== 'sparse' || !predicate(p)) continue;
      let s = 0;
      let overlap = false;
      v.indices.forEach((i, n) => {
        const w = weights.get(i);
        if (w === undefined) return;
        overlap = true;
        s = Math.fround(s + Math.fround(w * v.values[n]!));
      });
      // Sparse search only finds points sharing at least one index with the query.
      if (overlap) scored.push({ p, score: s });
    }
    better = (a, b) => b - a;
    passes = (s) => threshold === undefined || s >= threshold;
  } else {
    const config = c.dense.get(using);
    if (!config) throw badInput(`Not existing vector name error: ${using}`);
    if (config.multivector) throw unsupported('query on a multivector');
    if (!Array.isArray(input)) throw badInput('Conversion between sparse and regular vectors failed');
    const q = denseValues(config, input);
    for (const p of c.points.values()) {
      const v = p.vectors.get(using);
      if (v?.kind !== 'dense' || !predicate(p)) continue;
      scored.push({ p, score: score(config.distance, q, v.values) });
    }
    const desc = higherIsBetter(config.distance);
    better = desc ? (a, b) => b - a : (a, b) => a - b;
    passes = (s) => threshold === undefined || (desc ? s >= threshold : s <= threshold);
  }
  // Ties broken by id order, so equal scores page deterministically.
  scored = scored.filter((x) => passes(x.score)).sort((a, b) => better(a.score, b.score) || (idKey(a.p.id) < idKey(b.p.id) ? -1 : 1));
  return {
    points: scored.slice(offset, offset + limit).map(({ p, score: s }) => {
      const { id, ...rest } = recordJson(c, p, body.with_payload, body.with_vector, false, false);
      return { id, version: p.version, score: f32Json(s), ...rest };
    }),
  };
}

function payloadOperation(store: MemoryStore, ctx: RequestContext, change: (p: StoredPoint, body: JsonObject) => void): Reply {
  const c = store.resolve(ctx.path.collection_name!);
  const body = obj(ctx.body);
  if (present(body.key)) throw unsupported('payload operation `key` (nested path)');
  const keys = store.selector(c, body);
  return result(
    store.write(c, ctx.query.wait === true, (opId) => {
      // Qdrant refuses a payload change naming a missing point, before touching any.
      const points = keys().map((key) => {
        const p = c.points.get(key);
        if (!p) throw notFound(`No point with id ${key.startsWith('i') ? BigInt(key.slice(1)).toString() : key.slice(1)} found`);
        return p;
      });
      for (const p of points) {
        change(p, body);
        p.version = opId;
      }
    }),
  );
}

function operations(store: MemoryStore): Record<string, (ctx: RequestContext) => Reply> {
  const collection = (ctx: RequestContext) => store.resolve(ctx.path.collection_name!);
  return {
    root: () => ({ kind: 'raw', value: { title: 'qdrant - vector search engine', version: QDRANT_VERSION, commit: null } }),
    healthz: () => ({ kind: 'text', value: 'healthz check passed' }),
    livez: () => ({ kind: 'text', value: 'healthz check passed' }),
    readyz: () => ({ kind: 'text', value: 'all shards are ready' }),

    get_collections: () => result({ collections: [...store.collections.keys()].map((name) => ({ name })) }),
    get_collection: (ctx) => result(collectionInfo(collection(ctx))),
    collection_exists: (ctx) => {
      const name = ctx.path.collection_name!;
      return result({ exists: store.collections.has(name) || store.aliases.has(name) });
    },
    create_collection: (ctx) => {
      const name = ctx.path.collection_name!;
      validateCollectionName(name);
      if (store.collections.has(name)) throw new QdrantError(409, `Wrong input: Collection \`${name}\` already exists!`);
      if (store.aliases.has(name)) throw new QdrantError(409, `Wrong input: Alias \`${name}\` already exists!`);
      store.collections.set(name, newCollection(name, obj(ctx.body)));
      return result(true);
    },
    update_collection: (ctx) => {
      const c = collection(ctx);
      const body = obj(ctx.body);
      if (obj(body.strict_mode_config).enabled === true) throw unsupported('strict mode (its limits are not enforced)');
      // Check every vector name before changing anything, so a failed update changes nothing.
      for (const n of Object.keys(obj(body.vectors))) if (!c.dense.has(n)) throw badInput(`Not existing vector name error: ${n}`);
      for (const n of Object.keys(obj(body.sparse_vectors))) if (!c.sparse.has(n)) throw badInput(`Not existing vector name error: ${n}`);
      if (present(body.optimizers_config)) {
        c.optimizer = { ...c.optimizer, ...obj(compact(body.optimizers_config)) };
        c.optimizer.max_optimization_threads = maxOptimizationThreads(c.optimizer.max_optimization_threads);
      }
      if (present(body.params)) c.params = { ...c.params, ...obj(compact(body.params)) };
      if (present(body.hnsw_config)) c.hnsw = { ...c.hnsw, ...obj(compact(body.hnsw_config)) };
      if (present(body.quantization_config)) c.quantization = body.quantization_config === 'Disabled' ? null : body.quantization_config;
      if (present(body.strict_mode_config)) c.strictMode = { ...c.strictMode, ...obj(compact(body.strict_mode_config)) };
      for (const [n, diff] of Object.entries(obj(body.vectors))) {
        const d = c.dense.get(n)!;
        const next: JsonObject = { ...d.params };
        const { hnsw_config: hnsw, quantization_config: quantization, ...rest } = obj(compact(diff));
        if (isObject(hnsw)) {
          // "If empty object - it will be unset."
          if (Object.keys(hnsw).length === 0) delete next.hnsw_config;
          else next.hnsw_config = { ...obj(next.hnsw_config), ...hnsw };
        }
        if (quantization === 'Disabled') delete next.quantization_config;
        else if (present(quantization)) next.quantization_config = quantization;
        d.params = { ...next, ...rest };
      }
      for (const [n, diff] of Object.entries(obj(body.sparse_vectors))) {
        const s = c.sparse.get(n)!;
        const { index, ...rest } = obj(compact(diff));
        s.params = { ...s.params, ...rest, ...(isObject(index) ? { index: { ...obj(s.params.index), ...index } } : {}) };
      }
      // The schema says metadata "will merge with existing metadata. Individual keys can be
      // removed by setting their value to `null`": a shallow merge, null deletes the key.
      if (isObject(body.metadata)) {
        const merged: JsonObject = { ...(c.metadata ?? {}) };
        for (const [k, v] of Object.entries(body.metadata)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        c.metadata = merged;
      }
      return result(true);
    },
    delete_collection: (ctx) => {
      // Deleting does not resolve aliases in Qdrant: an alias name is simply not a collection.
      const c = store.collections.get(ctx.path.collection_name!);
      if (c) store.drop(c);
      return result(c !== undefined);
    },

    update_aliases: (ctx) => {
      // All or nothing: apply to a copy and swap it in only when every action succeeded.
      const next = new Map(store.aliases);
      for (const action of arr(obj(ctx.body).actions).map(obj)) {
        if (isObject(action.create_alias)) {
          const { collection_name: target, alias_name: alias } = action.create_alias;
          if (!store.collections.has(String(target))) throw collectionNotFound(String(target));
          if (store.collections.has(String(alias)))
            throw new QdrantError(409, `Wrong input: Collection \`${String(alias)}\` already exists!`);
          next.set(String(alias), String(target));
        } else if (isObject(action.delete_alias)) {
          next.delete(String(action.delete_alias.alias_name));
        } else if (isObject(action.rename_alias)) {
          const { old_alias_name: from, new_alias_name: to } = action.rename_alias;
          const target = next.get(String(from));
          if (target === undefined) throw notFound(`Alias ${String(from)} does not exists!`);
          next.delete(String(from));
          next.set(String(to), target);
        }
      }
      store.aliases = next;
      return result(true);
    },
    get_collections_aliases: () =>
      result({ aliases: [...store.aliases].map(([alias_name, collection_name]) => ({ alias_name, collection_name })) }),
    get_collection_aliases: (ctx) => {
      const c = collection(ctx);
      const aliases = [...store.aliases].filter(([, target]) => target === c.name);
      return result({ aliases: aliases.map(([alias_name, collection_name]) => ({ alias_name, collection_name })) });
    },

    create_field_index: (ctx) => {
      const c = collection(ctx);
      const body = obj(ctx.body);
      const field = String(body.field_name);
      const schema = body.field_schema;
      if (!present(schema)) throw unsupported('payload index without `field_schema` (type inference)');
      const index =
        typeof schema === 'string' ? { dataType: schema } : { dataType: String(obj(schema).type), params: obj(compact(schema)) };
      pathSegments(field); // refuses key syntax the filters here cannot evaluate, before acknowledging
      return result(store.write(c, ctx.query.wait === true, () => c.indexes.set(field, index)));
    },
    delete_field_index: (ctx) => {
      const c = collection(ctx);
      const field = ctx.path.field_name!;
      return result(store.write(c, ctx.query.wait === true, () => c.indexes.delete(field)));
    },

    upsert_points: (ctx) => {
      const c = collection(ctx);
      const body = obj(ctx.body);
      for (const k of ['shard_key', 'update_filter', 'update_mode']) if (present(body[k])) throw unsupported(`upsert \`${k}\``);
      const points: { id: PointId; vectors: Map<string, StoredVector>; payload: JsonObject }[] = [];
      if (isObject(body.batch)) {
        const { ids, vectors, payloads } = body.batch;
        const idList = arr(ids);
        const byName: [string, unknown[]][] = Array.isArray(vectors)
          ? [['', vectors]]
          : Object.entries(obj(vectors)).map(([n, v]) => [n, arr(v)]);
        for (const [n, list] of byName) {
          if (list.length !== idList.length) throw validationError(`batch: number of ids and vectors${n ? ` (${n})` : ''} must be equal`);
        }
        if (present(payloads) && arr(payloads).length !== idList.length)
          throw validationError('batch: number of ids and payloads must be equal');
        idList.forEach((id, i) => {
          const struct = Array.isArray(vectors) ? vectors[i] : Object.fromEntries(byName.map(([n, list]) => [n, list[i]]));
          points.push({
            id: parseId(id),
            vectors: toStoredVectors(c, struct, `batch.vectors[${i}]`),
            payload: payloadOf(arr(payloads)[i]),
          });
        });
      } else {
        arr(body.points).forEach((raw, i) => {
          const p = obj(raw);
          points.push({ id: parseId(p.id), vectors: toStoredVectors(c, p.vector, `points[${i}].vector`), payload: payloadOf(p.payload) });
        });
      }
      return result(
        store.write(c, ctx.query.wait === true, (opId) => {
          for (const p of points) store.put(c, { ...p, version: opId });
        }),
      );
    },
    delete_points: (ctx) => {
      const c = collection(ctx);
      const keys = store.selector(c, obj(ctx.body));
      return result(store.write(c, ctx.query.wait === true, () => store.remove(c, keys())));
    },
    set_payload: (ctx) =>
      payloadOperation(store, ctx, (p, body) => {
        p.payload = { ...p.payload, ...payloadOf(body.payload) };
      }),
    overwrite_payload: (ctx) =>
      payloadOperation(store, ctx, (p, body) => {
        p.payload = { ...payloadOf(body.payload) };
      }),
    delete_payload: (ctx) => {
      const keys = arr(obj(ctx.body).keys).map(String);
      if (keys.some((k) => k.includes('.') || k.includes('['))) throw unsupported('delete_payload of a nested path');
      return payloadOperation(store, ctx, (p) => {
        p.payload = Object.fromEntries(Object.entries(p.payload).filter(([k]) => !keys.includes(k)));
      });
    },
    clear_payload: (ctx) =>
      payloadOperation(store, ctx, (p) => {
        p.payload = {};
      }),

    get_point: (ctx) => {
      const c = collection(ctx);
      const id = parseId(/^\d+$/.test(ctx.path.id!) ? new LosslessNumber(ctx.path.id!) : ctx.path.id, 'path parameters');
      const p = c.points.get(idKey(id));
      if (!p) throw notFound(`No point with id ${idText(id)} found`);
      return result(recordJson(c, p, true, true, true, true));
    },
    get_points: (ctx) => {
      const c = collection(ctx);
      const body = obj(ctx.body);
      if (present(body.shard_key)) throw unsupported('shard_key');
      // Records come back in the order the ids were asked for, duplicates once, missing ids left out.
      const seen = new Set<string>();
      const records: JsonObject[] = [];
      for (const raw of arr(body.ids)) {
        const key = idKey(parseId(raw));
        const p = c.points.get(key);
        if (!p || seen.has(key)) continue;
        seen.add(key);
        records.push(recordJson(c, p, body.with_payload, body.with_vector, true, false));
      }
      return result(records);
    },
    scroll_points: (ctx) => {
      const c = collection(ctx);
      const body = obj(ctx.body);
      for (const k of ['order_by', 'shard_key']) if (present(body[k])) throw unsupported(`scroll \`${k}\``);
      const limit = present(body.limit) ? num(body.limit) : 10;
      const predicate = compileFilter(body.filter);
      const sorted = store.sortedKeys(c);
      let start = 0;
      if (present(body.offset)) {
        // The offset is inclusive and need not exist: start at the first id not below it.
        const from = idKey(parseId(body.offset));
        let lo = 0;
        let hi = sorted.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (sorted[mid]! < from) lo = mid + 1;
          else hi = mid;
        }
        start = lo;
      }
      const page: StoredPoint[] = [];
      let next: PointId | null = null;
      for (let i = start; i < sorted.length; i++) {
        const p = c.points.get(sorted[i]!)!;
        if (!predicate(p)) continue;
        if (page.length === limit) {
          next = p.id;
          break;
        }
        page.push(p);
      }
      return result({
        points: page.map((p) => recordJson(c, p, body.with_payload, body.with_vector, true, false)),
        next_page_offset: next,
      });
    },
    count_points: (ctx) => {
      const c = collection(ctx);
      const body = obj(ctx.body);
      if (present(body.shard_key)) throw unsupported('shard_key');
      const predicate = compileFilter(body.filter);
      let count = 0;
      for (const p of c.points.values()) if (predicate(p)) count++;
      return result({ count });
    },
    query_points: (ctx) => result(queryPoints(collection(ctx), obj(ctx.body))),
    query_batch_points: (ctx) => {
      const c = collection(ctx);
      return result(arr(obj(ctx.body).searches).map((s) => queryPoints(c, obj(s))));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

const AUTH_WHITELIST = (path: string): boolean =>
  path === '/' || path === '/healthz' || path.startsWith('/readyz') || path.startsWith('/livez');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startQdrantTestServer(options: QdrantTestServerOptions = {}): Promise<QdrantTestServer> {
  const host = options.host ?? '127.0.0.1';
  const openapi = validator();
  const store = new MemoryStore(options.asyncApplyDelayMs ?? 20);
  const handlers = operations(store);
  const violations: string[] = [];
  let requests = 0;

  const violation = (line: string) => {
    violations.push(line);
    options.onViolation?.(line);
  };

  const send = (res: ServerResponse, status: number, contentType: string, text: string) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    requests++;
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const where = `${method} ${url.pathname}`;
    const raw = await readBody(req);

    if (options.apiKey !== undefined && !AUTH_WHITELIST(url.pathname)) {
      const header = req.headers['api-key'];
      const bearer = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined;
      const key = typeof header === 'string' ? header : bearer;
      if (key !== options.apiKey) {
        // Qdrant answers auth failures from its middleware as plain text, not the JSON envelope.
        send(
          res,
          401,
          'text/plain; charset=utf-8',
          key === undefined ? 'Must provide an API key or an Authorization bearer token' : 'Invalid API key or JWT',
        );
        return;
      }
    }

    const match = openapi.match(method, url.pathname);
    const error = (op: OpenApiOperation | undefined, e: QdrantError) => {
      if (e.violation) violation(`${where}: ${e.message}`);
      reply(op, e.status, { status: { error: e.message }, time: elapsed() });
    };
    const reply = (op: OpenApiOperation | undefined, status: number, body: unknown) => {
      const text = stringifyLossless(body) ?? 'null';
      // Not-implemented answers are this server's limitation, outside what the document describes.
      if (op && status !== 501) {
        const problem = openapi.validateResponse(op, status, JSON.parse(text));
        if (problem) violation(`${where}: response ${status} does not match the OpenAPI document: ${problem}`);
      }
      send(res, status, 'application/json', text);
    };

    if (!match) {
      violation(`${where}: no such operation in the Qdrant OpenAPI document`);
      error(undefined, notFound(`${where} is not a Qdrant ${QDRANT_VERSION} API route`));
      return;
    }
    const op = match.operation;
    try {
      const path = openapi.validateParams(op, 'path', match.pathParams);
      if (!path.ok) throw new QdrantError(400, `Deserialize error in path parameters: ${path.errors}`, true);
      const query = openapi.validateParams(op, 'query', Object.fromEntries(url.searchParams));
      if (!query.ok) throw new QdrantError(400, `Deserialize error in query parameters: ${query.errors}`, true);
      let body: unknown;
      if (op.hasJsonBody) {
        if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new QdrantError(400, 'Content type error', true);
        let plain: unknown;
        try {
          plain = JSON.parse(raw);
        } catch (e) {
          throw new QdrantError(400, `Format error in JSON body: ${(e as Error).message}`, true);
        }
        const problem = openapi.validateBody(op, plain);
        if (problem) throw new QdrantError(400, `Format error in JSON body: ${problem}`, true);
        body = parseLossless(raw, null, { onDuplicateKey: ({ newValue }) => newValue });
      }
      const handler = handlers[op.id];
      if (!handler) {
        reply(op, 501, {
          status: { error: `Not implemented by the vectordr Qdrant test server: ${method} ${op.template} (${op.id})` },
          time: elapsed(),
        });
        return;
      }
      const out = handler({ path: match.pathParams, query: query.values, body });
      if (out.kind === 'text') send(res, 200, 'text/plain; charset=utf-8', out.value);
      else reply(op, 200, out.kind === 'raw' ? out.value : { result: out.value, status: 'ok', time: elapsed() });
    } catch (e) {
      if (e instanceof QdrantError) error(op, e);
      else {
        violation(`${where}: test server bug: ${(e as Error).stack ?? String(e)}`);
        reply(op, 500, { status: { error: `Service internal error: ${(e as Error).message}` }, time: elapsed() });
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      violation(`${req.method ?? ''} ${req.url ?? ''}: test server bug: ${String(e)}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    violations,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        store.closeAll();
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const port = arg('--port');
  const server = await startQdrantTestServer({
    port: port === undefined ? 0 : Number(port),
    host: arg('--host'),
    apiKey: arg('--api-key'),
    onViolation: (line) => process.stderr.write(`[qdrant-test-server] violation: ${line}\n`),
  });
  process.stdout.write(`QDRANT_URL=${server.url}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(1);
  });
}
