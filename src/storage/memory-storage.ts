import { ConflictError, NotFoundError, throwIfAborted } from '../errors.js';
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

/** In-memory storage for unit tests and ephemeral use. Copies on put and get so callers cannot alias stored bytes. */
export class MemoryStorage implements Storage {
  readonly name = 'memory';
  readonly location = 'memory://';
  private readonly objects = new Map<string, { data: Uint8Array; lastModified: Date }>();

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    assertValidKey(key, this.name);
    throwIfAborted(options.signal);
    const obj = this.objects.get(key);
    if (!obj) throw new NotFoundError('KEY_NOT_FOUND', `Object ${key} does not exist.`, { plugin: this.name });
    const { range } = options;
    const length = rangeLength(obj.data.length, range);
    if (options.maxBytes !== undefined && length > options.maxBytes) throw tooLargeError(key, length, options.maxBytes, this.name);
    return range ? obj.data.slice(range.offset, range.offset + range.length) : obj.data.slice();
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    assertValidKey(key, this.name);
    throwIfAborted(options.signal);
    if (options.ifNoneMatch === '*' && this.objects.has(key)) {
      throw new ConflictError('KEY_EXISTS', `Object ${key} already exists; it was not overwritten.`, { plugin: this.name });
    }
    this.objects.set(key, { data: data.slice(), lastModified: new Date() });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key, this.name);
    this.objects.delete(key);
  }

  async touch(key: string): Promise<boolean> {
    assertValidKey(key, this.name);
    const obj = this.objects.get(key);
    if (obj) obj.lastModified = new Date();
    return obj !== undefined;
  }

  async stat(key: string): Promise<StorageObjectInfo | undefined> {
    assertValidKey(key, this.name);
    const obj = this.objects.get(key);
    return obj ? { key, size: obj.data.length, lastModified: obj.lastModified } : undefined;
  }

  async *list(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<StorageObjectInfo> {
    assertValidPrefix(prefix, this.name);
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      throwIfAborted(options.signal);
      const obj = this.objects.get(key);
      if (obj) yield { key, size: obj.data.length, lastModified: obj.lastModified };
    }
  }
}

export function memoryStorage(): MemoryStorage {
  return new MemoryStorage();
}
