/**
 * How `pg` and PGlite errors become typed errors: SQLSTATE classes first (42P01 undefined table,
 * 08 connection, 57P shutdown, 40001/40P01 serialization and deadlock, 53 resources, 22/23 data and
 * constraints), then the network failures every transport shares (`isNetworkError`).
 */
import { EngineError, InvalidInputError, NotFoundError, VectordrError } from '../../src/errors.js';
import { type EngineErrorClassifier, isNetworkError } from '../../src/engine-errors.js';

const PLUGIN = 'pgvector';

/** SQLSTATEs a retry may cure: connection exceptions, admin/crash shutdown, serialization failures, deadlocks, insufficient resources. */
const TRANSIENT_SQLSTATE = /^(08|57P|40001|40P01|53)/;

export const pgvectorErrors: EngineErrorClassifier = {
  classify(err: unknown, what: string): VectordrError {
    if (err instanceof RangeError) {
      return new InvalidInputError(
        'SCHEMA_MISMATCH',
        `${what}: a value does not fit its column type (${err.message}); nothing from this batch ` + `was written.`,
        { plugin: PLUGIN, cause: err },
      );
    }
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : '';
    const msg = typeof e.message === 'string' ? e.message : String(err);
    if (code === '42P01') return new NotFoundError('COLLECTION_NOT_FOUND', `${what}: ${msg}`, { plugin: PLUGIN, cause: err });
    if (TRANSIENT_SQLSTATE.test(code) || isNetworkError(err)) {
      return new EngineError(`${what}: ${msg}`, 'transient', { plugin: PLUGIN, cause: err, details: { sqlstate: code } });
    }
    if (/^22|^23/.test(code))
      return new InvalidInputError('SCHEMA_MISMATCH', `${what}: ${msg}`, { plugin: PLUGIN, cause: err, details: { sqlstate: code } });
    return new EngineError(`${what}: ${msg}`, 'permanent', { plugin: PLUGIN, cause: err, details: { sqlstate: code } });
  },
};

/** `err` as a typed error: a VectordrError as it is, anything else classified. */
export function pgvectorError(err: unknown, what: string): VectordrError {
  return err instanceof VectordrError ? err : pgvectorErrors.classify(err, what);
}
