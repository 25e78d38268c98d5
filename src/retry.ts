/**
 * The one retry wrapper (restic's `internal/backend/retry` is the model: a wrapper around an
 * operation, not a loop per backend). Callers say which errors a retry may cure; the wrapper owns
 * the back-off, the jitter, the attempt and time budgets and the abort.
 */
import { sleep } from './async.js';
import { AbortedError } from './errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First back-off ceiling; doubles per attempt up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Stop retrying once this much time has passed since the first attempt. @default Infinity */
  deadlineMs?: number;
  /**
   * `full`: a delay drawn from [0, ceiling] (AWS's recommendation for many clients racing);
   * `equal`: from [ceiling / 2, ceiling] (never retries at once). @default 'full'
   */
  jitter?: 'full' | 'equal';
  /** Whether a retry may succeed after `err`. */
  retryable: (err: unknown) => boolean;
  signal?: AbortSignal | undefined;
  /** Called before each retry's sleep. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, `policy.retryable` says no, or the attempt or time budget is spent; throws the last error. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const started = performance.now();
  const deadlineMs = policy.deadlineMs ?? Number.POSITIVE_INFINITY;
  for (let attempt = 1; ; attempt++) {
    if (policy.signal?.aborted) throw new AbortedError(undefined, { cause: policy.signal.reason });
    try {
      return await fn(attempt);
    } catch (err) {
      if (policy.signal?.aborted || attempt >= policy.attempts || performance.now() - started >= deadlineMs || !policy.retryable(err))
        throw err;
      const delayMs = backoffDelay(attempt, policy);
      policy.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, policy.signal);
    }
  }
}

/** The delay before retry number `attempt` (1-based): exponential with jitter. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'jitter'>): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(policy.jitter === 'equal' ? ceiling / 2 + Math.random() * (ceiling / 2) : Math.random() * ceiling);
}
