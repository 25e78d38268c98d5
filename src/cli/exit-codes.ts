/**
 * Exit codes of the `vectordr` CLI, restic's where it has one (docs/cli.md, "Exit codes"), and the
 * one place an error becomes one: `exitCodeFor`. Alert rules and Kubernetes Jobs switch on these, so
 * a code never changes meaning.
 */
import { type ErrorCode, isVectordrError } from '../index.js';

export const EXIT_CODES = {
  /** The command did what it was asked. */
  OK: 0,
  /** Any failure no other code describes. */
  FAILURE: 1,
  /** Bad flags or arguments, an invalid config file: fix the command line, retrying will not help. */
  USAGE: 2,
  /** The command ran, but found problems (verify) or some of its parts failed. */
  PARTIAL: 3,
  /** No repository at the location given (run `vectordr init`). */
  NO_REPOSITORY: 10,
  /** The repository is locked by another process (LOCKED), or by a suspicious lock object (LOCK_SUSPICIOUS). */
  LOCKED: 11,
  /** The password does not open the repository (wrong, missing, or given for an unencrypted one). */
  WRONG_PASSWORD: 12,
  /** SIGINT or SIGTERM: the operation was aborted, its lock released, nothing half-visible. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** VectordrError codes with an exit code of their own; every other error exits 1. */
const BY_ERROR_CODE: Partial<Record<ErrorCode, ExitCode>> = {
  INVALID_OPTIONS: EXIT_CODES.USAGE,
  INVALID_ARGUMENT: EXIT_CODES.USAGE,
  INVALID_IDENTIFIER: EXIT_CODES.USAGE,
  REPOSITORY_NOT_FOUND: EXIT_CODES.NO_REPOSITORY,
  BUCKET_NOT_FOUND: EXIT_CODES.NO_REPOSITORY,
  LOCKED: EXIT_CODES.LOCKED,
  LOCK_SUSPICIOUS: EXIT_CODES.LOCKED,
  WRONG_KEY: EXIT_CODES.WRONG_PASSWORD,
  KEY_REQUIRED: EXIT_CODES.WRONG_PASSWORD,
  NOT_ENCRYPTED: EXIT_CODES.WRONG_PASSWORD,
  ABORTED: EXIT_CODES.INTERRUPTED,
};

/** The exit code of a failed command: by the error's stable `code` (a VectordrError), else 1. */
export function exitCodeFor(err: unknown): ExitCode {
  return isVectordrError(err) ? (BY_ERROR_CODE[err.code] ?? EXIT_CODES.FAILURE) : EXIT_CODES.FAILURE;
}
