import { InvalidInputError } from './errors.js';
import { checkKindColumn } from './format/vector-columns.js';
import { firstNonFinite } from './format/vector-elements.js';
import { type RecordBatch, type VectorField, float32Column, isDenseFloat32, requireDims } from './model.js';

/**
 * Checks that every vector in the batch has the declared kind, dims and only finite values (sparse:
 * indices strictly ascending; invariant 8). Run before anything is written so a bad batch is refused whole.
 */
export function validateBatchVectors(
  batch: RecordBatch,
  fields: readonly (Pick<VectorField, 'name' | 'kind' | 'dims' | 'nullable'> & { element?: VectorField['element'] | undefined })[],
  plugin = 'core',
): void {
  for (const f of fields) {
    const given = batch.vectors[f.name];
    if (!given) {
      throw new InvalidInputError('SCHEMA_MISMATCH', `Batch has no values for vector field ${JSON.stringify(f.name)}.`, { plugin });
    }
    if (!isDenseFloat32(f)) {
      checkKindColumn(f, given, batch.length, batch.ids, plugin);
      if (given.valid && !f.nullable && given.valid.subarray(0, batch.length).includes(0)) {
        throw new InvalidInputError(
          'INVALID_VECTOR',
          `Vector field ${JSON.stringify(f.name)} is not nullable but the batch has null vectors.`,
          {
            plugin,
          },
        );
      }
      continue;
    }
    const col = float32Column(given, f.name, 'vector validation', plugin);
    const dims = requireDims(f, plugin);
    if (col.dims !== dims || col.data.length !== batch.length * dims) {
      throw new InvalidInputError(
        'DIMENSION_MISMATCH',
        `Vector field ${JSON.stringify(f.name)} has ${f.dims} dimensions but the data has ` +
          `${col.dims}; restore into a collection with ${col.dims} dimensions or re-embed.`,
        {
          plugin,
          details: { field: f.name, expected: f.dims, actual: col.dims },
        },
      );
    }
    const bad = firstNonFinite(col.data);
    if (bad !== -1) {
      const row = Math.floor(bad / dims);
      throw new InvalidInputError(
        'INVALID_VECTOR',
        `Vector field ${JSON.stringify(f.name)} of row ${row} (id ${String(batch.ids[row])}) ` +
          `contains ${String(col.data[bad])}; vectors must be finite. Fix the source data; nothing was written.`,
        {
          plugin,
          details: { field: f.name, row },
        },
      );
    }
    if (col.valid && !f.nullable && col.valid.includes(0)) {
      throw new InvalidInputError(
        'INVALID_VECTOR',
        `Vector field ${JSON.stringify(f.name)} is not nullable but the batch has null vectors.`,
        { plugin },
      );
    }
  }
}

/**
 * The INVALID_IDENTIFIER an adapter's `checkCollectionName` throws: the name, the engine's rule, and
 * a valid name to restore into instead.
 */
export function invalidCollectionName(
  plugin: string,
  name: string,
  rule: string,
  suggestion: string,
  use: 'read' | 'create',
): InvalidInputError {
  const next =
    use === 'create'
      ? `Restore with target: ${JSON.stringify(suggestion)} (or another valid name); nothing was created.`
      : 'Pass the name of an existing collection.';
  return new InvalidInputError('INVALID_IDENTIFIER', `${JSON.stringify(name)} cannot name a ${plugin} collection: ${rule}. ${next}`, {
    plugin,
    details: { collection: name },
  });
}
