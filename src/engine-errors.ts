/**
 * How an engine's client errors become typed errors. Each adapter implements `EngineErrorClassifier`
 * once, in its `<engine>-errors.ts`, and runs every client call through `engineCall`; the patterns
 * that say "a retry may succeed" for every transport live here, once.
 */
import { VectordrError } from './errors.js';
import { retry } from './retry.js';

/** One per engine: turns whatever its client threw into a typed `VectordrError`. */
export interface EngineErrorClassifier {
  /**
   * The typed error for `err`, thrown by the client call `what` (on `collection`, when the call
   * names one: a "not found" then becomes COLLECTION_NOT_FOUND). Never called with a VectordrError.
   */
  classify(err: unknown, what: string, collection?: string): VectordrError;
}

/** Runs one client call; a VectordrError passes through, anything else goes through `classifier`. */
export async function engineCall<T>(
  classifier: EngineErrorClassifier,
  what: string,
  collection: string | undefined,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof VectordrError) throw err;
    throw classifier.classify(err, what, collection);
  }
}

/**
 * `engineCall` for a read the engine may be asked again (a scroll page, a retrieve, a describe):
 * an error classified `transient` (a dropped connection, 429/5xx, an overloaded engine) is retried
 * up to `attempts` times with jittered back-off; anything else, or an abort, is thrown at once.
 */
export async function engineRead<T>(
  classifier: EngineErrorClassifier,
  what: string,
  collection: string | undefined,
  run: () => Promise<T>,
  options: { signal?: AbortSignal | undefined; attempts?: number } = {},
): Promise<T> {
  return retry(() => engineCall(classifier, what, collection, run), {
    attempts: options.attempts ?? 4,
    baseDelayMs: 250,
    maxDelayMs: 4000,
    retryable: (err) => err instanceof VectordrError && err.category === 'transient',
    signal: options.signal,
  });
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const NETWORK_MESSAGE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|fetch failed|other side closed|Connection terminated/i;
/** gRPC status names a retry may cure (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED). */
const GRPC_TRANSIENT = /UNAVAILABLE|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED/i;
const GRPC_TRANSIENT_CODES = new Set([4, 8, 14]);
/** Overload answers an engine gives in prose. */
const OVERLOAD_MESSAGE = /rate ?limit|too many requests|timed? ?out/i;

/** The connection failed or was cut: nothing says the server refused the work. */
export function isNetworkError(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') return true;
  if (typeof e.message === 'string' && NETWORK_MESSAGE.test(e.message)) return true;
  // fetch wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  return e.cause !== undefined && e.cause !== err && isNetworkError(e.cause);
}

/** A gRPC failure a retry may cure: by status code (4, 8, 14) or by status name in its text (clients rewrap statuses). */
export function isTransientGrpc(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && GRPC_TRANSIENT_CODES.has(code)) return true;
  const msg = err instanceof Error ? err.message : String(err);
  return GRPC_TRANSIENT.test(msg);
}

/** An HTTP status a retry may cure: 408, 429 and 5xx. */
export function isTransientHttpStatus(status: number | undefined): boolean {
  return status !== undefined && (status === 408 || status === 429 || status >= 500);
}

/** An engine said "overloaded, try later" in words (rate limits, quotas, timeouts). */
export function isOverloadMessage(message: string): boolean {
  return OVERLOAD_MESSAGE.test(message);
}
