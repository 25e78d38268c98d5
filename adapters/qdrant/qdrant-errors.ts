/**
 * How @qdrant/js-client-rest failures become typed errors. Every client call of the adapter runs
 * through `engineCall(qdrantErrors, what, collection, run)` (src/engine-errors.ts).
 */
import { EngineError, NotFoundError, type VectordrError } from '../../src/errors.js';
import { type EngineErrorClassifier, isNetworkError, isOverloadMessage, isTransientHttpStatus } from '../../src/engine-errors.js';
import { PLUGIN } from './qdrant-types.js';

/** What the client throws: an `ApiError` (HTTP status, Qdrant's JSON answer) or the fetch/undici error underneath. */
interface QdrantClientError {
  status?: number;
  message?: string;
  data?: { status?: { error?: string } };
}

/**
 * 404 on a call that names a collection: COLLECTION_NOT_FOUND. Transient: 408, 429 and 5xx answers,
 * a cut or refused connection, and answers that say "timeout". Everything else is permanent.
 */
export const qdrantErrors: EngineErrorClassifier = {
  classify(err: unknown, what: string, collection?: string): VectordrError {
    const e = err as QdrantClientError;
    // Qdrant's own words (`{"status":{"error":"..."}}`) say more than the client's status line.
    const msg = e.data?.status?.error ?? e.message ?? String(err);
    if (e.status === 404 && collection !== undefined) {
      const message = `Qdrant collection ${JSON.stringify(collection)} does not exist (${what}).`;
      return new NotFoundError('COLLECTION_NOT_FOUND', message, { plugin: PLUGIN, details: { collection } });
    }
    const transient = isTransientHttpStatus(e.status) || isNetworkError(err) || isOverloadMessage(msg);
    return new EngineError(`${what}: ${msg}`, transient ? 'transient' : 'permanent', {
      plugin: PLUGIN,
      cause: err,
      details: { status: e.status },
    });
  },
};
