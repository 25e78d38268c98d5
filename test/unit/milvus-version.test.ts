/** What the Milvus adapter decides from the version a server reports (adapters/milvus/milvus-version.ts). */
import { describe, expect, it } from 'vitest';
import { milvusServerInfo } from '../../adapters/milvus/milvus-version.js';
import type { VectordrError } from '../../src/errors.js';
import { expectError } from '../helpers/errors.js';

describe('milvusServerInfo', () => {
  it.each([
    ['v2.3.5-lite', false, false],
    ['v2.3.0', false, false],
    ['v2.4.17', false, false],
    ['v2.5.0', true, true],
    ['2.6.3', true, true],
    ['v3.0.0', true, true],
    ['milvus_lite-3.2.2', true, true],
    ['Zilliz Cloud (compatible with Milvus 2.4)', false, false],
    ['something else', true, true],
  ])('%s: nullable fields %s, dropCollectionProperties %s', (version, nullable, drop) => {
    expect(milvusServerInfo(version)).toMatchObject({ version, nullableFields: nullable, dropProperties: drop });
  });

  it('reads key 2^63-1 back on milvus-lite only', () => {
    expect(milvusServerInfo('milvus_lite-3.2.2').readsMaxInt64Key).toBe(true);
    expect(milvusServerInfo('v2.3.5-lite').readsMaxInt64Key).toBe(false);
  });

  it('serialises writes on milvus-lite only', () => {
    expect(milvusServerInfo('milvus_lite-3.2.2').serialWrites).toBe(true);
    expect(milvusServerInfo('v2.3.5-lite').serialWrites).toBe(false);
    expect(milvusServerInfo('v2.5.4').serialWrites).toBe(false);
  });

  it.each(['v2.2.16', 'v2.1.4', '1.1.0'])('refuses %s, naming it and the minimum', async (version) => {
    const err = await expectError(
      Promise.resolve().then(() => milvusServerInfo(version)),
      'UNSUPPORTED_OPERATION',
    );
    expect(err.message).toContain(JSON.stringify(version));
    expect((err as VectordrError).details).toMatchObject({ version, minimum: '2.3.0' });
  });
});
