/**
 * Names from a repository or an engine are external text (issue 22): a lookup keyed by one never
 * reaches Object.prototype, a Qdrant name a URL path would normalise is refused, and collection
 * names starting with '-' are kept as docs/format.md says.
 */
import { describe, expect, it } from 'vitest';
import { qdrantAdapter } from '../../adapters/qdrant/index.js';
import { collectionFromKey, collectionKey, manifestKey } from '../../src/format/keys.js';
import { CollectionSchemaSchema } from '../../src/model.js';
import { assertValidKey } from '../../src/storage/storage.js';
import { expectError } from '../helpers/errors.js';
import { openPglite } from '../helpers/pglite.js';

describe('external names', () => {
  it("Qdrant refuses '.' and '..' before any request (a URL path would normalise them to another resource)", async () => {
    const requests: string[] = [];
    const fakeFetch = async (url: unknown): Promise<Response> => {
      requests.push(String(url));
      return new Response('{"result":{"exists":true},"status":"ok"}', { headers: { 'content-type': 'application/json' } });
    };
    const original = globalThis.fetch;
    globalThis.fetch = fakeFetch as typeof fetch;
    try {
      const a = qdrantAdapter({ url: 'http://127.0.0.1:1', transport: 'rest' });
      for (const name of ['.', '..']) {
        await expectError(a.exists(name), 'INVALID_IDENTIFIER');
        await expectError(a.describe(name), 'INVALID_IDENTIFIER');
        await expectError(a.drop(name), 'INVALID_IDENTIFIER');
      }
      expect(requests).toEqual([]);
      await a.close?.();
    } finally {
      globalThis.fetch = original;
    }
  });

  it("an index kind named 'constructor' (or '__proto__') in a manifest is an unknown kind, not Object.prototype's", async () => {
    const { db, adapter } = await openPglite('CREATE EXTENSION vector');
    try {
      const schema = CollectionSchemaSchema.parse({
        name: 'h22store_kinds',
        idField: 'id',
        idType: 'int64' as const,
        vectors: [{ name: 'e', dims: 3, metric: 'l2' as const, element: 'float32' as const, nullable: true }],
        payload: [],
        indexes: ['constructor', '__proto__', 'toString'].map((kind) => ({ kind, field: 'e', params: {} })),
      });
      await adapter.create(schema, { indexes: 'deferred' });
      const report = await adapter.buildIndexes?.('h22store_kinds', schema);
      expect(report?.skipped.map((s) => s.reason).join(' ')).toContain('has no constructor index');
    } finally {
      await db.close();
    }
  });

  it("collection names starting with '-' are kept, as docs/format.md says: key part '-docs', valid, decoded back", () => {
    expect(collectionKey('-docs')).toBe('-docs');
    expect(collectionFromKey('-docs')).toBe('-docs');
    expect(() => assertValidKey(manifestKey('-docs', '01M81FWFAQ2TH9FRT55DA9YZF4'))).not.toThrow();
  });
});
