/** Progress reported by every long operation, through the `onProgress` callback. */
export interface ProgressEvent {
  operation: 'snapshot' | 'restore' | 'verify-integrity' | 'verify-parity' | 'verify-recall' | 'prune' | 'diff';
  phase: 'start' | 'scan' | 'segment' | 'write' | 'index' | 'commit' | 'verify' | 'delete' | 'chain-broken' | 'done';
  rows: number;
  /**
   * Known or estimated total rows; absent when the engine cannot say (an adapter that gives no
   * estimate). pgvector counts the rows of a table never analyzed instead of leaving it absent.
   */
  totalRows?: number;
  segments: number;
  totalSegments?: number;
  bytes: number;
  /** Milliseconds since the operation started. */
  elapsedMs: number;
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Phases that report an advance of the work (the others mark a step: start, index, commit, done). */
const PROGRESS_PHASES: ReadonlySet<ProgressEvent['phase']> = new Set(['scan', 'segment', 'write', 'verify', 'delete']);

export class ProgressReporter {
  private readonly started = performance.now();
  rows = 0;
  segments = 0;
  bytes = 0;
  totalRows: number | undefined;
  totalSegments: number | undefined;

  constructor(
    private readonly operation: ProgressEvent['operation'],
    private readonly callback: ProgressCallback | undefined,
  ) {}

  get elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** Counters of the last event sent, so a progress event that reports nothing new is not sent twice. */
  #last: string | undefined;

  /**
   * Sends an event. A progress phase (`scan`, `segment`, `write`, `verify`, `delete`) whose
   * counters equal the previous event's is dropped: one advance of the work is reported once (a
   * scanned batch that filled a segment is reported by that segment's event alone).
   */
  emit(phase: ProgressEvent['phase'], message?: string): void {
    if (!this.callback) return;
    const counters = `${this.rows} ${this.segments} ${this.bytes}`;
    const repeated = counters === this.#last && message === undefined && PROGRESS_PHASES.has(phase);
    this.#last = counters;
    if (repeated) return;
    const e: ProgressEvent = {
      operation: this.operation,
      phase,
      rows: this.rows,
      segments: this.segments,
      bytes: this.bytes,
      elapsedMs: Math.round(this.elapsedMs),
    };
    if (this.totalRows !== undefined) e.totalRows = this.totalRows;
    if (this.totalSegments !== undefined) e.totalSegments = this.totalSegments;
    if (message !== undefined) e.message = message;
    this.callback(e);
  }
}
