/** Progress reported by every long operation, through the `onProgress` callback. */
export interface ProgressEvent {
  operation: 'snapshot' | 'restore' | 'verify-integrity' | 'verify-parity' | 'verify-recall' | 'prune';
  phase: 'start' | 'scan' | 'segment' | 'write' | 'index' | 'commit' | 'verify' | 'delete' | 'done';
  rows: number;
  /** Known or estimated total rows, when available. */
  totalRows?: number;
  segments: number;
  totalSegments?: number;
  bytes: number;
  /** Milliseconds since the operation started. */
  elapsedMs: number;
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

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

  emit(phase: ProgressEvent['phase'], message?: string): void {
    if (!this.callback) return;
    const e: ProgressEvent = { operation: this.operation, phase, rows: this.rows, segments: this.segments, bytes: this.bytes, elapsedMs: Math.round(this.elapsedMs) };
    if (this.totalRows !== undefined) e.totalRows = this.totalRows;
    if (this.totalSegments !== undefined) e.totalSegments = this.totalSegments;
    if (message !== undefined) e.message = message;
    this.callback(e);
  }
}
