/**
 * S3 storage against the real S3-compatible server of scripts/s3-server.sh: the shared storage
 * conformance suite, multipart uploads, a repository on S3 (encrypted), and every bad-input case.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { serialize } from '../../src/format/manifest.js';
import { openRepository } from '../../src/repository/repository.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { testStorage } from '../conformance/storage-suite.js';
import { expectError } from '../helpers/errors.js';
import { randomName } from '../helpers/engines.js';
import { restrictedCredentials, s3Available, s3Config, s3TestStorage } from '../helpers/s3.js';

describe.runIf(s3Available)('s3', () => {
  testStorage({
    name: 's3',
    create: async () => {
      const storage = s3TestStorage();
      return {
        storage,
        cleanup: async () => {
          for await (const o of storage.list('')) await storage.delete(o.key);
          await storage.close();
        },
      };
    },
  });

  describe('s3 storage specifics', () => {
    it('uploads large objects as a streamed multipart upload and reads them back exactly', async () => {
      const s = s3TestStorage({ multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
      const big = new Uint8Array(12 * 1024 * 1024 + 7).map((_, i) => (i * 7919) & 255);
      await s.put('big/obj', big);
      expect((await s.stat('big/obj'))?.size).toBe(big.length);
      expect(Buffer.from(await s.get('big/obj')).equals(Buffer.from(big))).toBe(true);
      expect(Array.from(await s.get('big/obj', { range: { offset: 6 * 1024 * 1024, length: 3 } }))).toEqual(
        Array.from(big.subarray(6 * 1024 * 1024, 6 * 1024 * 1024 + 3)),
      );
      await s.delete('big/obj');
      await s.close();
    });

    it('lists more than one page (1000 keys) in order', async () => {
      const s = s3TestStorage();
      const keys = Array.from({ length: 1050 }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => s.put(k, Uint8Array.of(1))));
      const seen: string[] = [];
      for await (const o of s.list('many/')) seen.push(o.key);
      expect(seen).toEqual(keys);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => s.delete(k)));
      await s.close();
    });

    it('location and errors never contain the secret key', async () => {
      const c = s3Config()!;
      const s = new S3Storage({
        endpoint: c.endpoint,
        bucket: c.bucket,
        region: c.region,
        credentials: { accessKeyId: c.credentials.accessKeyId, secretAccessKey: 'not-the-secret-xyz' },
        maxAttempts: 1,
      });
      const err = await expectError(s.get('x'), 'ACCESS_DENIED');
      expect(`${err.message} ${JSON.stringify((err as { details?: unknown }).details)} ${s.location}`).not.toContain('not-the-secret-xyz');
      await s.close();
    });
  });

  describe('a repository on S3', () => {
    let db: PGlite;
    beforeAll(async () => {
      db = await PGlite.create({ extensions: { vector } });
      await db.exec(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(8), t text);
        INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3, 4, 5, 6, 7]::real[]::vector, 'row ' || g FROM generate_series(1, 3000) g;`);
    });
    afterAll(async () => {
      await db.close();
    });

    it('snapshot, restore, verify, forget and prune, encrypted, on a real S3 server', async () => {
      const storage = s3TestStorage();
      const adapter = pgvectorAdapter({ pglite: db });
      const encryption = { passphrase: 'correct horse battery', scrypt: { N: 2 ** 14 } };
      const repo = await openRepository({ storage, create: true, encryption });
      const first = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      await db.exec(`UPDATE docs SET t = 'changed ' || id WHERE id > 2500`);
      const second = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      expect(second.reusedSegments).toBeGreaterThan(0);
      expect((await repo.verify()).ok).toBe(true);
      await repo.restore(adapter, { collection: 'docs', snapshot: first.manifest.id, target: 'docs_from_s3' });
      expect((await repo.verifyParity(adapter, { collection: 'docs', snapshot: first.manifest.id, live: 'docs_from_s3' })).ok).toBe(true);
      expect((await repo.forget({ keepLast: 1 })).removed).toBe(1);
      const pruned = await repo.prune({ graceMs: 0 }); // the forgotten snapshot is seconds old
      expect(pruned.deleted).toBe(first.manifest.segments.length - second.reusedSegments);
      expect((await repo.verify()).ok).toBe(true);
      await expectError(openRepository({ storage, encryption: { passphrase: 'wrong passphrase!' } }), 'WRONG_KEY');
      for await (const o of storage.list('')) await storage.delete(o.key);
      await storage.close();
    });

    it(
      'read-only credentials: snapshot is ACCESS_DENIED naming the write, restore works with ' +
        'lock: false; no GetObject at all is ACCESS_DENIED at open',
      async () => {
        const c = s3Config()!;
        const prefix = randomName('ro');
        const admin = new S3Storage({ endpoint: c.endpoint, bucket: c.bucket, region: c.region, credentials: c.credentials, prefix });
        const adapter = pgvectorAdapter({ pglite: db });
        const repo = await openRepository({ storage: admin, create: true });
        await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });

        const readOnly = new S3Storage({
          endpoint: c.endpoint,
          bucket: c.bucket,
          region: c.region,
          credentials: await restrictedCredentials(['s3:GetObject', 's3:ListBucket']),
          prefix,
          maxAttempts: 2,
        });
        const ro = await openRepository({ storage: readOnly });
        expect((await ro.verify()).ok).toBe(true);
        const denied = await expectError(ro.snapshot(adapter, 'docs'), 'ACCESS_DENIED');
        expect((denied as { category?: string }).category).toBe('permission');
        expect(denied.message).toMatch(/put locks\//);
        const lockDenied = await expectError(ro.restore(adapter, { collection: 'docs', target: 'docs_ro_restored' }), 'ACCESS_DENIED');
        expect(lockDenied.message).toContain('lock: false');
        await ro.restore(adapter, { collection: 'docs', target: 'docs_ro_restored', lock: false });
        expect((await ro.verifyParity(adapter, { collection: 'docs', live: 'docs_ro_restored' })).ok).toBe(true);

        const listOnly = new S3Storage({
          endpoint: c.endpoint,
          bucket: c.bucket,
          region: c.region,
          credentials: await restrictedCredentials(['s3:ListBucket']),
          prefix,
          maxAttempts: 2,
        });
        await expectError(openRepository({ storage: listOnly }), 'ACCESS_DENIED');
        for await (const o of admin.list('')) await admin.delete(o.key);
        await Promise.all([admin.close(), readOnly.close(), listOnly.close()]);
      },
    );

    it('a repository created by a newer format version is refused', async () => {
      const storage = s3TestStorage();
      await storage.put('vectordr.json', serialize({ formatVersion: 3, id: 'future' }));
      const err = await expectError(openRepository({ storage }), 'FORMAT_VERSION');
      expect(err.message).toContain('Upgrade vectordr');
      await storage.delete('vectordr.json');
      await storage.close();
    });
  });

  describe('bad input', () => {
    let html: Server;
    let htmlUrl: string;
    beforeAll(async () => {
      html = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html><body>Welcome to nginx!</body></html>');
      });
      await new Promise<void>((r) => html.listen(0, '127.0.0.1', r));
      htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => html.close(() => r())));

    it('a missing bucket is BUCKET_NOT_FOUND, and says vectordr never creates buckets', async () => {
      const c = s3Config()!;
      const storage = new S3Storage({
        endpoint: c.endpoint,
        bucket: 'vectordr-no-such-bucket',
        region: c.region,
        credentials: c.credentials,
        maxAttempts: 1,
      });
      const err = await expectError(openRepository({ storage, create: true }), 'BUCKET_NOT_FOUND');
      expect(err.message).toContain('never creates buckets');
      await expectError(storage.stat('x'), 'BUCKET_NOT_FOUND');
      await storage.close();
    });

    it('wrong credentials are ACCESS_DENIED (category permission), not retried', async () => {
      const c = s3Config()!;
      const storage = new S3Storage({
        endpoint: c.endpoint,
        bucket: c.bucket,
        region: c.region,
        credentials: { accessKeyId: c.credentials.accessKeyId, secretAccessKey: 'wrong-secret-key-123' },
      });
      const t0 = performance.now();
      const err = await expectError(openRepository({ storage }), 'ACCESS_DENIED');
      expect((err as { category?: string }).category).toBe('permission');
      expect(performance.now() - t0).toBeLessThan(3_000);
      const unknownKey = new S3Storage({
        endpoint: c.endpoint,
        bucket: c.bucket,
        region: c.region,
        credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong-secret-key-123' },
      });
      await expectError(unknownKey.put('x', Uint8Array.of(1)), 'ACCESS_DENIED');
      await storage.close();
      await unknownKey.close();
    });

    it('an endpoint that is not S3 is STORAGE_PROTOCOL', async () => {
      const storage = new S3Storage({
        endpoint: htmlUrl,
        bucket: 'anything',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 1,
      });
      const err = await expectError(openRepository({ storage, create: true }), 'STORAGE_PROTOCOL');
      expect(err.message).toContain('did not answer');
      await storage.close();
    });

    it('an unreachable endpoint is STORAGE_UNAVAILABLE (transient) after the retries', async () => {
      const storage = new S3Storage({
        endpoint: 'http://127.0.0.1:9',
        bucket: 'anything',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 2,
      });
      const err = await expectError(storage.get('x'), 'STORAGE_UNAVAILABLE');
      expect((err as { retryable?: boolean }).retryable).toBe(true);
      await storage.close();
    });

    it('invalid options are refused up front', () => {
      expect(() => new S3Storage({ bucket: 'b' })).toThrow(/Invalid S3 storage options/);
      expect(() => new S3Storage({ bucket: 'ok-bucket', prefix: '../up' })).toThrow(/PATH_ESCAPE|Refusing/);
      expect(() => new S3Storage({ bucket: 'ok-bucket', partSize: 1024 })).toThrow(/Invalid S3 storage options/);
      expect(() => new S3Storage({ bucket: 'ok-bucket', bogus: 1 } as never)).toThrow(/Invalid S3 storage options/);
    });
  });
});
