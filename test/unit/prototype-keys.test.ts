/**
 * Keys named `__proto__`, `constructor` and `prototype` are external text (issue 22): as payload
 * fields (columns), as keys inside a json payload and as vector field names, from an engine's scan
 * or from a segment, they stay ordinary own keys through snapshot → restore → parity, and never
 * reach Object.prototype.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { canonicalPayload, parsePayload } from '../../src/format/canonical-json.js';
import type { Repository } from '../../src/repository/repository.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';

const HOSTILE_JSON = '{"__proto__": {"x": 1}, "constructor": {"prototype": 2}, "prototype": null}';

describe('prototype-named keys survive snapshot, restore and parity (pgvector on PGlite)', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let repo: Repository;
  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector;
      CREATE TABLE protos (id int8 PRIMARY KEY, "constructor" vector(3), "__proto__" int4, "prototype" jsonb, "toString" text);
      INSERT INTO protos VALUES
        (1, '[1,2,3]', 1, '${HOSTILE_JSON}', 'a'),
        (2, '[4,5,6]', NULL, '{"__proto__": 1}', NULL),
        (3, NULL, 3, NULL, 'c');`));
    repo = await memoryRepository();
  });
  afterAll(async () => {
    await db.close();
  });

  it('a payload {"__proto__": 1} round-trips exactly, and parity compares every field', async () => {
    await repo.snapshot(adapter, 'protos');
    await repo.restore(adapter, { collection: 'protos', target: 'protos_back' });
    const rows = await db.query<{ id: string; c: string | null; p: number | null; j: unknown; t: string | null }>(
      `SELECT id::text, "constructor"::text AS c, "__proto__" AS p, "prototype"::text AS j, "toString" AS t FROM protos_back ORDER BY id`,
    );
    const src = await db.query<{ id: string; c: string | null; p: number | null; j: unknown; t: string | null }>(
      `SELECT id::text, "constructor"::text AS c, "__proto__" AS p, "prototype"::text AS j, "toString" AS t FROM protos ORDER BY id`,
    );
    expect(rows.rows).toEqual(src.rows);
    const parity = await repo.verifyParity(adapter, { collection: 'protos', live: 'protos_back' });
    expect(parity.ok).toBe(true);
    const [r1, r2] = await adapter.fetch('protos_back', [1n, 2n]);
    expect(Object.hasOwn(r1?.payload ?? {}, '__proto__')).toBe(true);
    expect(r1?.payload.__proto__).toBe(1);
    expect(canonicalPayload(r1?.payload ?? {})).toBe(
      '{"__proto__":1,"prototype":{"__proto__":{"x":1},"constructor":{"prototype":2},"prototype":null},"toString":"a"}',
    );
    expect(canonicalPayload(r2?.payload ?? {})).toBe('{"prototype":{"__proto__":1}}');
    expect(Object.hasOwn(r1?.vectors ?? {}, 'constructor')).toBe(true);
    const field: string = 'constructor';
    expect(Array.from(r1?.vectors[field] as Float32Array)).toEqual([1, 2, 3]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('a vector field named "__proto__" is an ordinary field through snapshot, restore (with omitVectors beside it) and parity', async () => {
    await db.exec(`CREATE TABLE protov (id int8 PRIMARY KEY, "__proto__" vector(2), "prototype" halfvec(2), "constructor" int4);
      INSERT INTO protov VALUES (1, '[1,2]', '[3,4]', 7), (2, NULL, '[5,6]', NULL);`);
    await repo.snapshot(adapter, 'protov');
    await repo.restore(adapter, { collection: 'protov', target: 'protov_back', convertVectors: { prototype: 'float32' } });
    const back = await db.query<{ v: string | null; h: string | null; c: number | null }>(
      `SELECT "__proto__"::text AS v, "prototype"::text AS h, "constructor" AS c FROM protov_back ORDER BY id`,
    );
    expect(back.rows).toEqual([
      { v: '[1,2]', h: '[3,4]', c: 7 },
      { v: null, h: '[5,6]', c: null },
    ]);
    expect((await repo.verifyParity(adapter, { collection: 'protov', live: 'protov_back' })).ok).toBe(true);
    const [r1] = await adapter.fetch('protov', [1n]);
    expect(Object.keys(r1?.vectors ?? {}).sort()).toEqual(['__proto__', 'prototype']);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('the canonical parse keeps "__proto__" an own key at every level', () => {
    const p = parsePayload('{"__proto__":1,"a":{"__proto__":{"constructor":1.50}}}');
    expect(Object.keys(p)).toEqual(['__proto__', 'a']);
    expect(canonicalPayload(p)).toBe('{"__proto__":1,"a":{"__proto__":{"constructor":1.50}}}');
    expect(Object.getPrototypeOf(p)).toBeNull();
  });
});
