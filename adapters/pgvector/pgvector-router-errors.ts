/**
 * What a `pg` error means to the router: an endpoint failure (route elsewhere, retryable) or an
 * error of the work itself; why a probe failed (`ProbeError` kinds); and redaction, because a
 * driver message may quote the connection string with its password.
 */
import { ProbeError, errorText } from '../../src/router/router.js';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);
// admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions, read-only transaction
const ROUTING_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '25006']);

/** True for errors that mean "this endpoint cannot do this work now" rather than "the work is wrong". */
export function isEndpointFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || ROUTING_SQLSTATES.has(code))) return true;
  const msg = err instanceof Error ? err.message : '';
  return /Connection terminated|connection error|Client was closed|timeout exceeded when trying to connect|not queryable|Connection ended/i.test(
    msg,
  );
}

/** Strips anything URL-like (which may carry a password) from a driver message. */
export function redact(msg: string): string {
  return msg.replace(/postgres(ql)?:\/\/\S+/gi, 'postgres://***');
}

/** The error with its message redacted, keeping its code (SQLSTATE or socket code). */
export function redactError(err: unknown): Error {
  const e = new Error(redact(errorText(err)));
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string') (e as Error & { code: string }).code = code;
  return e;
}

export function classifyProbeError(err: unknown): ProbeError {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const msg = redact(errorText(err));
  if (/received invalid response|unexpected message|Unknown message code|invalid response/i.test(msg)) {
    return new ProbeError('misconfigured', `the endpoint does not speak the PostgreSQL protocol (${msg}); check the host and port`, {
      cause: err,
    });
  }
  if (code === '28P01' || code === '28000' || code === '3D000' || code === '42501') {
    return new ProbeError(
      'misconfigured',
      `${msg} (check the endpoint's user, password, database and privileges: the router needs ` + `pg_monitor and EXECUTE on pg_promote)`,
      { cause: err },
    );
  }
  if (code === '42883' || code === '42P01')
    return new ProbeError('misconfigured', `the endpoint is not a PostgreSQL 10+ server the router understands (${msg})`, { cause: err });
  if (/timeout/i.test(msg)) return new ProbeError('timeout', msg, { cause: err });
  return new ProbeError('unreachable', code !== undefined && typeof code === 'string' ? `${code}: ${msg}` : msg, { cause: err });
}
