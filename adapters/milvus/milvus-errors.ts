/**
 * How Milvus failures become typed errors. Milvus answers most failures as a status object in a
 * resolved response, not as an exception, so a call is checked twice: what the SDK throws goes
 * through the classifier (`engineCall`), what it returns through `checkStatus`. `milvusCall` does both.
 */
import { type EngineErrorClassifier, engineCall, isNetworkError, isOverloadMessage, isTransientGrpc } from '../../src/engine-errors.js';
import { EngineError, NotFoundError, type VectordrError } from '../../src/errors.js';
import { PLUGIN } from './milvus-types.js';

/** The status Milvus puts in a response (or, on some calls, throws). */
export interface MilvusStatus {
  error_code?: string | number;
  code?: number;
  reason?: string;
}

/** A response that carries a status, or a status itself. */
export type MilvusResponse = { status?: MilvusStatus } | MilvusStatus;

/** No status (calls that have none), or a status that says Success. */
export function isOk(status: MilvusStatus | undefined): boolean {
  if (status === undefined || status.error_code === 'Success' || status.error_code === 0) return true;
  return status.code === 0 && (status.error_code === undefined || status.error_code === '');
}

const NOT_FOUND_REASON = /collection .* (does not exist|not found)|can't find collection/i;
/** Milvus answers quota and memory limits (ForceDeny) with a status; a retry later may pass. */
const LIMIT_REASON = /quota|memory/i;
/**
 * A load while no query node can take a replica: one restarting, or not yet registered after the
 * server started (Milvus 2.3.5 standalone answered a load seconds after its health check passed).
 */
const NO_QUERY_NODE_REASON = /nodes not enough|not enough (query ?)?nodes/i;

/** True for Milvus's answer that no query node could take a replica yet: transient, a later load may pass. */
export function isNoQueryNode(err: unknown): boolean {
  return err instanceof EngineError && NO_QUERY_NODE_REASON.test(err.message);
}

/** The typed error for a status that is not Success, or undefined when it is. */
function statusError(status: MilvusStatus | undefined, what: string, collection: string | undefined): VectordrError | undefined {
  if (isOk(status)) return undefined;
  const reason = status?.reason ?? 'unknown error';
  if (collection !== undefined && (status?.error_code === 'CollectionNotExists' || status?.code === 100 || NOT_FOUND_REASON.test(reason))) {
    return new NotFoundError('COLLECTION_NOT_FOUND', `Milvus collection ${JSON.stringify(collection)} does not exist (${what}).`, {
      plugin: PLUGIN,
      details: { collection },
    });
  }
  const transient =
    status?.error_code === 'RateLimit' || isOverloadMessage(reason) || LIMIT_REASON.test(reason) || NO_QUERY_NODE_REASON.test(reason);
  return new EngineError(`${what}: ${reason}`, transient ? 'transient' : 'permanent', {
    plugin: PLUGIN,
    details: { code: status?.code, errorCode: status?.error_code },
  });
}

/** The status of a response, or the response itself when it is a bare status. */
function statusOf(res: MilvusResponse): MilvusStatus | undefined {
  if ('status' in res && typeof res.status === 'object') return res.status;
  return 'error_code' in res ? res : undefined;
}

/** Milvus's `EngineErrorClassifier`: statuses by their code and reason, the rest by gRPC status and message. */
export class MilvusErrorClassifier implements EngineErrorClassifier {
  classify(err: unknown, what: string, collection?: string): VectordrError {
    // Some SDK calls (createCollection on Milvus 2.3) throw the failed status itself, not an Error.
    if (!(err instanceof Error) && typeof err === 'object' && err !== null && ('error_code' in err || 'reason' in err)) {
      const typed = statusError(err as MilvusStatus, what, collection);
      if (typed) return typed;
    }
    const message = err instanceof Error ? err.message : String(err);
    const transient = isTransientGrpc(err) || isNetworkError(err) || isOverloadMessage(message) || NO_QUERY_NODE_REASON.test(message);
    return new EngineError(`${what}: ${message}`, transient ? 'transient' : 'permanent', { plugin: PLUGIN, cause: err });
  }

  /** `res` when its status is Success; else throws the typed error for the status. */
  checkStatus<T extends MilvusResponse>(res: T, what: string, collection?: string): T {
    const typed = statusError(statusOf(res), what, collection);
    if (typed) throw typed;
    return res;
  }
}

export const milvusErrors = new MilvusErrorClassifier();

/**
 * Runs one Milvus client call: what it throws and a failed status it returns both become typed
 * errors. `collection` (when the call names one) turns "collection not found" into COLLECTION_NOT_FOUND.
 */
export function milvusCall<T extends MilvusResponse>(what: string, collection: string | undefined, run: () => Promise<T>): Promise<T> {
  return engineCall(milvusErrors, what, collection, async () => milvusErrors.checkStatus(await run(), what, collection));
}
