/**
 * Whether an existing collection fits a snapshot's schema: `checkAppendable` before a restore
 * writes into it, `checkCompatible` before parity compares it. Both refuse with a typed error that
 * says what differs and what to do, before anything is written or compared.
 */
import { InvalidInputError } from './errors.js';
import { EXACT_WIDENINGS } from './format/vector-elements.js';
import { type CollectionSchema, type VectorField, describeKind, kindOf } from './model.js';

/** Whether an existing field holds the snapshot field's kind: the same kind and element, or (`widened`) float32 for an exact widening. */
function sameKind(existing: VectorField, wanted: VectorField, widened: boolean): boolean {
  if (kindOf(existing) !== kindOf(wanted)) return false;
  if (existing.element === wanted.element) return true;
  return widened && kindOf(wanted) === 'dense' && existing.element === 'float32' && EXACT_WIDENINGS.has(wanted.element);
}

const typeOf = (f: { type: string; array: boolean; nativeType?: string | undefined }): string =>
  f.nativeType ?? `${f.type}${f.array ? '[]' : ''}`;

/**
 * An existing target must be able to take every record of the snapshot as it is: the same id type,
 * the same vector fields (dims, metric), every payload field with the same type (the engine's own
 * declaration when both sides have one, else the neutral type), no required field where the
 * snapshot allows null, and no required vector the snapshot lacks. Checked before anything is
 * written, so a refusal leaves the target exactly as it was.
 */
export function checkAppendable(existing: CollectionSchema, wanted: CollectionSchema): void {
  const target = JSON.stringify(existing.name);
  const refuse = (code: 'SCHEMA_MISMATCH' | 'DIMENSION_MISMATCH', what: string, details: Record<string, unknown>): never => {
    throw new InvalidInputError(
      code,
      `Cannot restore into the existing ${target}: ${what}. Nothing was written. Restore with ` +
        `ifExists: 'replace' (swap the snapshot in) or into a new target, or change ${target} to ` +
        `match the snapshot.`,
      {
        details: { target: existing.name, ...details },
      },
    );
  };
  if (existing.idType !== wanted.idType)
    refuse('SCHEMA_MISMATCH', `it has ${existing.idType} ids, the snapshot has ${wanted.idType}`, {
      target_id: existing.idType,
      snapshot_id: wanted.idType,
    });
  if (existing.idNativeType !== undefined && wanted.idNativeType !== undefined && existing.idNativeType !== wanted.idNativeType) {
    refuse(
      'SCHEMA_MISMATCH',
      `its id ${JSON.stringify(existing.idField)} is ${existing.idNativeType}, ` + `${wanted.idNativeType} in the snapshot`,
      { field: existing.idField, targetType: existing.idNativeType, snapshotType: wanted.idNativeType },
    );
  }
  for (const v of wanted.vectors) {
    const e = existing.vectors.find((x) => x.name === v.name);
    if (!e) refuse('SCHEMA_MISMATCH', `it has no vector field ${JSON.stringify(v.name)}`, { field: v.name });
    else if (!sameKind(e, v, false)) {
      refuse(
        'SCHEMA_MISMATCH',
        `it stores ${JSON.stringify(v.name)} as ${describeKind(e)}, the snapshot as ${describeKind(v)} (convertVectors names a conversion)`,
        { field: v.name, target: describeKind(e), snapshot: describeKind(v) },
      );
    } else if (e.metric !== 'unspecified' && v.metric !== 'unspecified' && e.metric !== v.metric) {
      refuse(
        'SCHEMA_MISMATCH',
        `it searches ${JSON.stringify(v.name)} by ${e.metric}, the snapshot by ${v.metric}, and ` +
          `vectordr never changes a metric silently`,
        { field: v.name, target: e.metric, snapshot: v.metric },
      );
    } else if (e.dims !== v.dims) {
      refuse('DIMENSION_MISMATCH', `it stores ${e.dims}-dimensional ${JSON.stringify(v.name)} vectors, the snapshot has ${v.dims}`, {
        field: v.name,
        target: e.dims,
        snapshot: v.dims,
      });
    } else if (v.nullable && !e.nullable) {
      refuse('SCHEMA_MISMATCH', `vector field ${JSON.stringify(v.name)} is required there, optional in the snapshot`, { field: v.name });
    }
  }
  for (const e of existing.vectors) {
    if (!e.nullable && !wanted.vectors.some((v) => v.name === e.name))
      refuse('SCHEMA_MISMATCH', `it requires vector field ${JSON.stringify(e.name)}, which the snapshot does not have`, { field: e.name });
  }
  for (const p of wanted.payload) {
    const e = existing.payload.find((x) => x.name === p.name);
    if (!e) refuse('SCHEMA_MISMATCH', `it has no field ${JSON.stringify(p.name)}`, { field: p.name });
    else if (
      e.type !== p.type ||
      e.array !== p.array ||
      (e.nativeType !== undefined && p.nativeType !== undefined && e.nativeType !== p.nativeType)
    ) {
      refuse('SCHEMA_MISMATCH', `field ${JSON.stringify(p.name)} is ${typeOf(e)} there, ${typeOf(p)} in the snapshot`, {
        field: p.name,
        targetType: typeOf(e),
        snapshotType: typeOf(p),
      });
    } else if (p.nullable && !e.nullable) {
      refuse('SCHEMA_MISMATCH', `field ${JSON.stringify(p.name)} is required (NOT NULL) there, nullable in the snapshot`, {
        field: p.name,
      });
    }
  }
}

/**
 * The live collection parity compares with a snapshot has the same vector fields (names and dims)
 * and id type, and every payload field (a restore into an existing target checks more: `checkAppendable`).
 */
export function checkCompatible(existing: CollectionSchema, wanted: CollectionSchema): void {
  if (existing.idType !== wanted.idType) {
    throw new InvalidInputError(
      'SCHEMA_MISMATCH',
      `Target ${JSON.stringify(existing.name)} has ${existing.idType} ids, the snapshot has ` +
        `${wanted.idType}; restore into a new name or use ifExists: 'replace'.`,
    );
  }
  for (const v of wanted.vectors) {
    const e = existing.vectors.find((x) => x.name === v.name);
    if (!e) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Target ${JSON.stringify(existing.name)} has no vector field ${JSON.stringify(v.name)}; ` +
          `restore into a new name or use ifExists: 'replace'.`,
      );
    }
    if (!sameKind(e, v, true)) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Target ${JSON.stringify(existing.name)} stores ${JSON.stringify(v.name)} as ${describeKind(e)}, the snapshot as ` +
          `${describeKind(v)}; parity compares only the same kind (or an exact widening to float32).`,
        { details: { field: v.name, target: describeKind(e), snapshot: describeKind(v) } },
      );
    }
    if (e.metric !== 'unspecified' && v.metric !== 'unspecified' && e.metric !== v.metric) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Target ${JSON.stringify(existing.name)} searches ${JSON.stringify(v.name)} by ` +
          `${e.metric}, the snapshot by ${v.metric}; vectordr never changes a metric silently. ` +
          `Restore into a new name or use ifExists: 'replace'.`,
        {
          details: { field: v.name, target: e.metric, snapshot: v.metric },
        },
      );
    }
    // A sparse field without a count lands in a target that must declare one (pgvector: sparsevec(1000000000)); the
    // digest holds no count, and every index was checked below it before the restore.
    const undeclaredSparse = kindOf(v) === 'sparse' && v.dims === undefined;
    if (e.dims !== v.dims && !undeclaredSparse) {
      throw new InvalidInputError(
        'DIMENSION_MISMATCH',
        `Target ${JSON.stringify(existing.name)} stores ${e.dims}-dimensional ` +
          `${JSON.stringify(v.name)} vectors, the snapshot has ${v.dims}; restore into a new name or ` +
          `use ifExists: 'replace'.`,
        {
          details: { field: v.name, target: e.dims, snapshot: v.dims },
        },
      );
    }
  }
  for (const p of wanted.payload) {
    if (!existing.payload.some((x) => x.name === p.name)) {
      throw new InvalidInputError(
        'SCHEMA_MISMATCH',
        `Target ${JSON.stringify(existing.name)} has no payload field ${JSON.stringify(p.name)}; ` + `nothing was written.`,
      );
    }
  }
}
