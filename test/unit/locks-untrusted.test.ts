/**
 * Lock objects are read from storage that others can write: an oversized one is never read whole,
 * and a body with absurd fields is unreadable — both honoured until stale by time, as any unreadable lock.
 */
import { describe, expect, it } from 'vitest';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { expectError } from '../helpers/errors.js';

describe('untrusted lock objects', () => {
  it('a 2 MiB lock object is not read, and still holds off a prune until it is stale', async () => {
    const storage = memoryStorage();
    const repo = await openRepository({ storage, create: true });
    await storage.put('locks/01J00000000000000000000000.json', new Uint8Array(2 * 1024 * 1024).fill(0x7b));
    const gets: string[] = [];
    const get = storage.get.bind(storage);
    storage.get = async (key, options) => {
      gets.push(key);
      return get(key, options);
    };
    const err = await expectError(repo.prune(), 'LOCK_SUSPICIOUS');
    expect(err.message).toContain('locks/01J00000000000000000000000.json');
    expect(err.message).toContain('vectordr unlock --force');
    expect(gets.filter((k) => k.startsWith('locks/'))).toEqual([]);
  });

  it('a lock body with a 100 kB host name is unreadable, not echoed into errors', async () => {
    const storage = memoryStorage();
    const repo = await openRepository({ storage, create: true });
    const body = {
      formatVersion: 1,
      exclusive: true,
      operation: 'x',
      host: 'h'.repeat(50_000),
      pid: 1,
      createdAt: new Date().toISOString(),
    };
    await storage.put('locks/01J00000000000000000000001.json', Buffer.from(JSON.stringify(body)));
    const err = await expectError(repo.prune(), 'LOCK_SUSPICIOUS');
    expect(err.message.length).toBeLessThan(2_000);
  });
});
