/**
 * The storage conformance suite: every Storage backend runs exactly these cases.
 *   testStorage({ name: 'fs', create: async () => ({ storage, cleanup }) })
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError } from '../helpers/errors.js';
import type { VectordrError } from '../../src/errors.js';
import type { Storage } from '../../src/storage/storage.js';
import type { Harness, SuiteOptions } from './harness.js';

export interface StorageHarness extends Harness {
  storage: Storage;
}

export type StorageSuiteOptions = SuiteOptions<StorageHarness>;

async function collect(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

export function testStorage(options: StorageSuiteOptions): void {
  describe(`storage conformance: ${options.name}`, () => {
    let h: StorageHarness;
    let s: Storage;
    beforeAll(async () => {
      h = await options.create();
      s = h.storage;
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it('puts and gets bytes exactly', async () => {
      const data = new Uint8Array(300_000).map((_, i) => (i * 31) & 255);
      await s.put('a/b/obj1', data);
      expect(Buffer.from(await s.get('a/b/obj1')).equals(Buffer.from(data))).toBe(true);
    });

    it('reads a byte range', async () => {
      await s.put('range/obj', Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
      expect(Array.from(await s.get('range/obj', { range: { offset: 3, length: 4 } }))).toEqual([3, 4, 5, 6]);
    });

    it('stat reports size, and undefined for a missing key', async () => {
      await s.put('stat/obj', new Uint8Array(123));
      expect((await s.stat('stat/obj'))?.size).toBe(123);
      expect(await s.stat('stat/missing')).toBeUndefined();
    });

    it('get of a missing key throws KEY_NOT_FOUND', async () => {
      await expectError(s.get('nope/nothing'), 'KEY_NOT_FOUND');
    });

    it('put replaces an object whole', async () => {
      await s.put('replace/obj', new Uint8Array(1000).fill(1));
      await s.put('replace/obj', new Uint8Array(10).fill(2));
      expect(Array.from(await s.get('replace/obj'))).toEqual(new Array(10).fill(2));
    });

    it('create-only put (ifNoneMatch) refuses to overwrite, and exactly one of two racers wins', async () => {
      await s.put('cas/obj', Uint8Array.of(1), { ifNoneMatch: '*' });
      await expectError(s.put('cas/obj', Uint8Array.of(2), { ifNoneMatch: '*' }), 'KEY_EXISTS');
      expect(Array.from(await s.get('cas/obj'))).toEqual([1]);
      const results = await Promise.allSettled([1, 2, 3, 4].map((v) => s.put('cas/race', Uint8Array.of(v), { ifNoneMatch: '*' })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('lists keys under a prefix in lexicographic order', async () => {
      for (const k of ['list/b', 'list/a', 'list/c/d', 'listx/e']) await s.put(k, Uint8Array.of(1));
      expect(await collect(s, 'list/')).toEqual(['list/a', 'list/b', 'list/c/d']);
      expect(await collect(s, 'empty-prefix/')).toEqual([]);
    });

    it('touch (when offered) renews lastModified, keeps the bytes, and never creates a missing key', async () => {
      if (!s.touch) return;
      await s.put('touch/obj', Uint8Array.of(7, 8));
      const before = await s.stat('touch/obj');
      await new Promise((r) => setTimeout(r, 1_100)); // S3 HEAD times have whole seconds
      expect(await s.touch('touch/obj')).toBe(true);
      const after = await s.stat('touch/obj');
      expect(after?.lastModified.getTime()).toBeGreaterThan(before?.lastModified.getTime() ?? Infinity);
      expect(Array.from(await s.get('touch/obj'))).toEqual([7, 8]);
      await s.delete('touch/obj');
      expect(await s.touch('touch/obj')).toBe(false);
      expect(await s.stat('touch/obj')).toBeUndefined();
    });

    it('delete removes a key and ignores a missing one', async () => {
      await s.put('del/obj', Uint8Array.of(1));
      await s.delete('del/obj');
      expect(await s.stat('del/obj')).toBeUndefined();
      await s.delete('del/obj');
    });

    it('get with maxBytes reads an object up to the cap and refuses a larger one with OBJECT_TOO_LARGE naming key and cap', async () => {
      const data = new Uint8Array(200_000).map((_, i) => (i * 13) & 255);
      await s.put('capped/obj', data);
      expect(Buffer.from(await s.get('capped/obj', { maxBytes: 200_000 })).equals(Buffer.from(data))).toBe(true);
      const err = (await expectError(s.get('capped/obj', { maxBytes: 199_999 }), 'OBJECT_TOO_LARGE')) as VectordrError;
      expect(err.details).toMatchObject({ key: 'capped/obj', maxBytes: 199_999 });
      expect(err.message).toContain('capped/obj');
      expect(err.message).toContain('199999');
      // A range is judged by what it returns, not by the whole object.
      expect(Array.from(await s.get('capped/obj', { range: { offset: 10, length: 3 }, maxBytes: 3 }))).toEqual(
        Array.from(data.subarray(10, 13)),
      );
      await expectError(s.get('capped/obj', { range: { offset: 10, length: 4 }, maxBytes: 3 }), 'OBJECT_TOO_LARGE');
      await expectError(s.get('capped/missing', { maxBytes: 10 }), 'KEY_NOT_FOUND');
    });

    it('refuses keys that escape the root or are malformed', async () => {
      for (const bad of ['../escape', 'a/../../etc/passwd', '/abs', 'a//b', 'a\\b', 'a/./b', '', 'nul\0byte']) {
        await expectError(s.put(bad, Uint8Array.of(1)), 'PATH_ESCAPE');
        await expectError(s.get(bad), 'PATH_ESCAPE');
      }
      await expectError(collect(s, '../'), 'PATH_ESCAPE');
    });

    it('honours an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      await expectError(s.put('abort/obj', Uint8Array.of(1), { signal: ac.signal }), 'ABORTED');
      expect(await s.stat('abort/obj')).toBeUndefined();
    });
  });
}
