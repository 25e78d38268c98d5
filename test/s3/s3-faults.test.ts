/**
 * S3 faults between vectordr and a real S3 server: connection resets and stalls injected by
 * toxiproxy (TCP), and 503 SlowDown / 500 InternalError / lost responses injected by an HTTP fault
 * proxy. Every snapshot must complete, commit exactly once, and verify clean.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { randomName } from '../helpers/engines.js';
import { s3Available, s3Config, toxiproxyAvailable, toxiproxyUrl } from '../helpers/s3.js';

async function toxi(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${toxiproxyUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok && res.status !== 404) throw new Error(`toxiproxy ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json().catch(() => undefined);
}

describe.runIf(s3Available)('s3 under faults', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    await db.exec(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(32), t text);
      INSERT INTO docs SELECT g, array_fill(g::real, ARRAY[32])::vector, 'row ' || g FROM generate_series(1, 4000) g;`);
  });
  afterAll(async () => {
    await db.close();
  });

  /** Snapshot through `endpoint`, then verify and restore through a clean connection. */
  async function snapshotThrough(endpoint: string, prefix: string): Promise<{ uploaded: number; segments: number }> {
    const c = s3Config()!;
    const faulty = new S3Storage({
      endpoint,
      bucket: c.bucket,
      region: c.region,
      credentials: c.credentials,
      prefix,
      maxAttempts: 12,
      baseBackoffMs: 20,
      requestTimeoutMs: 1_500,
      connectionTimeoutMs: 1_000,
    });
    const clean = new S3Storage({ endpoint: c.endpoint, bucket: c.bucket, region: c.region, credentials: c.credentials, prefix });
    const adapter = pgvectorAdapter({ pglite: db });
    try {
      const repo = await openRepository({ storage: faulty, create: true });
      const { manifest, uploadedSegments } = await repo.snapshot(adapter, 'docs', { segmentBytes: 64 * 1024 });
      const check = await openRepository({ storage: clean });
      expect((await check.list()).map((s) => s.id)).toEqual([manifest.id]);
      expect((await check.verify()).ok).toBe(true);
      const target = randomName('faulty_restore');
      await check.restore(adapter, { collection: 'docs', target });
      expect((await check.verifyParity(adapter, { collection: 'docs', live: target })).ok).toBe(true);
      return { uploaded: uploadedSegments, segments: manifest.segments.length };
    } finally {
      for await (const o of clean.list('')) await clean.delete(o.key);
      await faulty.close();
      await clean.close();
    }
  }

  it('503 SlowDown, 500 InternalError and connection resets on one request in three: the snapshot completes and verifies', async () => {
    const c = s3Config()!;
    const proxy = await startFaultProxy(c.endpoint, (_req, n) =>
      n % 3 === 0 ? 'slowdown' : n % 5 === 0 ? 'internal' : n % 7 === 0 ? 'reset' : 'none',
    );
    try {
      const r = await snapshotThrough(proxy.url, randomName('faults'));
      expect(r.segments).toBeGreaterThan(10);
      expect(proxy.injected.slowdown).toBeGreaterThan(5);
      expect(proxy.injected.internal).toBeGreaterThan(2);
      expect(proxy.injected.reset).toBeGreaterThan(1);
    } finally {
      await proxy.close();
    }
  });

  it('a manifest commit whose response is lost is retried, finds its own write, and commits exactly once', async () => {
    const c = s3Config()!;
    let dropped = false;
    const proxy = await startFaultProxy(c.endpoint, (req) => {
      if (!dropped && req.method === 'PUT' && /\/snapshots\/[^/]+\/[0-9A-Z]{26}\.json/.test(req.url ?? '')) {
        dropped = true;
        return 'drop-response';
      }
      return 'none';
    });
    try {
      await snapshotThrough(proxy.url, randomName('lost'));
      expect(proxy.injected['drop-response']).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it.runIf(toxiproxyAvailable)('toxiproxy: resets and stalled connections (timeouts) at the TCP level', async () => {
    const c = s3Config()!;
    const upstream = new URL(c.endpoint);
    const name = randomName('vdr_s3');
    await toxi('DELETE', `/proxies/${name}`);
    // Port 0: toxiproxy picks a free port and answers with it (a fixed port collided with an
    // ephemeral port of another suite's connection: EADDRINUSE).
    const { listen } = (await toxi('POST', '/proxies', {
      name,
      listen: '127.0.0.1:0',
      upstream: `${upstream.hostname}:${upstream.port}`,
      enabled: true,
    })) as { listen: string };
    try {
      await toxi('POST', `/proxies/${name}/toxics`, {
        name: 'reset',
        type: 'reset_peer',
        stream: 'downstream',
        toxicity: 0.25,
        attributes: { timeout: 0 },
      });
      await toxi('POST', `/proxies/${name}/toxics`, {
        name: 'stall',
        type: 'timeout',
        stream: 'downstream',
        toxicity: 0.1,
        attributes: { timeout: 4_000 },
      });
      await toxi('POST', `/proxies/${name}/toxics`, {
        name: 'slow',
        type: 'latency',
        stream: 'downstream',
        toxicity: 1,
        attributes: { latency: 5, jitter: 5 },
      });
      const r = await snapshotThrough(`http://${listen}`, randomName('toxic'));
      expect(r.segments).toBeGreaterThan(10);
    } finally {
      await toxi('DELETE', `/proxies/${name}`);
    }
  });

  it.runIf(toxiproxyAvailable)('toxiproxy: a connection that stalls forever is abandoned after requestTimeoutMs and retried', async () => {
    const c = s3Config()!;
    const upstream = new URL(c.endpoint);
    const name = randomName('vdr_stall');
    const { listen } = (await toxi('POST', '/proxies', {
      name,
      listen: '127.0.0.1:0',
      upstream: `${upstream.hostname}:${upstream.port}`,
      enabled: true,
    })) as { listen: string };
    const storage = new S3Storage({
      endpoint: `http://${listen}`,
      bucket: c.bucket,
      region: c.region,
      credentials: c.credentials,
      prefix: randomName('stall'),
      maxAttempts: 20,
      baseBackoffMs: 20,
      maxBackoffMs: 200,
      requestTimeoutMs: 400,
    });
    try {
      // timeout 0: data stops and the connection is never closed; only a client deadline ends it.
      await toxi('POST', `/proxies/${name}/toxics`, {
        name: 'hang',
        type: 'timeout',
        stream: 'downstream',
        toxicity: 1,
        attributes: { timeout: 0 },
      });
      setTimeout(() => void toxi('DELETE', `/proxies/${name}/toxics/hang`), 1_500);
      const t0 = performance.now();
      await storage.put('obj', Uint8Array.of(1, 2, 3), { ifNoneMatch: '*' });
      const ms = performance.now() - t0;
      expect(ms).toBeGreaterThan(1_000);
      expect(ms).toBeLessThan(6_000);
      expect(Array.from(await storage.get('obj'))).toEqual([1, 2, 3]);
      await storage.delete('obj');
    } finally {
      await storage.close();
      await toxi('DELETE', `/proxies/${name}`);
    }
  });
});
