/** Adapter options are strict: a typo is refused, named, and matched to the option it most likely meant. */
import { describe, expect, it } from 'vitest';
import { milvusAdapter } from '../../adapters/milvus/index.js';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { qdrantAdapter } from '../../adapters/qdrant/index.js';
import { weaviateAdapter } from '../../adapters/weaviate/index.js';
import { closest } from '../../src/options.js';
import { expectError } from '../helpers/errors.js';

// A stand-in that passes each adapter's duck-typed client check; option parsing happens before any call.
const pglite = { query: async () => ({ rows: [] }) };

const cases: [string, string, string | undefined, () => unknown][] = [
  ['pgvector', 'schemaNme', 'schema', () => pgvectorAdapter({ pglite, schemaNme: 'app' } as never)],
  ['pgvector', 'schmea', 'schema', () => pgvectorAdapter({ pglite, schmea: 'app' } as never)],
  ['pgvector', 'insertBatchRow', 'insertBatchRows', () => pgvectorAdapter({ pglite, insertBatchRow: 100 } as never)],
  ['milvus', 'databse', 'database', () => milvusAdapter({ address: 'localhost:19530', databse: 'x' } as never)],
  ['qdrant', 'apikey', 'apiKey', () => qdrantAdapter({ url: 'http://localhost:6333', apikey: 'k' } as never)],
  ['weaviate', 'grpcAdress', 'grpcAddress', () => weaviateAdapter({ url: 'http://localhost:8080', grpcAdress: 'localhost:50051' } as never)],
  ['weaviate', 'frobnicate', undefined, () => weaviateAdapter({ url: 'http://localhost:8080', frobnicate: true } as never)],
];

describe('adapter options are strict', () => {
  it.each(cases)('%s refuses %s (meant: %s)', async (_engine, key, meant, make) => {
    const err = await expectError(Promise.resolve().then(make), 'INVALID_OPTIONS');
    expect(err.message).toContain(`unknown option "${key}"`);
    if (meant === undefined) expect(err.message).not.toContain('did you mean');
    else expect(err.message).toContain(`did you mean ${meant}?`);
  });

  it('suggests only close names', () => {
    expect(closest('schmea', ['schema', 'copy'])).toBe('schema');
    expect(closest('cpy', ['schema', 'copy'])).toBe('copy');
    expect(closest('zzz', ['schema', 'copy'])).toBeUndefined();
  });
});
