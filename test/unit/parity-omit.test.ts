/**
 * Parity after a restore that left a vector field out (`omitVectors`, issue 20), on PGlite: the
 * omitted field is masked on both sides and reported as not compared; everything else stays exact.
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import type { Repository } from '../../src/repository/repository.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';

describe('parity with omitVectors (pgvector on PGlite)', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let repo: Repository;
  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector;
      CREATE TABLE omitsrc (id int8 PRIMARY KEY, e vector(3), h halfvec(2), s sparsevec(50), note text);
      INSERT INTO omitsrc SELECT g, ARRAY[g, 1, 2]::real[]::vector, ARRAY[g, 0.5]::real[]::halfvec,
        ('{' || (g % 50) + 1 || ':1.5}/50')::sparsevec, 'n' || g FROM generate_series(1, 50) g;`));
    repo = await memoryRepository();
    await repo.snapshot(adapter, 'omitsrc');
    const result = await repo.restore(adapter, { collection: 'omitsrc', target: 'omitback', omitVectors: ['h', 's'] });
    expect(result.notCarriedOver.map((n) => n.name)).toEqual(['vector "h"', 'vector "s"']);
  });
  afterAll(async () => {
    await db.close();
  });

  it('compares the restored fields, with the omitted ones masked on both sides and listed as not compared', async () => {
    const report = await repo.verifyParity(adapter, { collection: 'omitsrc', live: 'omitback', omitVectors: ['h', 's'] });
    expect(report.ok).toBe(true);
    expect(report.rows).toEqual({ live: 50, snapshot: 50 });
    expect(report.notCompared.map((n) => n.field)).toEqual(['h', 's']);
    expect(report.collectionDigest.live).toBe(report.collectionDigest.snapshot);
    // The full comparison of the source itself lists nothing as not compared.
    expect((await repo.verifyParity(adapter, { collection: 'omitsrc' })).notCompared).toEqual([]);
  });

  it('without omitVectors the missing field is SCHEMA_MISMATCH; a name the snapshot lacks is INVALID_OPTIONS', async () => {
    const err = await expectError(repo.verifyParity(adapter, { collection: 'omitsrc', live: 'omitback' }), 'SCHEMA_MISMATCH');
    expect(err.message).toContain('"h", "s"');
    expect(err.message).toContain('omitVectors');
    await expectError(repo.verifyParity(adapter, { collection: 'omitsrc', live: 'omitback', omitVectors: ['nope'] }), 'INVALID_OPTIONS');
  });

  it('the mask hides nothing else: a changed vector, payload or a missing row is still found, by id', async () => {
    await db.exec(
      `UPDATE omitback SET e = '[9,9,9]' WHERE id = 7; UPDATE omitback SET note = 'x' WHERE id = 8; DELETE FROM omitback WHERE id = 9;`,
    );
    const report = await repo.verifyParity(adapter, { collection: 'omitsrc', live: 'omitback', omitVectors: ['h', 's'] });
    expect(report.ok).toBe(false);
    expect(report.changed.map(String).sort()).toEqual(['7', '8']);
    expect(report.missing.map(String)).toEqual(['9']);
  });
});
