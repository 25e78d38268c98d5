/**
 * Validates HTTP traffic against Qdrant's published OpenAPI 3.0 document (vendored next to this
 * file), so the Qdrant test server can prove that every request a client sends and every
 * response the server answers is one the real API defines.
 *
 * Ajv is a JSON Schema validator, not an OpenAPI one; the few places where the two disagree are
 * handled in {@link prepareSchema} and {@link registerFormats}, each with the reason.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const DOC_ID = 'qdrant.json';
const HTTP_METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

type JsonObject = Record<string, unknown>;

interface ParameterSpec {
  name: string;
  in: string;
  required?: boolean;
  schema?: unknown;
}

interface MediaSpec {
  schema?: unknown;
}

interface OperationSpec {
  operationId: string;
  parameters?: ParameterSpec[];
  requestBody?: { content?: Record<string, MediaSpec> };
  responses?: Record<string, { content?: Record<string, MediaSpec> }>;
}

export interface OpenApiOperation {
  readonly id: string;
  readonly method: string;
  readonly template: string;
  /** True when the document declares a JSON request body for the operation. */
  readonly hasJsonBody: boolean;
}

export interface OperationMatch {
  readonly operation: OpenApiOperation;
  /** Path parameters, percent-decoded but not yet coerced. */
  readonly pathParams: Record<string, string>;
}

export type ParamsResult = { ok: true; values: Record<string, unknown> } | { ok: false; errors: string };

interface Route {
  readonly operation: OpenApiOperation;
  readonly spec: OperationSpec;
  readonly pattern: RegExp;
  readonly names: string[];
  /** Literal segments win over `{param}` ones: `/collections/aliases` before `/collections/{name}`. */
  readonly literalSegments: number;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Rewrites one schema of the document into something Ajv 8 evaluates the way OpenAPI 3.0 means:
 * - `$ref: '#/components/...'` points into the document registered under {@link DOC_ID}, so a
 *   schema compiled outside the document (a response schema inline in `paths`) still resolves.
 * - `{ nullable: true }` without a `type` (the doc's `anyOf: [{$ref}, {nullable: true}]` pattern for
 *   `Option<T>`) makes Ajv throw ("nullable" cannot be used without "type"); its meaning is
 *   "or null", which is exactly `{ type: 'null' }`.
 */
export function prepareSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(prepareSchema);
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/')) out[key] = `${DOC_ID}${value}`;
    else out[key] = prepareSchema(value);
  }
  if (out.nullable === true && out.type === undefined) {
    const meaningful = Object.keys(out).filter((k) => !['nullable', 'description', 'default', 'example'].includes(k));
    if (meaningful.length === 0) return { type: 'null' };
  }
  return out;
}

const F32_MAX = 3.4028234663852886e38;
// 2^64 - 1 has no float64; 2^64 is the nearest. Exact ids are checked losslessly by the server.
const U64_MAX = 2 ** 64;

/** Uuid forms the Rust `uuid` crate (and so Qdrant) parses: hyphenated, simple, braced, URN. */
export const QDRANT_UUID =
  /^(?:urn:uuid:)?(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\})$/i;

/**
 * Registers every `format` the document uses. The numeric ones are Rust type names from
 * schemars (`uint64`, `uint`, `float`, ...): they carry the range the server will enforce, so a
 * value outside it is a request Qdrant refuses (serde fails to deserialize it).
 */
function registerFormats(ajv: Ajv): void {
  addFormats.default(ajv);
  const range = (min: number, max: number) => (x: number) => Number.isFinite(x) && x >= min && x <= max;
  const numeric: Record<string, (x: number) => boolean> = {
    float: range(-F32_MAX, F32_MAX),
    double: (x) => Number.isFinite(x),
    uint: range(0, U64_MAX), // usize on the 64-bit builds Qdrant ships
    uint64: range(0, U64_MAX),
    uint32: range(0, 4294967295),
    uint16: range(0, 65535),
    uint8: range(0, 255),
    int64: range(-(2 ** 63), 2 ** 63),
  };
  for (const [name, validate] of Object.entries(numeric)) ajv.addFormat(name, { type: 'number', validate });
  // ajv-formats' `uuid` only knows the hyphenated form; Qdrant accepts every form its parser does.
  ajv.addFormat('uuid', { type: 'string', validate: (s: string) => QDRANT_UUID.test(s) });
  // ajv-formats' `date-time` demands RFC 3339 with a zone; Qdrant's datetime filters also take
  // `2023-02-08 10:49:00`, `2023-02-08T10:49`, or a bare date.
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i.test(s),
  });
  ajv.addFormat('partial-date-time', {
    type: 'string',
    validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$/.test(s),
  });
  ajv.addFormat('binary', { type: 'string', validate: () => true });
}

function newAjv(components: unknown, coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes });
  registerFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, components: prepareSchema(components) });
  return ajv;
}

/**
 * Ajv reports one error per failed `anyOf` branch; the deepest paths say what is actually wrong,
 * so those go first and the generic "must match a schema in anyOf" lines are dropped.
 */
export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  const specific = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const chosen = (specific.length > 0 ? specific : [...errors]).sort((a, b) => b.instancePath.length - a.instancePath.length);
  const lines: string[] = [];
  for (const e of chosen) {
    const extra =
      e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
    const line = `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
    if (!lines.includes(line)) lines.push(line);
    if (lines.length === 5) break;
  }
  const more = chosen.length > lines.length ? ` (+${chosen.length - lines.length} more)` : '';
  return lines.join('; ') + more;
}

export class OpenApiValidator {
  private readonly routes: Route[] = [];
  private readonly byOperation = new Map<OpenApiOperation, Route>();
  private readonly ajv: Ajv;
  /** Query and path parameters arrive as strings; this instance coerces them per their schema. */
  private readonly coercingAjv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(doc: unknown) {
    if (!isObject(doc) || !isObject(doc.paths) || !isObject(doc.components)) throw new Error('not an OpenAPI document');
    this.ajv = newAjv(doc.components, false);
    this.coercingAjv = newAjv(doc.components, true);
    for (const [template, item] of Object.entries(doc.paths)) {
      if (!isObject(item)) continue;
      for (const method of HTTP_METHODS) {
        const spec = item[method] as OperationSpec | undefined;
        if (!spec) continue;
        const names: string[] = [];
        const segments = template.split('/').slice(1);
        const source = segments
          .map((seg) => {
            const m = /^\{(.+)\}$/.exec(seg);
            if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
            names.push(m[1]!);
            return '([^/]+)';
          })
          .join('/');
        const route: Route = {
          operation: {
            id: spec.operationId,
            method: method.toUpperCase(),
            template,
            hasJsonBody: spec.requestBody?.content?.['application/json'] !== undefined,
          },
          spec,
          pattern: new RegExp(`^/${source}$`),
          names,
          literalSegments: segments.length - names.length,
        };
        this.routes.push(route);
        this.byOperation.set(route.operation, route);
      }
    }
  }

  /** Loads the vendored v1.19 document. */
  static fromFile(path: URL | string): OpenApiValidator {
    return new OpenApiValidator(JSON.parse(readFileSync(path, 'utf8')));
  }

  match(method: string, pathname: string): OperationMatch | undefined {
    let best: { route: Route; values: string[] } | undefined;
    for (const route of this.routes) {
      if (route.operation.method !== method) continue;
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      if (!best || route.literalSegments > best.route.literalSegments) best = { route, values: m.slice(1) };
    }
    if (!best) return undefined;
    const pathParams: Record<string, string> = {};
    best.route.names.forEach((name, i) => {
      pathParams[name] = decodeURIComponent(best.values[i] ?? '');
    });
    return { operation: best.route.operation, pathParams };
  }

  /** Validates (and coerces) the `path` or `query` parameters of an operation. */
  validateParams(op: OpenApiOperation, location: 'path' | 'query', raw: Record<string, string>): ParamsResult {
    const key = `${op.method} ${op.template} ${location}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const params = (this.route(op).spec.parameters ?? []).filter((p) => p.in === location);
      const properties: JsonObject = {};
      for (const p of params) properties[p.name] = prepareSchema(p.schema ?? {});
      const required = params.filter((p) => p.required === true).map((p) => p.name);
      validate = this.coercingAjv.compile({ type: 'object', properties, required });
      this.compiled.set(key, validate);
    }
    const values: Record<string, unknown> = { ...raw };
    return validate(values) ? { ok: true, values } : { ok: false, errors: formatAjvErrors(validate.errors) };
  }

  /** Returns undefined when the JSON body matches the operation's request schema, else the errors. */
  validateBody(op: OpenApiOperation, body: unknown): string | undefined {
    const schema = this.route(op).spec.requestBody?.content?.['application/json']?.schema;
    if (schema === undefined) return undefined;
    return this.check(`${op.method} ${op.template} body`, schema, body);
  }

  /**
   * Validates a JSON response body against the schema the document gives for that status: the
   * exact code, then `4XX`-style ranges, then `default`. Returns the problem, if any.
   */
  validateResponse(op: OpenApiOperation, status: number, body: unknown): string | undefined {
    const responses = this.route(op).spec.responses ?? {};
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k] !== undefined);
    if (key === undefined) return `status ${status} is not documented`;
    const schema = responses[key]?.content?.['application/json']?.schema;
    if (schema === undefined) return `status ${status} (${key}) documents no JSON body`;
    return this.check(`${op.method} ${op.template} ${key}`, schema, body);
  }

  private check(key: string, schema: unknown, data: unknown): string | undefined {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(prepareSchema(schema) as JsonObject);
      this.compiled.set(key, validate);
    }
    return validate(data) ? undefined : formatAjvErrors(validate.errors);
  }

  private route(op: OpenApiOperation): Route {
    const route = this.byOperation.get(op);
    if (!route) throw new Error(`unknown operation ${op.id}`);
    return route;
  }
}
