/**
 * Validates Kubernetes objects against the OpenAPI v3 documents the API server publishes (as
 * shipped in the k8s.io/kubernetes module), the way the server decodes a request with
 * fieldValidation=Strict (kubectl's default since 1.27): an unknown or misspelled field anywhere is
 * an error, as is a wrong type. Ajv is a JSON Schema validator; where the documents and the
 * server's decoding differ, {@link prepare} and {@link registerFormats} say how and why.
 *
 * Not covered: the server's validation beyond the schema (name syntax, cross-field rules such as
 * podFailurePolicy needing restartPolicy Never). The tests check the few of those that matter here.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { formatAjvErrors } from '../qdrant/openapi-validator.js';

type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const QUANTITY_NAME = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
/**
 * apimachinery's quantity grammar: a signed decimal number, then a binary SI suffix (Ki..Ei), a
 * decimal SI suffix (n, u, m, k, M..E) or a decimal exponent (e3, E-2). `1Gb`, `1 Gi` and `1GiB` fail.
 */
const QUANTITY = '^[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$';
/** A named port (IANA_SVC_NAME: 1-15 lowercase letters, digits and inner hyphens, one letter at least). */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?$/;

/**
 * One schema of `components.schemas`, rewritten for Ajv:
 * - `#/components/schemas/X` refs point into the document registered as `file` (`$defs`).
 * - `additionalProperties: false` where the schema lists `properties` and says nothing about other
 *   keys: the server's strict decoding rejects unknown fields of every typed struct. Maps
 *   (`additionalProperties: {...}`) and free-form objects (RawExtension, FieldsV1: no `properties`)
 *   keep accepting any key, as the server does.
 * - The `x-kubernetes-*` extensions (merge keys, list types, GVKs), descriptions and defaults are
 *   dropped: they annotate, they do not constrain what decodes.
 * - Quantity (`oneOf: [string, number]` in the document) gets the grammar its parser enforces.
 */
function prepare(schema: unknown, file: string): unknown {
  if (Array.isArray(schema)) return schema.map((s) => prepare(s, file));
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-') || key === 'description' || key === 'default') continue;
    if (key === '$ref' && typeof value === 'string') out[key] = value.replace('#/components/schemas/', `${file}#/$defs/`);
    else if (key === 'properties' && isObject(value))
      out[key] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, prepare(s, file)]));
    else out[key] = prepare(value, file);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** The formats the documents use, with the range or syntax the server's decoder enforces. */
function registerFormats(ajv: Ajv): void {
  addFormats.default(ajv, ['date-time']);
  ajv.addFormat('int32', { type: 'number', validate: (x: number) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (x: number) => Number.isSafeInteger(x) });
  ajv.addFormat('double', { type: 'number', validate: (x: number) => Number.isFinite(x) });
  ajv.addFormat('byte', {
    type: 'string',
    validate: (s: string) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
  });
  // IntOrString as a string is a percentage (maxSurge: 25%) or a port name (port: http); a quoted
  // number ("8080") is neither, and the server refuses it where a port or a count is meant.
  ajv.addFormat('int-or-string', { type: 'string', validate: (s: string) => /^[0-9]+%$/.test(s) || PORT_NAME.test(s) });
}

/** `group/version/kind` of an object (`v1` is the core group). */
function gvkOf(obj: JsonObject): { group: string; version: string; kind: string } | undefined {
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return undefined;
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/', 2) : ['', obj.apiVersion];
  return { group: group!, version: version!, kind: obj.kind };
}

/** The OpenAPI v3 documents of one Kubernetes release (a folder from scripts/k8s-tools.sh). */
export class KubernetesSchemas {
  /** `k8s.io/kubernetes v1.37.2 h1:...`, from the folder's SUM file. */
  readonly release: string;
  private readonly ajv = new Ajv({ strict: true, strictTypes: false, allErrors: true });
  /** Per document file: schema name by `group/version/kind`. */
  private readonly kinds = new Map<string, Map<string, string>>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly dir: string) {
    this.release = readFileSync(`${dir}/SUM`, 'utf8').trim();
    registerFormats(this.ajv);
  }

  /** The Kubernetes version, e.g. `v1.37.2`. */
  get version(): string {
    return this.release.split(' ')[1] ?? this.release;
  }

  /** Problems with `obj` (an object with apiVersion and kind), or undefined when the server would accept its fields. */
  validate(obj: unknown): string | undefined {
    if (!isObject(obj)) return 'not an object';
    const gvk = gvkOf(obj);
    if (!gvk) return 'no apiVersion or kind';
    return this.validateAs(obj, gvk.group, gvk.version, gvk.kind);
  }

  /** Validates `value` as the schema of `kind` in group/version (a Pod built from a Blueprint phase, a PodSpec patch). */
  validateAs(value: unknown, group: string, version: string, kind: string): string | undefined {
    const file = group === '' ? `api__${version}_openapi.json` : `apis__${group}__${version}_openapi.json`;
    const key = `${group}/${version}/${kind}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      const name = this.load(file).get(key);
      if (!name) return `${this.version} has no ${kind} in ${group || 'core'}/${version}`;
      validate = this.ajv.compile({ $ref: `${file}#/$defs/${name}` });
      this.compiled.set(key, validate);
    }
    return validate(value) ? undefined : formatAjvErrors(validate.errors);
  }

  /** Validates `value` against a named schema of a document (`io.k8s.api.core.v1.PodSpec`). */
  validateSchema(value: unknown, group: string, version: string, schema: string): string | undefined {
    const file = group === '' ? `api__${version}_openapi.json` : `apis__${group}__${version}_openapi.json`;
    this.load(file);
    const validate = this.ajv.compile({ $ref: `${file}#/$defs/${schema}` });
    return validate(value) ? undefined : formatAjvErrors(validate.errors);
  }

  private load(file: string): Map<string, string> {
    let kinds = this.kinds.get(file);
    if (kinds) return kinds;
    let doc: { components?: { schemas?: Record<string, JsonObject> } };
    try {
      doc = JSON.parse(readFileSync(`${this.dir}/${file}`, 'utf8')) as typeof doc;
    } catch {
      kinds = new Map();
      this.kinds.set(file, kinds);
      return kinds;
    }
    const schemas = doc.components?.schemas ?? {};
    kinds = new Map();
    const defs: JsonObject = {};
    for (const [name, schema] of Object.entries(schemas)) {
      for (const g of (schema['x-kubernetes-group-version-kind'] ?? []) as { group: string; version: string; kind: string }[]) {
        kinds.set(`${g.group}/${g.version}/${g.kind}`, name);
      }
      defs[name] = name === QUANTITY_NAME ? { oneOf: [{ type: 'string', pattern: QUANTITY }, { type: 'number' }] } : prepare(schema, file);
    }
    this.ajv.addSchema({ $id: file, $defs: defs });
    this.kinds.set(file, kinds);
    return kinds;
  }
}
