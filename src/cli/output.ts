/**
 * Everything the CLI writes goes through here, redacted. Two modes:
 * - human: results on stdout; progress (a bar on a terminal), warnings, verbose logs and errors on
 *   stderr as `vectordr: ...`. Not a terminal: no progress unless `--verbose` (a line every 5 s).
 * - `--json`: JSON lines on stdout, each with a `message_type` — `status` (progress), `summary`
 *   (the result), `error` (also the exit code's reason). Logs stay human text on stderr.
 * `--quiet` drops progress and the human result of commands that change something; listings,
 * JSON summaries and errors stay.
 */
import { type Logger, type ProgressEvent, isVectordrError } from '../index.js';
import { ProgressBar, type TerminalStream, fractionDone, progressLine } from './progress-bar.js';
import type { Secrets } from './secrets.js';

export interface OutputStream extends TerminalStream {
  isTTY?: boolean;
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** False with `--no-progress`. */
  progress: boolean;
  stdout: OutputStream;
  stderr: OutputStream;
  secrets: Secrets;
}

/** JSON status lines at most this often (step phases always). */
const JSON_STATUS_MS = 1_000;
/** Plain progress lines (not a terminal, `--verbose`) at most this often. */
const PLAIN_STATUS_MS = 5_000;
const STEP_PHASES: ReadonlySet<ProgressEvent['phase']> = new Set(['start', 'index', 'commit', 'done', 'chain-broken']);

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly #o: OutputOptions;
  readonly #bar: ProgressBar | undefined;
  #lastStatus = -Infinity;

  constructor(options: OutputOptions) {
    this.#o = options;
    this.json = options.json;
    this.quiet = options.quiet;
    this.verbose = options.verbose;
    const bar = !options.json && !options.quiet && options.progress && options.stderr.isTTY === true;
    this.#bar = bar ? new ProgressBar(options.stderr) : undefined;
  }

  /** `text` with every secret masked. */
  redact(text: string): string {
    return this.#o.secrets.redact(text);
  }

  #stdout(line: string): void {
    this.#bar?.clear();
    this.#o.stdout.write(`${this.redact(line)}\n`);
  }

  #stderr(line: string): void {
    this.#bar?.clear();
    this.#o.stderr.write(`${this.redact(line)}\n`);
  }

  #jsonLine(messageType: 'status' | 'summary' | 'error', body: object): void {
    this.#stdout(JSON.stringify({ message_type: messageType, ...body }));
  }

  /** The result of a command: JSON `summary`, or the human lines (dropped by `--quiet`). */
  summary(body: object, human: () => string | string[]): void {
    this.endProgress();
    if (this.json) return this.#jsonLine('summary', body);
    if (this.quiet) return;
    for (const line of [human()].flat()) this.#stdout(line);
  }

  /** Listing output (snapshots, stats, diff): printed even with `--quiet`, which only drops chatter. */
  listing(body: object, human: () => string | string[]): void {
    this.endProgress();
    if (this.json) return this.#jsonLine('summary', body);
    for (const line of [human()].flat()) this.#stdout(line);
  }

  /** A progress event: JSON `status` lines, a terminal bar, or (not a terminal, `--verbose`) a plain line now and then. */
  status(e: ProgressEvent): void {
    if (this.quiet || !this.#o.progress) return;
    const now = performance.now();
    const step = STEP_PHASES.has(e.phase);
    if (this.json) {
      if (!step && now - this.#lastStatus < JSON_STATUS_MS) return;
      this.#lastStatus = now;
      const fraction = fractionDone(e);
      this.#jsonLine('status', {
        operation: e.operation,
        phase: e.phase,
        rows: e.rows,
        bytes: e.bytes,
        total_rows: e.totalRows ?? null,
        percent_done: fraction ?? null,
        segments: e.segments,
        seconds_elapsed: Math.round(e.elapsedMs / 1000),
        ...(e.message === undefined ? {} : { message: e.message }),
      });
      return;
    }
    if (this.#bar) return this.#bar.update(e);
    if (!this.verbose || (!step && now - this.#lastStatus < PLAIN_STATUS_MS)) return;
    this.#lastStatus = now;
    this.#stderr(`vectordr: ${progressLine(e, 200)}${e.message === undefined ? '' : ` (${e.message})`}`);
  }

  /** Ends a progress bar's line (the last state stays on screen). */
  endProgress(): void {
    this.#bar?.finish();
  }

  /** A result line for a person, as it happens (stdout); dropped by `--quiet` and in JSON mode. */
  print(text: string): void {
    if (!this.quiet && !this.json) this.#stdout(text);
  }

  /** Information for a person (stderr); dropped by `--quiet` and in JSON mode. */
  info(text: string): void {
    if (!this.quiet && !this.json) this.#stderr(`vectordr: ${text}`);
  }

  /** Details shown with `--verbose` (stderr). */
  debug(text: string): void {
    if (this.verbose) this.#stderr(`vectordr: ${text}`);
  }

  warn(text: string): void {
    if (!this.quiet) this.#stderr(`vectordr: warning: ${text}`);
  }

  /** The error a command failed with: a JSON `error` line, or `vectordr: <message>` on stderr. */
  error(err: unknown, hint?: string): void {
    this.endProgress();
    const message = messageOf(err) + (hint === undefined ? '' : ` ${hint}`);
    const code = isVectordrError(err) ? err.code : 'UNEXPECTED';
    if (this.json) this.#jsonLine('error', { code, message });
    else this.#stderr(`vectordr: ${message}`);
    if (this.verbose && err instanceof Error && !isVectordrError(err) && err.stack) this.#stderr(err.stack);
  }

  /** A Logger for the library and adapters: debug and info with `--verbose`, warnings unless `--quiet`. */
  logger(): Logger {
    const line = (obj: Record<string, unknown>, msg: string | undefined): string => {
      const fields = Object.entries(obj)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : safeJson(v)}`);
      return [msg ?? '', ...fields].filter((s) => s !== '').join(' ');
    };
    return {
      debug: (obj, msg) => this.debug(`[debug] ${line(obj, msg)}`),
      info: (obj, msg) => this.debug(line(obj, msg)),
      warn: (obj, msg) => this.warn(line(obj, msg)),
      error: (obj, msg) => this.#stderr(`vectordr: error: ${line(obj, msg)}`),
    };
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** The message of an error for a person: a VectordrError's reason (its plugin named unless core), else the message. */
export function messageOf(err: unknown): string {
  if (isVectordrError(err)) return err.plugin === 'core' || err.plugin === 'cli' ? err.reason : `[${err.plugin}] ${err.reason}`;
  return err instanceof Error ? err.message : String(err);
}
