import { z } from 'zod';
import { InvalidInputError, VectordrError } from '../errors.js';
import { retry } from '../retry.js';

export const RetryOptionsSchema = z.object({
  /** Attempts in all, the first included. @default 5 */
  attempts: z.number().int().min(1).max(1000).default(5),
  /** Stop retrying once this much time has passed since the first attempt. @default 30000 */
  deadlineMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** First back-off; doubles per attempt (with jitter) up to `maxDelayMs`. @default 50 */
  baseDelayMs: z.number().int().min(0).max(60_000).default(50),
  /** @default 1000 */
  maxDelayMs: z.number().int().min(0).max(600_000).default(1000),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'an AbortSignal').optional(),
  /** Called before each retry with the error that caused it. */
  onRetry: z.custom<(err: VectordrError, attempt: number) => void>((v) => typeof v === 'function', 'a function').optional(),
});
export type RetryOptions = z.input<typeof RetryOptionsSchema>;

/**
 * Runs `fn` until it succeeds, retrying only errors that say a retry may succeed
 * (`VectordrError.retryable`: `NO_PRIMARY`, `PRIMARY_UNAVAILABLE`, other transient failures).
 * Use it for idempotent work only: after `PRIMARY_UNAVAILABLE` with `outcome: 'unknown'`, the
 * failed attempt may have been applied.
 *
 * @example
 * ```ts
 * await withRetry(() => router.write((c) => c.query('INSERT ... ON CONFLICT (id) DO UPDATE ...', params)));
 * ```
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const parsed = RetryOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      `Invalid retry options: ` + `${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const o = parsed.data;
  return retry(fn, {
    attempts: o.attempts,
    deadlineMs: o.deadlineMs,
    baseDelayMs: o.baseDelayMs,
    maxDelayMs: o.maxDelayMs,
    jitter: 'equal',
    signal: o.signal,
    retryable: (err) => err instanceof VectordrError && err.retryable,
    onRetry: (err, attempt) => o.onRetry?.(err as VectordrError, attempt),
  });
}
