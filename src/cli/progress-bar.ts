/**
 * A one-line progress display on a terminal, from the library's `ProgressEvent`s: operation and
 * phase, a bar and percentage when the total is known, rows, bytes, rate and ETA. Redrawn at most
 * ten times a second in place (carriage return + erase line); no dependency, no colours.
 */
import type { ProgressEvent } from '../index.js';

const REDRAW_MS = 100;
const BAR_WIDTH = 20;

/** `1536` -> `1.5 KiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Seconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** The fraction done (0..1), or undefined when the total is not known. */
export function fractionDone(e: ProgressEvent): number | undefined {
  if (e.totalRows !== undefined && e.totalRows > 0) return Math.min(1, e.rows / e.totalRows);
  if (e.totalSegments !== undefined && e.totalSegments > 0) return Math.min(1, e.segments / e.totalSegments);
  return undefined;
}

/** The progress line for an event (without a line break), at most `width` characters. */
export function progressLine(e: ProgressEvent, width: number): string {
  const seconds = e.elapsedMs / 1000;
  const rate = seconds > 0 ? e.rows / seconds : 0;
  const fraction = fractionDone(e);
  const parts = [`${e.operation} ${e.phase}`];
  if (fraction !== undefined) {
    const filled = Math.round(fraction * BAR_WIDTH);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
  }
  parts.push(e.totalRows !== undefined ? `${count(e.rows)}/${count(e.totalRows)} rows` : `${count(e.rows)} rows`);
  parts.push(formatBytes(e.bytes));
  if (rate > 0) parts.push(`${count(Math.round(rate))} rows/s`);
  if (fraction !== undefined && fraction > 0 && fraction < 1) parts.push(`ETA ${formatDuration(seconds / fraction - seconds)}`);
  else parts.push(formatDuration(seconds));
  const line = parts.join('  ');
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) : line;
}

export interface TerminalStream {
  write(text: string): unknown;
  columns?: number;
}

export class ProgressBar {
  readonly #stream: TerminalStream;
  #lastDraw = 0;
  #shown = false;
  #pending: ProgressEvent | undefined;

  constructor(stream: TerminalStream) {
    this.#stream = stream;
  }

  /** Shows the event (now, or with the next one when the last redraw was under 100 ms ago; step phases always). */
  update(e: ProgressEvent): void {
    const now = performance.now();
    const step = e.phase === 'start' || e.phase === 'done' || e.phase === 'commit' || e.phase === 'index';
    if (!step && now - this.#lastDraw < REDRAW_MS) {
      this.#pending = e;
      return;
    }
    this.#draw(e);
    this.#lastDraw = now;
  }

  #draw(e: ProgressEvent): void {
    this.#pending = undefined;
    // A pseudo-terminal may report 0 columns: then assume a wide one.
    const columns = this.#stream.columns !== undefined && this.#stream.columns >= 20 ? this.#stream.columns : 120;
    this.#stream.write(`\r\x1b[2K${progressLine(e, columns - 1)}`);
    this.#shown = true;
  }

  /** Erases the line (before other output, or at the end), keeping the last event to redraw. */
  clear(): void {
    if (!this.#shown) return;
    this.#stream.write('\r\x1b[2K');
    this.#shown = false;
  }

  /** Draws a withheld last event and ends the line, leaving the final state on screen. */
  finish(): void {
    if (this.#pending) this.#draw(this.#pending);
    if (this.#shown) this.#stream.write('\n');
    this.#shown = false;
  }
}
