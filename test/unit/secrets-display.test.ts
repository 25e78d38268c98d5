/**
 * Secrets never on display (issue 22): util.inspect at any depth (what console.log, a REPL or a
 * logger shows) and JSON.stringify of every storage, adapter, router and repository object hold no
 * credential, API key, connection-string password or passphrase.
 */
import { inspect } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { milvusAdapter } from '../../adapters/milvus/index.js';
import { pgRouter, pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { qdrantAdapter } from '../../adapters/qdrant/index.js';
import { weaviateAdapter } from '../../adapters/weaviate/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { pgPool } from '../helpers/pg.js';

const SECRET = 'S3CR3T-do-not-show';

function expectHidden(o: object): void {
  const shown = [inspect(o, { depth: Infinity }), inspect(o, { depth: Infinity, showHidden: true }), JSON.stringify(o), String(o)];
  for (const s of shown) expect(s).not.toContain(SECRET);
}

describe('secrets never on display', () => {
  it('S3 storage: access key, secret key and session token', () => {
    const s3 = new S3Storage({
      bucket: 'bucket',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: `AK${SECRET}`, secretAccessKey: SECRET, sessionToken: SECRET },
    });
    expectHidden(s3);
    expect(inspect(s3)).toContain('s3://bucket/');
  });

  it('repositories: passphrase and raw key', async () => {
    expectHidden(
      await openRepository({ storage: memoryStorage(), create: true, encryption: { passphrase: SECRET, scrypt: { N: 2 ** 14 } } }),
    );
    const key = new Uint8Array(32).fill(0x41);
    const repo = await openRepository({ storage: memoryStorage(), create: true, encryption: { key } });
    expect(inspect(repo, { depth: Infinity, showHidden: true })).not.toContain(Buffer.from(key).toString('hex'));
    expectHidden(repo);
  });

  it('adapters: Qdrant, Weaviate and Milvus API keys, a pgvector pool password', async () => {
    const qdrant = qdrantAdapter({ url: 'http://127.0.0.1:6333', apiKey: SECRET });
    const weaviate = weaviateAdapter({ url: 'http://127.0.0.1:8080', apiKey: SECRET });
    const milvus = milvusAdapter({ url: '127.0.0.1:1', apiKey: SECRET });
    // The SDK connects at once; nothing listens there, and that is not what this case is about.
    void (milvus as unknown as { client: { connectPromise?: Promise<void> } }).client.connectPromise?.catch(() => undefined);
    const pool = pgPool({ connectionString: `postgres://u:${SECRET}@127.0.0.1:1/db` });
    for (const a of [qdrant, weaviate, milvus, pgvectorAdapter({ pool })]) expectHidden(a);
    await Promise.all([qdrant.close?.(), weaviate.close?.(), milvus.close?.(), pool.end()]);
  });

  it('the pgvector router and its core: connection-string passwords', async () => {
    const router = pgRouter({ pg, endpoints: [{ name: 'a', connectionString: `postgres://u:${SECRET}@127.0.0.1:1/db` }] });
    expectHidden(router);
    expectHidden(router.core);
    await router.close();
  });
});
