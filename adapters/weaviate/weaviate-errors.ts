/**
 * How Weaviate's failures become typed errors, in one place: errors the client throws (`classify`,
 * run through `grpcCall`), REST answers by HTTP status, the own BatchObjects call's gRPC status, a
 * transport that could not reach Weaviate, and objects a batch import refused.
 *
 * Each rule keeps the outcome it had before it moved here. Where the shared patterns of
 * src/engine-errors.ts say the same thing they are used; where they would class more errors as
 * transient (408 and 429 answers, "rate limit" in prose, gRPC status names in lower case) the
 * Weaviate rule stays as it is and the comment says how it differs.
 */
import { type EngineErrorClassifier, engineCall, isTransientGrpc } from '../../src/engine-errors.js';
import { EngineError } from '../../src/errors.js';
import { PLUGIN } from './weaviate-types.js';

/**
 * weaviate-client errors carry the gRPC status name, a socket error or an HTTP status only in their
 * message, in any case. Narrower than `isNetworkError` + `isOverloadMessage` (no EPIPE, no "rate
 * limit"), and case-insensitive where `isTransientGrpc` is not.
 */
const CLIENT_TRANSIENT = /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|ECONNRESET|RESOURCE_EXHAUSTED|timed? ?out|429|503/i;

/** What Weaviate writes into an object's batch error when it was too busy for it (not `isOverloadMessage`: "timeout", "rate"). */
const REFUSAL_TRANSIENT = /timeout|unavailable|too many|rate/i;

/** Errors weaviate-client throws from its gRPC data calls. */
export const weaviateErrors: EngineErrorClassifier = {
  classify(err: unknown, what: string): EngineError {
    const msg = (err as Error).message ?? String(err);
    return new EngineError(`${what}: ${msg}`, CLIENT_TRANSIENT.test(msg) ? 'transient' : 'permanent', { plugin: PLUGIN, cause: err });
  },
};

/** Wraps a client call: typed, retryable-where-it-is errors; VectordrErrors pass through. */
export function grpcCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  return engineCall(weaviateErrors, what, undefined, run);
}

/** Weaviate could not be reached or the connection broke: always worth a retry. */
export function unreachableError(message: string, cause: unknown): EngineError {
  return new EngineError(message, 'transient', { plugin: PLUGIN, cause });
}

/** A non-2xx REST answer, with Weaviate's own error messages. 429 and 5xx are transient (not 408, unlike `isTransientHttpStatus`). */
export function restError(method: string, path: string, status: number, json: unknown): EngineError {
  const messages = (json as { error?: { message?: string }[] } | undefined)?.error?.map((e) => e.message).filter(Boolean);
  const msg = messages?.length ? messages.join('; ') : typeof json === 'string' ? json.slice(0, 300) : `HTTP ${status}`;
  const transient = status === 429 || status >= 500;
  return new EngineError(`${method} ${path.split('?')[0]}: ${msg}`, transient ? 'transient' : 'permanent', {
    plugin: PLUGIN,
    details: { status },
  });
}

/** An unexpected HTTP status of a marker or schema request: only 5xx is transient (429 too is permanent here). */
export function httpStatusError(message: string, status: number): EngineError {
  return new EngineError(message, status >= 500 ? 'transient' : 'permanent', { plugin: PLUGIN });
}

/**
 * A gRPC call vectordr encodes itself (BatchObjects, Search) that ended with a status other than OK
 * (`undefined`: the connection closed without one). DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and
 * UNAVAILABLE are worth a retry.
 */
export function grpcStatusError(method: string, status: string | undefined, statusMessage: string): EngineError {
  const transient = status === undefined || isTransientGrpc({ code: Number(status) });
  return new EngineError(
    `${method}: gRPC status ${status ?? 'none (connection closed)'} ${statusMessage}`.trim(),
    transient ? 'transient' : 'permanent',
    {
      plugin: PLUGIN,
      details: { grpcStatus: status },
    },
  );
}

/** Objects of one batch import that Weaviate refused (the others were stored); transient when every refusal says "busy". */
export function refusedObjectsError(collection: string, refused: { id: string; message: string }[], batchSize: number): EngineError {
  const first = refused.slice(0, 3).map((e) => `id ${e.id}: ${e.message}`);
  const transient = refused.every((e) => REFUSAL_TRANSIENT.test(e.message));
  return new EngineError(
    `Weaviate refused ${refused.length} of ${batchSize} objects written to ${JSON.stringify(collection)} (${first.join('; ')}). ` +
      'The others were stored; writes are idempotent, so rerunning the restore resumes safely.',
    transient ? 'transient' : 'permanent',
    { plugin: PLUGIN, details: { failed: refused.length, batch: batchSize } },
  );
}
