/**
 * Segment jobs (segment-job.ts) on worker threads, so the main thread keeps reading rows from the
 * engine while earlier segments are hashed and encoded: on a 2-core machine the scan, PostgreSQL's
 * COPY and the encoding overlap instead of taking turns (docs/benchmarks.md, issue 18).
 *
 * With no worker (`workers: 0`, or a build where the worker file cannot be found or started) the
 * jobs run inline, with the same results: a worker changes where the work runs, never its output.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import {
  ConflictError,
  type ErrorCategory,
  type ErrorCode,
  IntegrityError,
  InvalidInputError,
  NotFoundError,
  PermissionError,
  VectordrError,
} from '../errors.js';
import { type SegmentJob, type SegmentProduct, runSegmentJob } from './segment-job.js';
import { type VerifyJob, type VerifyOutcome, runVerifyJob } from './verify-job.js';

/** What a worker runs: `encode` a segment (segment-job.ts) or `verify` one (verify-job.ts). */
export type JobKind = 'encode' | 'verify';

interface Pending {
  resolve: (p: unknown) => void;
  reject: (e: Error) => void;
  slot: Slot;
}

interface Slot {
  worker: Worker;
  busy: number;
  failed?: Error;
}

/** Where the worker entry is: the built file beside this module, or (running from source) the TypeScript file through tsx. */
function workerEntry(): { file: string; ts: boolean } | undefined {
  const here = import.meta.url;
  if (typeof here !== 'string' || !here.startsWith('file:')) return undefined;
  for (const rel of ['./segment-worker.js', '../segment-worker.js', './parallel/segment-worker.js']) {
    const file = fileURLToPath(new URL(rel, here));
    if (existsSync(file)) return { file, ts: false };
  }
  const ts = fileURLToPath(new URL('./segment-worker.ts', here));
  return existsSync(ts) ? { file: ts, ts: true } : undefined;
}

/** A worker for the TypeScript entry: registers tsx (a dev dependency, present wherever the sources run) first. */
function startWorker(entry: { file: string; ts: boolean }, youngGenerationMb: number | undefined): Worker {
  const limits = youngGenerationMb === undefined ? {} : { resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb } };
  if (!entry.ts) return new Worker(entry.file, limits);
  const tsxDir = fileURLToPath(new URL('.', pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json'))));
  const api = pathToFileURL(`${tsxDir}dist/esm/api/index.mjs`).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(entry.file).href)}); })`;
  return new Worker(code, { eval: true, ...limits });
}

export class SegmentPool {
  readonly #slots: Slot[];
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #closed = false;

  private constructor(slots: Slot[]) {
    this.#slots = slots;
  }

  /** Threads actually running (0: jobs run inline). */
  get workers(): number {
    return this.#slots.filter((s) => !s.failed).length;
  }

  /**
   * Starts `workers` threads and waits until each has loaded its code; a thread that cannot start
   * is logged and left out (its jobs run on the others, or inline). `youngGenerationMb` caps each
   * thread's young generation (V8's default is sized for a whole process).
   */
  static async open(workers: number, logger?: Logger, options: { youngGenerationMb?: number } = {}): Promise<SegmentPool> {
    const entry = workers > 0 ? workerEntry() : undefined;
    if (workers > 0 && !entry) logger?.debug({}, 'segment worker file not found: segments are encoded on the main thread');
    const started = await Promise.all(
      Array.from({ length: entry ? workers : 0 }, async () => {
        try {
          const worker = startWorker(entry as { file: string; ts: boolean }, options.youngGenerationMb);
          await new Promise<void>((resolve, reject) => {
            const onMessage = (m: { ready?: boolean }): void => {
              if (m.ready) {
                worker.off('error', reject);
                resolve();
              }
            };
            worker.once('message', onMessage);
            worker.once('error', reject);
          });
          worker.unref();
          return { worker, busy: 0 };
        } catch (err) {
          logger?.warn({ err: (err as Error).message }, 'a segment worker did not start: its share runs on the main thread');
          return undefined;
        }
      }),
    );
    const pool = new SegmentPool(started.filter((s): s is Slot => s !== undefined));
    for (const slot of pool.#slots) pool.#listen(slot);
    return pool;
  }

  #listen(slot: Slot): void {
    slot.worker.on('message', (m: { id?: number; product?: unknown; error?: WorkerError }) => {
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      slot.busy--;
      if (m.product) p.resolve(m.product);
      else p.reject(rebuildError(m.error));
    });
    const fail = (err: Error): void => {
      slot.failed = err;
      // Every job of this thread fails: they are retried by nobody, the snapshot fails and reruns.
      for (const [id, p] of this.#pending) {
        if (p.slot === slot) {
          this.#pending.delete(id);
          p.reject(err);
        }
      }
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.#closed) fail(new Error(`segment worker exited with code ${code}`));
    });
  }

  /**
   * Runs one job. Its payload buffer moves to the thread (detached here afterwards). `transfer`: the
   * batch's buffers (ids, vectors) belong to the job alone and move too; otherwise they are copied.
   */
  run(job: SegmentJob, transfer = false): Promise<SegmentProduct> {
    return this.#run('encode', job, transferList(job, transfer), runSegmentJob);
  }

  /** Verifies one segment (verify-job.ts); its bytes move to the thread (detached here afterwards). */
  verify(job: VerifyJob): Promise<VerifyOutcome> {
    const whole = job.bytes.buffer instanceof ArrayBuffer && job.bytes.buffer.byteLength === job.bytes.byteLength;
    return this.#run('verify', job, whole ? [job.bytes.buffer as ArrayBuffer] : [], runVerifyJob);
  }

  #run<J, P>(kind: JobKind, job: J, transfer: ArrayBuffer[], inline: (job: J) => P): Promise<P> {
    const live = this.#slots.filter((s) => !s.failed);
    if (live.length === 0) {
      try {
        return Promise.resolve(inline(job));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const slot = live.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.#next++;
    return new Promise<P>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (p: unknown) => void, reject, slot });
      slot.busy++;
      slot.worker.postMessage({ id, kind, job }, transfer);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(new Error('segment pool closed'));
    this.#pending.clear();
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}

/** An error as a worker sends it: a vectordr error keeps its class, code and details. */
interface WorkerError {
  name: string;
  message: string;
  vectordr?: { code: ErrorCode; category: ErrorCategory; reason: string; plugin: string; details: Record<string, unknown> };
}

const BY_CATEGORY: Partial<Record<ErrorCategory, typeof InvalidInputError>> = {
  'invalid-input': InvalidInputError,
  integrity: IntegrityError,
  conflict: ConflictError,
  'not-found': NotFoundError,
  permission: PermissionError,
};

function rebuildError(e: WorkerError | undefined): Error {
  if (!e) return new Error('segment worker failed');
  const v = e.vectordr;
  if (!v) return Object.assign(new Error(e.message), { name: e.name });
  const Known = BY_CATEGORY[v.category];
  return Known ? new Known(v.code, v.reason, { plugin: v.plugin, details: v.details }) : new VectordrError(v.code, v.category, v.reason, v);
}

function transferList(job: SegmentJob, batch: boolean): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (v: ArrayBufferView | undefined): void => {
    if (v && v.buffer instanceof ArrayBuffer) out.add(v.buffer);
  };
  add(job.payloadJson.bytes);
  add(job.payloadJson.offsets);
  if (!batch) return [...out];
  if (job.ids instanceof BigInt64Array) add(job.ids);
  for (const col of Object.values(job.vectors)) {
    if (col.kind === 'sparse') {
      add(col.offsets);
      add(col.indices);
      add(col.values);
    } else {
      add(col.data);
      if (col.kind === 'multi') add(col.offsets);
    }
    add(col.valid);
  }
  return [...out];
}
