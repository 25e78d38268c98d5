/**
 * The pgvector restore marker (the last line of the table comment) for both marker versions: a chain
 * restore writes `vectordr-restore/v2 ...`, which must be read back (or the restore never resumes) and
 * replaced in place (or every write stacks one more line onto the restored table's comment).
 */
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openPglite } from '../helpers/pglite.js';

let db: PGlite;
let adapter: PgvectorAdapter;

beforeAll(async () => {
  ({ db, adapter } = await openPglite(`CREATE EXTENSION IF NOT EXISTS vector; CREATE TABLE m (id bigint PRIMARY KEY, e vector(2));
    COMMENT ON TABLE m IS 'the user''s own comment'`));
});

afterAll(async () => {
  await db.close();
});

const comment = async (): Promise<string | null> =>
  (await db.query<{ c: string | null }>(`SELECT obj_description('m'::regclass, 'pg_class') AS c`)).rows[0]?.c ?? null;

describe('pgvector restore marker', () => {
  it('reads back and replaces v1 and v2 markers, keeping the user comment above them', async () => {
    const v1 = 'vectordr-restore/v1 01M8XZBXV14PRE9KR9XSXRPVPK 2 170 i';
    const v2 = 'vectordr-restore/v2 01M8XZBXV14PRE9KR9XSXRPVPK 3 0 i';
    const v2next = 'vectordr-restore/v2 01M8XZBXV14PRE9KR9XSXRPVPK 4 170 i';
    for (const marker of [v1, v2, v2next]) {
      await adapter.writeMarker('m', marker);
      expect(await adapter.readMarker('m')).toBe(marker);
      expect(await comment()).toBe(`the user's own comment\n${marker}`);
    }
    await adapter.writeMarker('m', undefined);
    expect(await adapter.readMarker('m')).toBeUndefined();
    expect(await comment()).toBe(`the user's own comment`);
  });
});
