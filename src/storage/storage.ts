/**
 * Storage moves bytes by key and nothing else: layout, manifests and verification live in the core
 * (see src/repository). Keys are relative, '/'-separated, and validated by `assertValidKey` so no
 * backend can be made to write outside its root.
 */
import { IntegrityError, InvalidInputError } from '../errors.js';

export interface StorageObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface PutOptions {
  /** `'*'`: fail with `KEY_EXISTS` if the key exists (atomic create-only; used to commit manifests). */
  ifNoneMatch?: '*';
  signal?: AbortSignal;
}

export interface GetOptions {
  range?: { offset: number; length: number };
  signal?: AbortSignal;
  /**
   * Refuse, with `OBJECT_TOO_LARGE`, an object (or range) of more bytes than this, judged by its
   * size before the body is read and again while it streams: a hostile object costs at most
   * `maxBytes` plus one network chunk of memory, never its own size. Every read of a repository
   * object passes one (a repository is untrusted input; docs/security.md).
   */
  maxBytes?: number;
}

export interface Storage {
  /** Short name for messages and logs, e.g. `fs`, `memory`, `s3`. Never contains credentials. */
  readonly name: string;
  /** Human-readable location without secrets, e.g. `file:///backups` or `s3://bucket/prefix`. */
  readonly location: string;
  /**
   * Segment writes a snapshot keeps in flight while it encodes the next segment. Network stores
   * gain (the upload waits on the network and the server, not on this thread); a local disk does
   * not (measured slower: its write and fsync callbacks queue behind the encoder). @default 0
   */
  readonly writeConcurrency?: number;
  /**
   * Whole object (or a byte range). Throws `NotFoundError` (`KEY_NOT_FOUND`) when absent, and
   * `OBJECT_TOO_LARGE` (see `tooLargeError`) when it holds more than `options.maxBytes` — a store
   * must check before it reads the body, not after.
   */
  get(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** Atomically replaces or creates the object: readers see the old bytes or the new, never a mix. */
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Size and time, or undefined when absent. */
  stat(key: string): Promise<StorageObjectInfo | undefined>;
  /**
   * Sets an existing object's lastModified to now, keeping its bytes; false (and nothing created)
   * when the key does not exist. An object deleted before the call stays deleted; one deleted while
   * the call runs may not, on stores that do not order the two (S3 promises no order between a copy
   * and a delete of the same key), which is why a snapshot also checks its segments before it commits. Lock refreshes use it so that a lock another process removed is never rewritten;
   * without it the core falls back to `stat` then `put`, which can recreate a lock removed between
   * the two.
   */
  touch?(key: string): Promise<boolean>;
  /** Every key under `prefix` (which ends with '/' or is ''), in lexicographic order. */
  list(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<StorageObjectInfo>;
  /** Releases sockets or handles the backend opened itself. */
  close?(): Promise<void>;
}

// A segment may not start with '.', so '.' and '..' can never appear.
const SEGMENT = /^[A-Za-z0-9_%=+@-][A-Za-z0-9_.%@=+-]*$/;

/**
 * Keys are relative paths of safe segments: no '', '.', '..', no backslashes, no NUL, no leading '/'.
 * A key that fails this is a bug or an attack; either way nothing is read or written.
 */
export function assertValidKey(key: string, plugin = 'core'): void {
  const bad = (why: string): never => {
    throw new InvalidInputError(
      'PATH_ESCAPE',
      `Refusing storage key ${JSON.stringify(key)}: ${why}. Keys must be relative paths of ` + `[A-Za-z0-9_.%@=+-] segments.`,
      { plugin },
    );
  };
  if (key.length === 0 || key.length > 1024) bad('empty or longer than 1024 characters');
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') bad('empty, "." or ".." path segment');
    if (!SEGMENT.test(seg)) bad('a segment contains characters outside the safe set');
  }
}

export function assertValidPrefix(prefix: string, plugin = 'core'): void {
  if (prefix === '') return;
  if (!prefix.endsWith('/')) {
    throw new InvalidInputError('PATH_ESCAPE', `List prefix ${JSON.stringify(prefix)} must be '' or end with '/'.`, { plugin });
  }
  assertValidKey(prefix.slice(0, -1), plugin);
}

/**
 * OBJECT_TOO_LARGE: `key` holds more than `maxBytes` (`size` when the store said how many before the
 * body was read). Nothing vectordr writes is that large, so the object was replaced or damaged.
 */
export function tooLargeError(key: string, size: number | undefined, maxBytes: number, plugin = 'core'): IntegrityError {
  return new IntegrityError(
    'OBJECT_TOO_LARGE',
    `Object ${key} holds ${size === undefined ? 'more than' : size} bytes, over the cap of ${maxBytes} bytes for it; it was ` +
      `not read. vectordr never writes such an object there: it was replaced or damaged. Restore it from another copy of ` +
      `the repository (or remove it).`,
    { plugin, details: { key, maxBytes, ...(size === undefined ? {} : { size }) } },
  );
}

/**
 * `storage.get` with a cap, also for a third-party store that ignores `maxBytes` (then the bytes
 * were read, but are refused all the same).
 */
export async function getBounded(
  storage: Storage,
  key: string,
  maxBytes: number,
  options: Omit<GetOptions, 'maxBytes'> = {},
): Promise<Uint8Array> {
  const bytes = await storage.get(key, { ...options, maxBytes });
  if (bytes.length > maxBytes) throw tooLargeError(key, bytes.length, maxBytes, storage.name);
  return bytes;
}

/** Bytes a `get` of `range` returns from an object of `size` bytes. */
export function rangeLength(size: number, range: { offset: number; length: number } | undefined): number {
  return range ? Math.max(0, Math.min(range.length, size - range.offset)) : size;
}
