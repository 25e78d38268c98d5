/**
 * Typed errors. Every error vectordr throws is a `VectordrError` with a stable `code` (safe to
 * switch on), a `category` the caller can act on, the plugin that raised it, and a message that says
 * what to do next. Messages never contain credentials.
 */

/** What kind of failure this is; retry logic and callers act on this, not on messages. */
export type ErrorCategory =
  | 'invalid-input' // the caller must change something; retrying will not help
  | 'not-found'
  | 'conflict' // the target is in a state that forbids the operation (exists, not empty, locked)
  | 'integrity' // stored data does not match its hash or digest
  | 'unsupported' // the engine, adapter or format cannot do this
  | 'permission' // credentials are wrong or lack a permission; fix the credentials or the policy
  | 'transient' // retrying later may succeed
  | 'permanent' // an unexpected failure that retrying will not fix
  | 'aborted';

/** Stable error codes. Adding codes is a minor change; renaming one is breaking. */
export type ErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_ARGUMENT'
  | 'INVALID_IDENTIFIER'
  | 'INVALID_VECTOR'
  | 'DIMENSION_MISMATCH'
  | 'SCHEMA_MISMATCH'
  | 'NO_PRIMARY_KEY'
  | 'UNSUPPORTED_ID_TYPE'
  | 'UNSUPPORTED_OPERATION'
  | 'COLLECTION_NOT_FOUND'
  | 'SNAPSHOT_NOT_FOUND'
  | 'REPOSITORY_NOT_FOUND'
  | 'REPOSITORY_EXISTS'
  | 'KEY_NOT_FOUND'
  | 'KEY_EXISTS'
  | 'PATH_ESCAPE'
  | 'FORMAT_VERSION'
  | 'FORMAT_FEATURE'
  | 'CONFIG_INVALID'
  | 'MANIFEST_INVALID'
  | 'SEGMENT_MISSING'
  | 'SEGMENT_CORRUPT'
  | 'SEGMENT_TOO_LARGE'
  | 'DIGEST_MISMATCH'
  | 'TARGET_NOT_EMPTY'
  | 'TARGET_EXISTS'
  | 'ENGINE_ERROR'
  | 'STORAGE_ERROR'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_PROTOCOL'
  | 'BUCKET_NOT_FOUND'
  | 'ACCESS_DENIED'
  | 'KEY_REQUIRED'
  | 'WRONG_KEY'
  | 'NOT_ENCRYPTED'
  | 'LOCKED'
  | 'LOCK_LOST'
  | 'PRUNE_UNSAFE'
  | 'VALUE_TOO_LONG'
  | 'ID_COLLISION'
  | 'NO_PRIMARY'
  | 'PRIMARY_UNAVAILABLE'
  | 'SPLIT_BRAIN'
  | 'ENDPOINT_MISCONFIGURED'
  | 'FAILOVER_FAILED'
  | 'SWITCHOVER_REFUSED'
  | 'CHAIN_BROKEN'
  | 'NO_PARENT'
  | 'CHAIN_INVALID'
  | 'METRICS_EXPORT_FAILED'
  | 'VIEW_EXPIRED'
  | 'PLAN_INVALID'
  | 'OBJECT_TOO_LARGE'
  | 'LOCK_SUSPICIOUS'
  | 'ROLLBACK_DETECTED'
  | 'REPLAY_DETECTED'
  | 'ABORTED';

export interface VectordrErrorOptions {
  /** Which part raised it: 'core', 'fs', 'pgvector', ... */
  plugin?: string;
  cause?: unknown;
  /** Machine-readable context (never secrets). */
  details?: Record<string, unknown>;
}

export class VectordrError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly plugin: string;
  readonly details: Record<string, unknown>;
  /** The message without the `[vectordr] [plugin]` prefix, for quoting inside another message. */
  readonly reason: string;

  constructor(code: ErrorCode, category: ErrorCategory, message: string, options: VectordrErrorOptions = {}) {
    const plugin = options.plugin ?? 'core';
    super(`[vectordr] [${plugin}] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = message;
    this.name = new.target.name;
    this.code = code;
    this.category = category;
    this.plugin = plugin;
    this.details = options.details ?? {};
  }

  /** True when retrying the same call later may succeed. */
  get retryable(): boolean {
    return this.category === 'transient';
  }
}

export class InvalidInputError extends VectordrError {
  constructor(code: ErrorCode, message: string, options?: VectordrErrorOptions) {
    super(code, 'invalid-input', message, options);
  }
}

export class NotFoundError extends VectordrError {
  constructor(code: ErrorCode, message: string, options?: VectordrErrorOptions) {
    super(code, 'not-found', message, options);
  }
}

export class ConflictError extends VectordrError {
  constructor(code: ErrorCode, message: string, options?: VectordrErrorOptions) {
    super(code, 'conflict', message, options);
  }
}

export class IntegrityError extends VectordrError {
  constructor(code: ErrorCode, message: string, options?: VectordrErrorOptions) {
    super(code, 'integrity', message, options);
  }
}

export class PermissionError extends VectordrError {
  constructor(code: ErrorCode, message: string, options?: VectordrErrorOptions) {
    super(code, 'permission', message, options);
  }
}

export class UnsupportedOperationError extends VectordrError {
  constructor(message: string, options?: VectordrErrorOptions) {
    super('UNSUPPORTED_OPERATION', 'unsupported', message, options);
  }
}

/** A document of a version (`FORMAT_VERSION`) or with a feature (`FORMAT_FEATURE`) this vectordr cannot read. */
export class FormatVersionError extends VectordrError {
  constructor(message: string, options: VectordrErrorOptions & { code?: 'FORMAT_VERSION' | 'FORMAT_FEATURE' } = {}) {
    super(options.code ?? 'FORMAT_VERSION', 'unsupported', message, options);
  }
}

export class AbortedError extends VectordrError {
  constructor(message = 'The operation was aborted.', options?: VectordrErrorOptions) {
    super('ABORTED', 'aborted', message, options);
  }
}

/** Engine/storage failure that is not classified more precisely. */
export class EngineError extends VectordrError {
  constructor(message: string, category: 'transient' | 'permanent', options?: VectordrErrorOptions) {
    super('ENGINE_ERROR', category, message, options);
  }
}

/** A storage backend failed in a way no more specific code describes. */
export class StorageError extends VectordrError {
  constructor(
    code: 'STORAGE_ERROR' | 'STORAGE_UNAVAILABLE' | 'STORAGE_PROTOCOL',
    message: string,
    category: 'transient' | 'permanent',
    options?: VectordrErrorOptions,
  ) {
    super(code, category, message, options);
  }
}

/**
 * The router has no primary to send work to, or the one it used failed under the work. Retryable
 * (category `transient`): `newPrimary` names the endpoint that has taken over when the router knows
 * it; `outcome` says whether the failed work may have been applied (`'unknown'` once it had started:
 * retry it only when it is idempotent).
 */
export class RoutingError extends VectordrError {
  readonly endpoint: string | undefined;
  readonly newPrimary: string | undefined;
  readonly outcome: 'not-applied' | 'unknown';

  constructor(
    code: 'NO_PRIMARY' | 'PRIMARY_UNAVAILABLE',
    message: string,
    info: { endpoint?: string; newPrimary?: string; outcome: 'not-applied' | 'unknown' },
    options: VectordrErrorOptions = {},
  ) {
    super(code, 'transient', message, {
      ...options,
      details: { ...options.details, endpoint: info.endpoint, newPrimary: info.newPrimary, outcome: info.outcome },
    });
    this.endpoint = info.endpoint;
    this.newPrimary = info.newPrimary;
    this.outcome = info.outcome;
  }
}

/** Throws `AbortedError` when the signal has fired (carries the signal's reason as cause). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(undefined, { cause: signal.reason });
}

export function isVectordrError(err: unknown, code?: ErrorCode): err is VectordrError {
  return err instanceof VectordrError && (code === undefined || err.code === code);
}
