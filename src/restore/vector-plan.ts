/**
 * Restore planning by vector kind (docs/format.md, "Vector kinds": widening rules): each vector field
 * of a snapshot against the kinds the target adapter declares (`capabilities.vectorKinds`), decided
 * before anything is written. Stored as is, widened exactly (float16, bfloat16, uint8, int8 →
 * float32, reported as converted), converted or left out as the caller named (`convertVectors`,
 * `omitVectors`), or refused with a typed error that names the field, its kind, what the target
 * stores and the option that would allow it. Capabilities decide, never engine names.
 */
import type { VectorKindCapability } from '../adapter.js';
import { InvalidInputError, UnsupportedOperationError } from '../errors.js';
import { EXACT_WIDENINGS, narrowFromFloat32, widenToFloat32 } from '../format/vector-elements.js';
import {
  type AnyVectorColumn,
  type CollectionSchema,
  type ElementColumn,
  type RecordBatch,
  type VectorColumn,
  type VectorElement,
  type VectorField,
  describeKind,
  elementRowWidth,
  isFloat32Column,
  kindOf,
  newElementArray,
} from '../model.js';

/** An entry of the restore result's `notCarriedOver[]` (the shape of restore.ts, kept apart so this file imports nothing of it). */
interface NotCarriedOver {
  what: 'value' | 'column';
  name: string;
  reason: string;
  action: 'converted' | 'dropped';
}

/** What the caller allows beyond exact restores (restore options of the same names). */
export interface VectorChoices {
  /** Field → element to store it as: names a lossy or otherwise refused conversion of a dense field. */
  convertVectors?: Readonly<Record<string, VectorElement>> | undefined;
  /** Fields to leave out of the restore. */
  omitVectors?: readonly string[] | undefined;
}

/** One dense field converted from the snapshot's element to the target's, with what was counted while loading. */
export interface Conversion {
  field: string;
  from: VectorElement;
  to: VectorElement;
  /** True when every value is kept (an exact widening). */
  exact: boolean;
  /** Values whose conversion changed them (a named lossy conversion); counted while loading. */
  changedVectors: number;
}

export interface VectorPlan {
  /** The schema the target is created with: converted elements, omitted fields removed. */
  schema: CollectionSchema;
  conversions: Conversion[];
  omitted: string[];
  /** Applies the plan to a decoded batch (of the snapshot's schema). */
  apply(batch: RecordBatch): RecordBatch;
  /** What the restore result lists: every conversion and every omitted field. */
  report(): NotCarriedOver[];
}

function storedDescription(caps: VectorKindCapability): string {
  const parts = [
    caps.dense.length > 0 ? `dense ${caps.dense.join('/')}` : undefined,
    caps.sparse ? 'sparse' : undefined,
    caps.multi.length > 0 ? `multi ${caps.multi.join('/')}` : undefined,
  ].filter((p) => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : 'no vectors';
}

function stores(caps: VectorKindCapability, f: Pick<VectorField, 'kind' | 'element'>): boolean {
  const kind = kindOf(f);
  if (kind === 'sparse') return caps.sparse;
  if (kind === 'multi') return caps.multi.includes(f.element);
  return caps.dense.includes(f.element);
}

/**
 * Plans the vector fields of `schema` for a target that stores `caps`; throws before anything is
 * written when a field can be neither stored, widened exactly nor handled as the caller named.
 */
export function planVectors(schema: CollectionSchema, caps: VectorKindCapability, engine: string, choices: VectorChoices = {}): VectorPlan {
  const names = new Set(schema.vectors.map((v) => v.name));
  const omit = new Set(choices.omitVectors ?? []);
  const convert = choices.convertVectors ?? {};
  for (const name of [...omit, ...Object.keys(convert)]) {
    if (!names.has(name)) {
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        `The snapshot has no vector field ${JSON.stringify(name)} to convert or omit (it has ${[...names].join(', ')}).`,
        {
          details: { field: name },
        },
      );
    }
  }
  const conversions: Conversion[] = [];
  const vectors: VectorField[] = [];
  for (const f of schema.vectors) {
    if (omit.has(f.name)) continue;
    const kind = kindOf(f);
    const named = Object.hasOwn(convert, f.name) ? convert[f.name] : undefined; // a field may be named "constructor"
    const refuse = (why: string, option: string): never => {
      throw new UnsupportedOperationError(
        `Vector field ${JSON.stringify(f.name)} is ${describeKind(f)}; ${engine} stores ${storedDescription(caps)}${why}. ` +
          `Nothing was written. ${option}`,
        { plugin: engine, details: { field: f.name, kind, element: f.element, target: storedDescription(caps) } },
      );
    };
    const omitHint = `Pass omitVectors: [${JSON.stringify(f.name)}] to restore without it.`;
    if (named !== undefined) {
      if (kind !== 'dense') refuse(`, and a ${kind} vector converts to no other element`, omitHint);
      if (!caps.dense.includes(named)) refuse(`, not ${named}`, `Name an element it stores in convertVectors, or ${omitHint}`);
      if (named !== f.element)
        conversions.push({
          field: f.name,
          from: f.element,
          to: named,
          exact: EXACT_WIDENINGS.has(f.element) && named === 'float32',
          changedVectors: 0,
        });
      vectors.push({ ...f, element: named, nativeType: named === f.element ? f.nativeType : undefined });
      continue;
    }
    if (stores(caps, f)) {
      vectors.push(f);
      continue;
    }
    if (kind === 'dense' && EXACT_WIDENINGS.has(f.element) && caps.dense.includes('float32')) {
      conversions.push({ field: f.name, from: f.element, to: 'float32', exact: true, changedVectors: 0 });
      vectors.push({ ...f, element: 'float32', nativeType: undefined });
      continue;
    }
    if (kind === 'dense') {
      const to = caps.dense.includes('float32') ? 'float32' : caps.dense[0];
      refuse(
        f.element === 'binary' ? ', and bits are never widened implicitly' : '',
        `${to === undefined ? '' : `Pass convertVectors: { ${JSON.stringify(f.name)}: '${to}' } to convert it (not exact), or `}${omitHint}`,
      );
    }
    refuse('', omitHint);
  }
  if (vectors.length === 0) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `omitVectors leaves no vector field of ${JSON.stringify(schema.name)}; a collection needs at least one.`,
    );
  }
  const byField = new Map(conversions.map((c) => [c.field, c]));
  const omitted = schema.vectors.filter((v) => omit.has(v.name)).map((v) => v.name);
  return {
    schema: { ...schema, vectors, indexes: schema.indexes.filter((i) => !omit.has(i.field)) },
    conversions,
    omitted,
    apply(batch) {
      if (conversions.length === 0 && omitted.length === 0) return batch;
      const out = Object.create(null) as Record<string, AnyVectorColumn>;
      for (const [name, col] of Object.entries(batch.vectors)) {
        if (omit.has(name)) continue;
        const c = byField.get(name);
        out[name] = c ? convertColumn(col, c, batch.length) : col;
      }
      return { ...batch, vectors: out };
    },
    report() {
      return [
        ...conversions.map((c): NotCarriedOver => ({
          what: 'value',
          name: `vector ${JSON.stringify(c.field)}`,
          reason: c.exact
            ? `${c.from} vectors stored as ${c.to}, exactly (the target does not store ${c.from}); parity compares them as ${c.from}`
            : `${c.from} vectors stored as ${c.to} (convertVectors); ${c.changedVectors} vectors changed by the conversion`,
          action: 'converted',
        })),
        ...omitted.map((name): NotCarriedOver => ({
          what: 'column',
          name: `vector ${JSON.stringify(name)}`,
          reason: 'left out (omitVectors)',
          action: 'dropped',
        })),
      ];
    },
  };
}

/** A dense column of one element as another: through float32, exact for widenings, counted when a value changes. */
export function convertColumn(col: AnyVectorColumn, c: Conversion, rows: number): AnyVectorColumn {
  const dims = col.dims ?? 0;
  if (!isFloat32Column(col) && col.kind !== 'dense') throw new RangeError(`cannot convert a ${col.kind} column`);
  const valid = col.valid ? { valid: col.valid } : {};
  const rowFloats = (i: number): Float32Array => {
    if (isFloat32Column(col)) return col.data.subarray(i * dims, (i + 1) * dims);
    const w = elementRowWidth(col.element, dims);
    return widenToFloat32(col.element, col.data.subarray(i * w, (i + 1) * w), dims);
  };
  if (c.to === 'float32') {
    const data = new Float32Array(rows * dims);
    for (let i = 0; i < rows; i++) if (!col.valid || col.valid[i] !== 0) data.set(rowFloats(i), i * dims);
    if (!c.exact && !isFloat32Column(col) && col.element === 'binary') c.changedVectors += countValid(col.valid, rows);
    const out: VectorColumn = { dims, data, ...valid };
    return out;
  }
  const w = elementRowWidth(c.to, dims);
  const data = newElementArray(c.to, rows * w) as ElementColumn['data'];
  for (let i = 0; i < rows; i++) {
    if (col.valid && col.valid[i] === 0) continue;
    const narrowed = narrowFromFloat32(c.to, rowFloats(i));
    (data as Uint8Array).set(narrowed.data as Uint8Array, i * w);
    if (!narrowed.exact) c.changedVectors++;
  }
  const out: ElementColumn = { kind: 'dense', element: c.to, dims, data, ...valid };
  return out;
}

function countValid(valid: Uint8Array | undefined, rows: number): number {
  if (!valid) return rows;
  let n = 0;
  for (let i = 0; i < rows; i++) if (valid[i] !== 0) n++;
  return n;
}
