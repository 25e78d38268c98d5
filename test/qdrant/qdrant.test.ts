/**
 * Qdrant adapter: the shared conformance suite against the Qdrant-compatible test server (every
 * request and response validated against Qdrant's OpenAPI v1.19 document; test/qdrant/), and, when
 * QDRANT_URL is set, the same suite unchanged against a real Qdrant as well (CI: the Qdrant 1.18.3
 * of scripts/qdrant-server.sh; VECTORDR_REQUIRE_ENGINES=qdrant-real makes its absence a failure).
 * Then Qdrant specifics.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgvectorAdapter } from '../../adapters/pgvector/index.js';
import { qdrantAdapter, type QdrantAdapter } from '../../adapters/qdrant/index.js';
import { type CollectionSchema, type VectorField, type VectorRecord, batchFromRecords, describeKind } from '../../src/model.js';
import { openRepository, type Repository } from '../../src/repository/repository.js';
import { memoryStorage } from '../../src/storage/memory-storage.js';
import { testAdapter } from '../conformance/adapter-suite.js';
import { expectMetricRefusals, itRefusesUuidCaseCollision } from '../conformance/shared-cases.js';
import { makeBatch, makeRecords, rng, testSchema } from '../helpers/data.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { expectError } from '../helpers/errors.js';
import { QdrantClient } from '@qdrant/js-client-rest';
import { storedNumber } from './qdrant-json-numbers.js';
import { type QdrantTestServer, startQdrantTestServer } from './qdrant-test-server.js';

const realUrl = process.env.QDRANT_URL;
const rawClient = (url: string): QdrantClient => new QdrantClient({ url, checkCompatibility: false });
const real = engineAvailable('qdrant-real', realUrl !== undefined);

describe('qdrant (test server validating against the OpenAPI v1.19 document)', () => {
  let server: QdrantTestServer;
  testAdapter({
    name: 'qdrant (OpenAPI-validating test server)',
    rows: 1500,
    create: async () => {
      server = await startQdrantTestServer();
      const adapter = qdrantAdapter({ url: server.url });
      return {
        adapter,
        cleanup: async () => {
          const violations = [...server.violations];
          await server.close();
          expect(violations, 'requests or responses outside the OpenAPI schema').toEqual([]);
        },
      };
    },
  });
});

describe.runIf(real)('qdrant (real server at QDRANT_URL)', () => {
  // gRPC explicitly (no REST fallback): the transport a real server gets by default. REST is the
  // test server's suite above, and the same-segments test below on this server.
  testAdapter({
    name: 'qdrant (real server, gRPC)',
    rows: 1500,
    create: async () => {
      const adapter = qdrantAdapter({ url: realUrl as string, apiKey: process.env.QDRANT_API_KEY, transport: 'grpc' });
      return { adapter, cleanup: async () => adapter.close() };
    },
  });

  it('REST and gRPC read the same records: byte-identical segments; a restore over either has parity', async () => {
    const rest = qdrantAdapter({ url: realUrl as string, apiKey: process.env.QDRANT_API_KEY, transport: 'rest', scanPageRows: 64 });
    const grpc = qdrantAdapter({ url: realUrl as string, apiKey: process.env.QDRANT_API_KEY, transport: 'grpc', scanPageRows: 64 });
    const repo = await openRepository({ storage: memoryStorage(), create: true });
    const n = randomName('transports');
    const schema: CollectionSchema = {
      ...testSchema(n, 24),
      payload: [...testSchema(n, 24).payload, { name: 'extra', type: 'json', array: false, nullable: true }],
    };
    const records = makeRecords(300, 24, 7, 9_007_199_254_740_000n).map((r, i) => ({
      ...r,
      payload: { ...r.payload, extra: { list: [i, i / 3, null, 'ü'], deep: { ok: i % 2 === 0 } } },
    }));
    const targets = [randomName('transports_r'), randomName('transports_g')];
    try {
      await grpc.create(schema, { indexes: 'now' });
      await grpc.write(n, makeBatch(schema, records), { mode: 'insert' });
      expect(await rest.count(n)).toBe(300); // the write returned with every point applied
      const viaRest = await repo.snapshot(rest, n);
      const viaGrpc = await repo.snapshot(grpc, n);
      expect(viaGrpc.manifest.segments.map((g) => g.key)).toEqual(viaRest.manifest.segments.map((g) => g.key));
      for (const [k, a] of [rest, grpc].entries()) {
        const target = targets[k] as string;
        await repo.restore(a, { collection: n, snapshot: viaGrpc.manifest.id, target });
        expect((await repo.verifyParity(rest, { collection: n, snapshot: viaGrpc.manifest.id, live: target })).ok).toBe(true);
      }
    } finally {
      for (const c of [n, ...targets]) await rest.drop(c);
      await grpc.close();
    }
  });

  it(
    "stores payload numbers exactly as the test server's model of its parser says (else update " +
      'qdrant-json-numbers.ts and the capability)',
    async () => {
      const headers = {
        'content-type': 'application/json',
        ...(process.env.QDRANT_API_KEY ? { 'api-key': process.env.QDRANT_API_KEY } : {}),
      };
      const call = async (method: string, path: string, body?: string): Promise<string> =>
        (await fetch(`${realUrl as string}${path}`, { method, headers, body })).text();
      const n = randomName('floatmodel');
      await call('PUT', `/collections/${n}`, JSON.stringify({ vectors: { size: 1, distance: 'Dot' } }));
      try {
        const r = rng(13);
        const texts = Array.from({ length: 2000 }, (_, i) => (i % 2 ? String(r()) : String((r() - 0.5) * 10 ** Math.floor(r() * 60 - 30))));
        texts.push('0.48914389545097947', '18446744073709551615', '18446744073709551616', '-0', '1.0');
        await call(
          'PUT',
          `/collections/${n}/points?wait=true`,
          `{"points":[${texts.map((t, i) => `{"id":${i},"vector":[1],"payload":{"x":${t}}}`).join(',')}]}`,
        );
        const text = await call('POST', `/collections/${n}/points/scroll`, JSON.stringify({ limit: texts.length, with_payload: true }));
        const answered = new Map([...text.matchAll(/"id":(\d+),"payload":\{"x":([^}]*)\}/g)].map((m) => [Number(m[1]), m[2]]));
        expect(answered.size).toBe(texts.length);
        const off = texts.filter((t, i) => answered.get(i) !== storedNumber(t).value);
        expect(off).toEqual([]);
        expect(texts.filter((t, i) => Number(answered.get(i)) !== Number(t)).length).toBeGreaterThan(0); // still lossy: payloadFloatExact stays false
      } finally {
        await call('DELETE', `/collections/${n}`);
      }
    },
  );
});

describe('qdrant specifics and bad input (test server)', () => {
  let server: QdrantTestServer;
  let a: QdrantAdapter;
  let repo: Repository;
  const raw = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  beforeAll(async () => {
    server = await startQdrantTestServer();
    a = qdrantAdapter({ url: server.url });
    repo = await openRepository({ storage: memoryStorage(), create: true });
  });
  afterAll(async () => {
    const violations = [...server.violations];
    await server.close();
    expect(violations).toEqual([]);
  });

  it("transport: 'auto' moves points over REST when the gRPC port does not answer; bad transport options are refused", async () => {
    // The test server speaks REST only: every test of this file ran on the REST fallback. An explicit
    // 'grpc' with a caller's client and no grpcUrl cannot work, and an unknown transport is a typo.
    await expectError(
      Promise.resolve().then(() => qdrantAdapter({ client: rawClient(server.url), transport: 'grpc' })),
      'INVALID_OPTIONS',
    );
    await expectError(
      Promise.resolve().then(() => qdrantAdapter({ url: server.url, transport: 'http3' as 'grpc' })),
      'INVALID_OPTIONS',
    );
    const n = randomName('fallback');
    const schema = testSchema(n);
    const auto = qdrantAdapter({ url: server.url, grpcUrl: 'http://127.0.0.1:1' });
    await auto.create(schema, { indexes: 'now' });
    await auto.write(n, makeBatch(schema, makeRecords(3)), { mode: 'insert' });
    expect(await auto.count(n)).toBe(3);
  });

  it('int64 ids above 2^53 and negative ids become UUIDv5 points with the original kept; small ones stay integers', async () => {
    const n = randomName('ids');
    const schema = testSchema(n);
    await a.create(schema, { indexes: 'now' });
    const records = [...makeRecords(2, 16, 1, 5n), ...makeRecords(1, 16, 2, 9_007_199_254_740_993n), ...makeRecords(1, 16, 3, -7n)];
    await a.write(n, makeBatch(schema, records), { mode: 'insert' });
    const scroll = await raw('POST', `/collections/${n}/points/scroll`, { limit: 10, with_payload: true });
    const points = (scroll.json.result as { points: { id: number | string; payload: Record<string, unknown> }[] }).points;
    expect(points.filter((p) => typeof p.id === 'number').map((p) => p.id)).toEqual([5, 6]);
    expect(
      points
        .filter((p) => typeof p.id === 'string')
        .map((p) => p.payload.vdr_id)
        .sort(),
    ).toEqual(['-7', '9007199254740993']);
    expect((await a.fetch(n, [9_007_199_254_740_993n, -7n])).map((r) => r.id)).toEqual([9_007_199_254_740_993n, -7n]);
  });

  it('a collection created outside vectordr: integer, UUID and mixed ids, the whole payload as one json field, restored faithfully', async () => {
    for (const [kind, ids] of [
      ['int64', [1, 2, 3]],
      ['uuid', ['6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c', '7f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c']],
      ['string', [10, '8f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c']],
    ] as const) {
      const n = randomName('native');
      expect((await raw('PUT', `/collections/${n}`, { vectors: { size: 3, distance: 'Dot' } })).status).toBe(200);
      const points = ids.map((id, i) => ({ id, vector: [i, 1, 2], payload: { city: `c${i}`, tags: ['a'], nested: { k: i } } }));
      expect((await raw('PUT', `/collections/${n}/points?wait=true`, { points })).status).toBe(200);
      const d = await a.describe(n);
      expect([d.idType, d.vectors[0]?.name, d.vectors[0]?.metric, d.payload.map((p) => p.name)]).toEqual([
        kind,
        'vector',
        'dot',
        ['payload'],
      ]);
      const { manifest } = await repo.snapshot(a, n);
      const target = randomName('native_r');
      await repo.restore(a, { collection: n, snapshot: manifest.id, target });
      expect((await repo.verifyParity(a, { collection: n, snapshot: manifest.id, live: target })).ok).toBe(true);
      const back = await a.fetch(target, [kind === 'int64' ? 2n : String(ids[1])]);
      expect(back[0]?.payload).toEqual({ payload: { city: 'c1', tags: ['a'], nested: { k: 1 } } });
    }
  });

  it('describes sparse vectors, multivectors and float16/uint8 datatypes as their kinds; writes and reads them back', async () => {
    const n = randomName('kinds');
    const body = {
      vectors: {
        d: { size: 2, distance: 'Cosine' },
        h: { size: 2, distance: 'Dot', datatype: 'float16' },
        u: { size: 2, distance: 'Euclid', datatype: 'uint8' },
        m: { size: 2, distance: 'Dot', multivector_config: { comparator: 'max_sim' } },
      },
      sparse_vectors: { text: { modifier: 'idf' } },
    };
    expect((await raw('PUT', `/collections/${n}`, body)).status).toBe(200);
    const schema = await a.describe(n);
    expect(schema.vectors.map((v) => `${v.name} ${describeKind(v)}${v.modifier ? ` ${v.modifier}` : ''}`)).toEqual([
      'd float32',
      'h float16',
      'u uint8',
      'm multi',
      'text sparse idf',
    ]);
    const id = '6f1e0b36-1c4f-4b8e-9d1a-0c3f3b1a2b4c'; // an empty collection of others: uuid ids
    const rec: VectorRecord = {
      id,
      vectors: {
        d: Float32Array.of(0.6, 0.8),
        h: { kind: 'dense', element: 'float16', data: Uint16Array.of(0x3c00, 0xc000) },
        u: { kind: 'dense', element: 'uint8', data: Uint8Array.of(7, 255) },
        m: { kind: 'multi', dims: 2, data: Float32Array.of(0.5, 1.5, -2, 3, 1, 1) },
        text: { kind: 'sparse', indices: Uint32Array.of(3, 17), values: Float32Array.of(0.25, 2) },
      },
      payload: {},
    };
    await a.write(n, batchFromRecords(schema, [rec]), { mode: 'upsert' });
    expect((await a.fetch(n, [id]))[0]?.vectors).toEqual(rec.vectors);
    const int8 = { ...testSchema(randomName('int8'), 4) };
    int8.vectors = [{ ...(int8.vectors[0] as VectorField), element: 'int8' }];
    await expectError(a.create(int8, { indexes: 'now' }), 'UNSUPPORTED_OPERATION');
  });

  it('refuses a metric Qdrant lacks (with the choices) and an unspecified one unless named', async () => {
    await expectMetricRefusals(a, [randomName('ham'), randomName('nom')], 'hamming', 'Cosine, Euclid, Dot, Manhattan');
  });

  it('cosine vectors come back normalised; parity compares them after normalisation and still catches a changed one', async () => {
    const n = randomName('cos');
    const schema = testSchema(n);
    const records = makeRecords(50);
    await a.create(schema, { indexes: 'now' });
    await a.write(n, makeBatch(schema, records), { mode: 'insert' });
    const [got] = await a.fetch(n, [records[0]?.id as bigint]);
    const v = got?.vectors.embedding as Float32Array;
    expect(Math.abs(Math.hypot(...v) - 1)).toBeLessThan(1e-6);
    // A snapshot of raw vectors (taken elsewhere) against the normalised collection.
    const { manifest } = await repo.snapshot(a, n);
    const p = await repo.verifyParity(a, { collection: n, snapshot: manifest.id });
    expect(p.ok).toBe(true);
    expect(p.vectors.mode).toBe('normalized');
    const r3 = records[3] as VectorRecord;
    await a.write(
      n,
      makeBatch(schema, [{ ...r3, vectors: { embedding: (r3.vectors.embedding as Float32Array).map((x, i) => (i === 1 ? x + 0.5 : x)) } }]),
      { mode: 'upsert' },
    );
    const p2 = await repo.verifyParity(a, { collection: n, snapshot: manifest.id });
    expect(p2.ok).toBe(false);
    expect(p2.changed).toEqual([r3.id]);
  });

  it(
    'payload floats Qdrant cannot hold exactly: parity passes them within the declared ulps ' +
      'and names every altered record; exact mode and a real change fail it',
    async () => {
      expect(a.capabilities.payloadFloatExact).toBe(false);
      const db = await PGlite.create({ extensions: { vector } });
      try {
        await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
        const pgv = pgvectorAdapter({ pglite: db });
        const n = randomName('floats');
        const schema = testSchema(n);
        const records = makeRecords(200, 16, 11);
        (records[0] as VectorRecord).payload.score = 0.48914389545097947; // Qdrant 1.18.3 answers 0.4891438954509794
        await pgv.create(schema, { indexes: 'now' });
        await pgv.write(n, makeBatch(schema, records), { mode: 'insert' });
        const { manifest } = await repo.snapshot(pgv, n);
        const target = randomName('floats_q');
        await repo.restore(a, { collection: n, snapshot: manifest.id, target });
        expect((await a.fetch(target, [records[0]?.id as bigint]))[0]?.payload.score).toBe(0.4891438954509794);

        const p = await repo.verifyParity(a, { collection: n, snapshot: manifest.id, live: target });
        expect(p.ok, `changed ${p.changed.length}, buckets ${p.mismatchedBuckets.length}`).toBe(true);
        expect(p.payloadFloats).toMatchObject({ mode: 'ulps', toleranceUlps: 16 });
        expect(p.payloadFloats.altered).toBeGreaterThan(0);
        expect(p.payloadFloats.ids).toContain(records[0]?.id);
        expect(p.payloadFloats.maxUlps).toBeGreaterThan(0);
        expect(p.payloadFloats.maxUlps).toBeLessThanOrEqual(16);
        expect(p.changed).toEqual([]);

        const strict = await repo.verifyParity(a, { collection: n, snapshot: manifest.id, live: target, payloadFloats: 'exact' });
        expect(strict.ok).toBe(false);
        expect(strict.changed).toContain(records[0]?.id);

        // A float changed by more than rounding is a change, whatever the mode.
        const r5 = records[5] as VectorRecord;
        await a.write(
          target,
          makeBatch(schema, [{ ...r5, payload: { ...r5.payload, score: (r5.payload.score as number) * (1 + 1e-9) } }]),
          { mode: 'upsert' },
        );
        const p2 = await repo.verifyParity(a, { collection: n, snapshot: manifest.id, live: target });
        expect(p2.ok).toBe(false);
        expect(p2.changed).toEqual([r5.id]);
      } finally {
        await db.close();
      }
    },
  );

  it(
    'an index kind Qdrant lacks (a pgvector ivfflat) is listed in the restore result as ' +
      'converted to HNSW, and Qdrant settings as dropped on the way back',
    async () => {
      const db = await PGlite.create({ extensions: { vector } });
      try {
        await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
        const pgv = pgvectorAdapter({ pglite: db });
        const n = randomName('ivf');
        const schema: CollectionSchema = {
          ...testSchema(n),
          indexes: [{ kind: 'ivfflat', field: 'embedding', metric: 'cosine', params: { lists: 4 } }],
        };
        await pgv.create(schema, { indexes: 'now' });
        await pgv.write(n, makeBatch(schema, makeRecords(50, 16, 3)), { mode: 'insert' });
        const { manifest } = await repo.snapshot(pgv, n);
        expect(manifest.schema.indexes.map((i) => i.kind)).toEqual(['ivfflat']);
        const r = await repo.restore(a, { collection: n, snapshot: manifest.id, target: randomName('ivf_q') });
        expect(r.notCarriedOver).toEqual([
          { what: 'index', name: 'ivfflat index on "embedding"', reason: expect.stringMatching(/became HNSW/), action: 'converted' },
        ]);
        // And back: Qdrant's collection settings have no pgvector equivalent; each is listed as dropped.
        const q = r.target;
        const { manifest: back } = await repo.snapshot(a, q);
        const settings = Object.keys(back.schema.native ?? {});
        expect(settings).toContain('hnsw_config');
        const r2 = await repo.restore(pgv, { collection: q, snapshot: back.id, target: randomName('ivf_back') });
        expect(r2.notCarriedOver.filter((n) => n.what === 'setting')).toEqual(
          settings.map((name) => ({
            what: 'setting',
            name,
            reason: expect.stringMatching(/qdrant collection setting/),
            action: 'dropped',
          })),
        );
      } finally {
        await db.close();
      }
    },
  );

  itRefusesUuidCaseCollision('point', () => ({ adapter: a, collection: randomName('collide') }));

  it(
    'an integer point id above 2^53 written by another client is read exactly where the client ' +
      'can (Node 22+), and refused with a clear error where it cannot (Node 20)',
    async () => {
      const n = randomName('bigpoint');
      expect((await raw('PUT', `/collections/${n}`, { vectors: { size: 2, distance: 'Dot' } })).status).toBe(200);
      // Raw JSON text: the id must not pass through a JS number on the way in.
      const res = await fetch(`${server.url}/collections/${n}/points?wait=true`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"points":[{"id":9007199254740993,"vector":[1,2],"payload":{}}]}',
      });
      expect(res.status).toBe(200);
      if ('rawJSON' in JSON) {
        const { manifest } = await repo.snapshot(a, n);
        const target = randomName('bigpoint_r');
        await repo.restore(a, { collection: n, snapshot: manifest.id, target });
        expect((await a.fetch(target, [9_007_199_254_740_993n]))[0]?.id).toBe(9_007_199_254_740_993n);
      } else {
        const err = await expectError(repo.snapshot(a, n), 'ENGINE_ERROR');
        expect(err.message).toContain('Node 22');
      }
    },
  );

  it('probe reports the version; an unreachable endpoint is reported, not thrown', async () => {
    const p = await a.probe();
    expect(p).toMatchObject({ reachable: true, role: 'primary', engineVersion: '1.19.0' });
    const dead = await qdrantAdapter({ url: 'http://127.0.0.1:9', timeoutMs: 2000 }).probe();
    expect(dead.reachable).toBe(false);
  });

  it('a missing collection is COLLECTION_NOT_FOUND', async () => {
    const missing = randomName('nope');
    await expectError(a.describe(missing), 'COLLECTION_NOT_FOUND');
    await expectError(a.count(missing), 'COLLECTION_NOT_FOUND');
    expect(await a.exists(missing)).toBe(false);
  });
});
