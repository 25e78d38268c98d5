import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExternalSorter, type SortEntry } from '../../src/chain/external-sort.js';

async function collect(it: AsyncIterable<SortEntry>): Promise<SortEntry[]> {
  const out: SortEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ExternalSorter', () => {
  it('sorts by key bytes (shorter first on a common prefix) in memory and across spilled runs alike', async () => {
    const keys = Array.from({ length: 5000 }, () => randomBytes(1 + Math.floor(Math.random() * 12)));
    keys.push(Buffer.from([1]), Buffer.from([1, 0]), Buffer.from([]));
    const expected = [...new Set(keys.map(hex))].sort((a, b) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
    for (const memoryBytes of [1 << 30, 8 * 1024]) {
      const dir = mkdtempSync(join(tmpdir(), 'vdr-sort-test-'));
      const s = new ExternalSorter({ dedupe: 'last', memoryBytes, tmpDir: dir });
      for (const k of keys) await s.add(k, Buffer.from(hex(k)));
      if (memoryBytes === 8 * 1024) expect(s.runs).toBeGreaterThan(10);
      const got = await collect(s.sorted());
      expect(got.map((e) => hex(e.key))).toEqual(expected);
      for (const e of got) expect(Buffer.from(e.value).toString()).toBe(hex(e.key));
      await s.close();
      expect(await readdir(dir)).toEqual([]); // run files removed
    }
  });

  it('keeps equal keys in insertion order (keep), the last one (last), or refuses them (error), across runs', async () => {
    for (const memoryBytes of [1 << 30, 300]) {
      const add = async (s: ExternalSorter): Promise<void> => {
        for (let i = 0; i < 40; i++) await s.add(Buffer.from([i % 4]), Buffer.from([i]));
      };
      const keep = new ExternalSorter({ dedupe: 'keep', memoryBytes });
      await add(keep);
      const all = await collect(keep.sorted());
      expect(all.filter((e) => e.key[0] === 2).map((e) => e.value[0])).toEqual([2, 6, 10, 14, 18, 22, 26, 30, 34, 38]);
      await keep.close();

      const last = new ExternalSorter({ dedupe: 'last', memoryBytes });
      await add(last);
      expect((await collect(last.sorted())).map((e) => [e.key[0], e.value[0]])).toEqual([
        [0, 36],
        [1, 37],
        [2, 38],
        [3, 39],
      ]);
      await last.close();

      const strict = new ExternalSorter({ dedupe: 'error', memoryBytes, onDuplicate: (k) => new Error(`dup ${hex(k)}`) });
      await add(strict);
      await expect(collect(strict.sorted())).rejects.toThrow('dup 00');
      await strict.close();
    }
  });

  it('yields nothing for no entries and copes with empty values', async () => {
    const s = new ExternalSorter({ dedupe: 'error' });
    expect(await collect(s.sorted())).toEqual([]);
    await s.close();
    const t = new ExternalSorter({ dedupe: 'error', memoryBytes: 200 });
    for (let i = 9; i >= 0; i--) await t.add(Buffer.from([i]), new Uint8Array(0));
    expect((await collect(t.sorted())).map((e) => e.key[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await t.close();
  });
});
