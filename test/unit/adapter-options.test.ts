/** Adapter options are strict: a typo is refused, named, and matched to the option it most likely meant. */
import { describe, expect, it } from 'vitest';
import { milvusAdapter } from '../../adapters/milvus/index.js';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { qdrantAdapter } from '../../adapters/qdrant/index.js';
import { weaviateAdapter } from '../../adapters/weaviate/index.js';
import { MILVUS_RENAMED_OPTIONS, MilvusAdapterOptionsSchema } from '../../adapters/milvus/milvus-options.js';
import { closest, parseOptions } from '../../src/options.js';
import { expectError } from '../helpers/errors.js';

// A stand-in that passes each adapter's duck-typed client check; option parsing happens before any call.
const pglite = { query: async () => ({ rows: [] }) };

const cases: [string, string, string | undefined, () => unknown][] = [
  ['pgvector', 'schemaNme', 'schema', () => pgvectorAdapter({ pglite, schemaNme: 'app' } as never)],
  ['pgvector', 'schmea', 'schema', () => pgvectorAdapter({ pglite, schmea: 'app' } as never)],
  ['pgvector', 'writeBatchRow', 'writeBatchRows', () => pgvectorAdapter({ pglite, writeBatchRow: 100 } as never)],
  ['milvus', 'databse', 'database', () => milvusAdapter({ url: 'localhost:19530', databse: 'x' } as never)],
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

describe('one option vocabulary: former names are read for one minor version', () => {
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (_o: object, msg: string) => warnings.push(msg), error: () => {} };

  it.each([
    ['pgvector', 'insertBatchRows', 'writeBatchRows', () => pgvectorAdapter({ pglite, insertBatchRows: 100, logger })],
    ['qdrant', 'upsertBatchBytes', 'writeBatchBytes', () => qdrantAdapter({ url: 'http://localhost:6333', upsertBatchBytes: 1 << 20, logger })],
    ['weaviate', 'insertBatchBytes', 'writeBatchBytes', () => weaviateAdapter({ url: 'http://localhost:8080', insertBatchBytes: 1 << 20, logger })],
  ])('%s accepts %s as %s, with a deprecation warning', async (_engine, old, name, make) => {
    warnings.length = 0;
    const adapter = make();
    expect(warnings).toEqual([expect.stringContaining(`${old} is deprecated; use ${name}`)]);
    await (adapter as { close?: () => Promise<void> }).close?.();
  });

  // Parsed without an adapter: a Milvus client connects as it is made (and fails later, unhandled, with no server).
  it.each([
    ['address', 'url', { address: 'localhost:19530' }],
    ['token', 'apiKey', { url: 'localhost:19530', token: 'u:p' }],
    ['insertBatchBytes', 'writeBatchBytes', { url: 'localhost:19530', insertBatchBytes: 1 << 20 }],
  ])('milvus accepts %s as %s, with a deprecation warning', (old, name, options) => {
    warnings.length = 0;
    const parsed = parseOptions(MilvusAdapterOptionsSchema, { ...options, logger }, 'Milvus adapter', 'milvus', MILVUS_RENAMED_OPTIONS) as Record<string, unknown>;
    expect(parsed[name]).toBe((options as Record<string, unknown>)[old]);
    expect(parsed[old]).toBeUndefined();
    expect(warnings).toEqual([expect.stringContaining(`${old} is deprecated; use ${name}`)]);
  });

  it('refuses a former name beside its new one', async () => {
    const err = await expectError(Promise.resolve().then(() => qdrantAdapter({ url: 'http://localhost:6333', upsertBatchBytes: 1 << 20, writeBatchBytes: 1 << 20 })), 'INVALID_OPTIONS');
    expect(err.message).toContain('pass writeBatchBytes only (upsertBatchBytes is its former name');
  });

  it('refuses credentials inside a Milvus url', async () => {
    const err = await expectError(Promise.resolve().then(() => milvusAdapter({ url: 'http://root:secret@localhost:19530' })), 'INVALID_OPTIONS');
    expect(err.message).not.toContain('secret');
  });
});
