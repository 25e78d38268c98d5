/**
 * zstd for segment pages, synchronous, the same bytes on every Node version: the WebAssembly build of
 * the reference C library that `@bokuweb/zstd-wasm` ships (zstd compiled with emscripten, no
 * dependencies). Node's own `zlib.zstdCompressSync` exists only from Node 22.15, and the package's API
 * needs an `await init()` that the synchronous encodeSegment/decodeSegment cannot wait for; so this
 * module instantiates the package's `zstd.wasm` itself, synchronously (a 250 kB module compiles in
 * ~2 ms), on first use.
 *
 * The wasm exports are minified (`m` is ZSTD_compress, ...), so the names below belong to the exact
 * version package.json pins; `load()` checks their kinds and runs a round trip before first use, so a
 * different build fails loudly instead of compressing wrongly.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** zstd level of every compressed page (parquet-rs, hence the previous parquet-wasm writer, uses 1). */
export const ZSTD_LEVEL = 1;

interface ZstdWasm {
  memory: WebAssembly.Memory;
  isError(code: number): number;
  compressBound(size: number): number;
  createCCtx(): number;
  compressUsingDict(
    cctx: number,
    dst: number,
    cap: number,
    src: number,
    size: number,
    dict: number,
    dictSize: number,
    level: number,
  ): number;
  createDCtx(): number;
  decompressUsingDict(dctx: number, dst: number, cap: number, src: number, size: number, dict: number, dictSize: number): number;
  malloc(size: number): number;
  free(ptr: number): void;
}

/** Export names of @bokuweb/zstd-wasm 0.0.27's zstd.wasm (its dist/common/zstd.js maps them). */
const EXPORTS = {
  memory: 'f',
  ctors: 'g',
  isError: 'h',
  compressBound: 'i',
  createCCtx: 'j',
  compressUsingDict: 'l',
  createDCtx: 'n',
  decompressUsingDict: 'q',
  malloc: 's',
  free: 't',
} as const;

function wasmPath(): string {
  // The package's "exports" map exposes only its entry; zstd.wasm sits beside the CommonJS entry.
  // (tsup's shims give the CommonJS build an import.meta.url.)
  return join(dirname(createRequire(import.meta.url).resolve('@bokuweb/zstd-wasm')), 'zstd.wasm');
}

class Zstd {
  private heapU8: Uint8Array;
  private readonly cctx: number;
  private readonly dctx: number;
  /** One scratch area in wasm memory, reused: [src | dst], grown on demand. */
  private scratch = 0;
  private scratchSize = 0;

  constructor(private readonly w: ZstdWasm) {
    this.heapU8 = new Uint8Array(w.memory.buffer);
    this.cctx = w.createCCtx();
    this.dctx = w.createDCtx();
    if (this.cctx === 0 || this.dctx === 0) throw new Error('zstd: cannot create contexts');
  }

  private heap(): Uint8Array {
    // memory.grow detaches the old buffer; refresh the view after any call that may allocate.
    if (this.heapU8.buffer !== this.w.memory.buffer) this.heapU8 = new Uint8Array(this.w.memory.buffer);
    return this.heapU8;
  }

  private reserve(size: number): number {
    if (size > this.scratchSize) {
      if (this.scratch !== 0) this.w.free(this.scratch);
      const want = Math.max(size, this.scratchSize * 2, 1 << 20);
      this.scratch = this.w.malloc(want);
      if (this.scratch === 0) {
        this.scratchSize = 0;
        throw new RangeError(`zstd: cannot allocate ${want} bytes`);
      }
      this.scratchSize = want;
    }
    return this.scratch;
  }

  private check(code: number, what: string): number {
    if (this.w.isError(code) !== 0) throw new ZstdError(`zstd: ${what} failed (code ${code >>> 0})`);
    return code >>> 0;
  }

  /**
   * Compresses `size` bytes into one zstd frame; `write` puts them straight into wasm memory (the
   * view it gets), so the source is never copied there.
   */
  compress(size: number, write: (into: Uint8Array) => void): Uint8Array {
    const bound = this.w.compressBound(size);
    const base = this.reserve(size + bound);
    write(this.heap().subarray(base, base + size));
    const n = this.check(this.w.compressUsingDict(this.cctx, base + size, bound, base, size, 0, 0, ZSTD_LEVEL), 'compress');
    return this.heap().slice(base + size, base + size + n);
  }

  /** Decompresses one frame that must yield exactly `size` bytes. */
  decompress(src: Uint8Array, size: number): Uint8Array {
    const base = this.reserve(src.length + size);
    this.heap().set(src, base);
    const dst = base + src.length;
    const n = this.check(this.w.decompressUsingDict(this.dctx, dst, size, base, src.length, 0, 0), 'decompress');
    if (n !== size) throw new ZstdError(`zstd: frame holds ${n} bytes, the page header says ${size}`);
    return this.heap().slice(dst, dst + size);
  }
}

export class ZstdError extends Error {}
/** The zstd module could not be loaded: the installation, not the data, is at fault. */
export class ZstdLoadError extends Error {}

let instance: Zstd | undefined;

function load(): Zstd {
  const module = new WebAssembly.Module(readFileSync(wasmPath()));
  // The module exports its memory; the resize hook reaches it once the instance exists.
  const state: { memory?: WebAssembly.Memory } = {};
  const abort = (): never => {
    throw new ZstdError('zstd: wasm aborted');
  };
  const imports = {
    a: {
      a: abort, // proc_exit
      b: () => undefined, // emscripten_runtime_keepalive_clear
      c: abort, // abort
      d: () => 0, // setitimer (unused by the codec)
      e: (requested: number): boolean => {
        // emscripten_resize_heap: grow to the requested size, in 64 KiB pages, up to 2 GiB.
        const memory = state.memory;
        if (!memory) return false;
        const want = requested >>> 0;
        if (want > 2 ** 31) return false;
        const pages = Math.ceil((want - memory.buffer.byteLength) / 65536);
        try {
          if (pages > 0) memory.grow(pages);
          return true;
        } catch {
          return false;
        }
      },
    },
  };
  const ex = new WebAssembly.Instance(module, imports).exports;
  const fn = (k: keyof typeof EXPORTS): ((...a: number[]) => number) => {
    const f = ex[EXPORTS[k]];
    if (typeof f !== 'function') throw new Error(`zstd: the zstd.wasm of @bokuweb/zstd-wasm is not the pinned build (export ${k})`);
    return f as (...a: number[]) => number;
  };
  const mem = ex[EXPORTS.memory];
  if (!(mem instanceof WebAssembly.Memory)) throw new Error('zstd: the zstd.wasm of @bokuweb/zstd-wasm is not the pinned build (memory)');
  state.memory = mem;
  fn('ctors')();
  const w: ZstdWasm = {
    memory: mem,
    isError: fn('isError'),
    compressBound: fn('compressBound'),
    createCCtx: fn('createCCtx'),
    compressUsingDict: fn('compressUsingDict'),
    createDCtx: fn('createDCtx'),
    decompressUsingDict: fn('decompressUsingDict'),
    malloc: fn('malloc'),
    free: fn('free') as (p: number) => void,
  };
  const z = new Zstd(w);
  // A wrong mapping would not crash but garble: prove the round trip once.
  const probe = new TextEncoder().encode('vectordr zstd probe vectordr zstd probe');
  const back = z.decompress(
    z.compress(probe.length, (into) => into.set(probe)),
    probe.length,
  );
  if (back.length !== probe.length || back.some((b, i) => b !== probe[i])) throw new Error('zstd: self-test failed');
  return z;
}

function zstd(): Zstd {
  if (instance) return instance;
  try {
    instance = load();
  } catch (err) {
    throw new ZstdLoadError(`[vectordr] cannot load zstd from @bokuweb/zstd-wasm: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return instance;
}

/** zstd frame of `size` bytes that `write` puts into the given view (it is written in wasm memory, no extra copy). */
export function zstdCompressWith(size: number, write: (into: Uint8Array) => void): Uint8Array {
  return zstd().compress(size, write);
}

export function zstdCompress(src: Uint8Array): Uint8Array {
  return zstd().compress(src.length, (into) => into.set(src));
}

/** Decompresses a frame that must hold exactly `size` bytes (the page header's uncompressed size). */
export function zstdDecompress(src: Uint8Array, size: number): Uint8Array {
  return zstd().decompress(src, size);
}
