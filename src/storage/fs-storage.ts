import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  AbortedError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  PermissionError,
  StorageError,
  VectordrError,
  throwIfAborted,
} from '../errors.js';
import {
  assertValidKey,
  assertValidPrefix,
  rangeLength,
  tooLargeError,
  type GetOptions,
  type PutOptions,
  type Storage,
  type StorageObjectInfo,
} from './storage.js';
import { parseOptions } from '../options.js';

export const FsStorageOptionsSchema = z.strictObject({
  /** Root directory of the repository. Created if missing. */
  path: z.string().min(1),
  /**
   * fsync files and their directories before a put returns.
   * @default true — a backup that vanishes on power loss is no backup; turn off only for throwaway tests.
   */
  fsync: z.boolean().default(true),
});
export type FsStorageOptions = z.input<typeof FsStorageOptionsSchema>;

const TMP_SUFFIX = '.vectordr-tmp';

/**
 * Local filesystem storage. Writes go to a temporary file in the target directory, are fsynced,
 * then renamed into place (or hard-linked for create-only puts, which fails if the key exists), and
 * the directory is fsynced: after a crash a key holds its old bytes or its new bytes, never a mix.
 */
export class FsStorage implements Storage {
  readonly name = 'fs';
  readonly location: string;
  private readonly root: string;
  private readonly fsync: boolean;

  constructor(options: FsStorageOptions) {
    const o = parseOptions(FsStorageOptionsSchema, options, 'filesystem storage', 'fs');
    this.root = path.resolve(o.path);
    this.fsync = o.fsync;
    this.location = `file://${this.root}`;
  }

  /** Resolves a validated key and checks, again, that it stays inside the root. */
  private resolve(key: string): string {
    assertValidKey(key, this.name);
    const full = path.resolve(this.root, ...key.split('/'));
    if (full !== this.root && !full.startsWith(this.root + path.sep)) {
      throw new InvalidInputError('PATH_ESCAPE', `Key ${JSON.stringify(key)} resolves outside the repository root.`, { plugin: this.name });
    }
    return full;
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const file = this.resolve(key);
    throwIfAborted(options.signal);
    try {
      if (options.maxBytes !== undefined) return await this.readBounded(file, key, options.maxBytes, options);
      if (!options.range) {
        // A view, not a copy: a segment's 4 MiB copied again cost verify a page-faulting copy per read.
        const whole = await fs.readFile(file, { signal: options.signal });
        return new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength);
      }
      const fh = await fs.open(file, 'r');
      try {
        const buf = Buffer.alloc(options.range.length);
        const { bytesRead } = await fh.read(buf, 0, options.range.length, options.range.offset);
        return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.classify(err, key);
    }
  }

  /** Size first (fstat of the open file), then at most that many bytes plus one, so a file that grows meanwhile is caught too. */
  private async readBounded(file: string, key: string, maxBytes: number, options: GetOptions): Promise<Uint8Array> {
    const fh = await fs.open(file, 'r');
    try {
      const { size } = await fh.stat();
      const length = rangeLength(size, options.range);
      if (length > maxBytes) throw tooLargeError(key, length, maxBytes, this.name);
      const offset = options.range?.offset ?? 0;
      const want = options.range ? length : length + 1;
      const buf = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        throwIfAborted(options.signal);
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got > maxBytes) throw tooLargeError(key, undefined, maxBytes, this.name);
      return new Uint8Array(buf.buffer, buf.byteOffset, got);
    } finally {
      await fh.close();
    }
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const file = this.resolve(key);
    throwIfAborted(options.signal);
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
    try {
      const fh = await fs.open(tmp, 'wx');
      try {
        await fh.writeFile(data);
        if (this.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      throwIfAborted(options.signal);
      if (options.ifNoneMatch === '*') {
        // link(2) fails with EEXIST atomically: two writers can never both commit the same key.
        await fs.link(tmp, file);
        await fs.unlink(tmp);
      } else {
        await fs.rename(tmp, file);
      }
      if (this.fsync) await fsyncDir(dir);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw this.classify(err, key);
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.resolve(key);
    await fs.rm(file, { force: true });
  }

  async touch(key: string): Promise<boolean> {
    const file = this.resolve(key);
    try {
      const now = new Date();
      await fs.utimes(file, now, now); // fails with ENOENT, never creates
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.classify(err, key);
    }
  }

  async stat(key: string): Promise<StorageObjectInfo | undefined> {
    const file = this.resolve(key);
    try {
      const st = await fs.stat(file);
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.classify(err, key);
    }
  }

  async *list(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<StorageObjectInfo> {
    assertValidPrefix(prefix, this.name);
    const start = prefix === '' ? this.root : this.resolve(prefix.slice(0, -1));
    yield* this.walk(start, prefix, options.signal);
  }

  private async *walk(dir: string, keyPrefix: string, signal?: AbortSignal): AsyncIterable<StorageObjectInfo> {
    throwIfAborted(signal);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw this.classify(err, keyPrefix);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const key = keyPrefix + e.name;
      if (e.isDirectory()) {
        yield* this.walk(path.join(dir, e.name), `${key}/`, signal);
      } else if (e.isFile() && !e.name.endsWith(TMP_SUFFIX)) {
        const st = await fs.stat(path.join(dir, e.name)).catch(() => undefined);
        if (st) yield { key, size: st.size, lastModified: st.mtime };
      }
    }
  }

  private classify(err: unknown, key: string): Error {
    if (err instanceof VectordrError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof Error && err.name === 'AbortError') return new AbortedError(undefined, { plugin: this.name, cause: err });
    if (code === 'ENOENT')
      return new NotFoundError('KEY_NOT_FOUND', `Object ${key} does not exist in ${this.location}.`, { plugin: this.name, cause: err });
    if (code === 'EEXIST')
      return new ConflictError('KEY_EXISTS', `Object ${key} already exists; it was not overwritten.`, { plugin: this.name, cause: err });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new PermissionError(
        'ACCESS_DENIED',
        `No permission to access ${key} in ${this.location} (${code}); check the directory's owner ` + `and mode.`,
        { plugin: this.name, cause: err },
      );
    }
    if (code === 'ENOSPC')
      return new StorageError(
        'STORAGE_UNAVAILABLE',
        `Disk full while writing ${key}; free space and rerun (completed segments are reused).`,
        'transient',
        { plugin: this.name, cause: err },
      );
    return new StorageError('STORAGE_ERROR', `Filesystem error on ${key}: ${(err as Error).message}`, 'permanent', {
      plugin: this.name,
      cause: err,
    });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsStorage(options: FsStorageOptions): FsStorage {
  return new FsStorage(options);
}
