import { randomUUID } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenApiValidator } from './openapi-validator.js';
import { startQdrantTestServer, type QdrantTestServer } from './qdrant-test-server.js';

let server: QdrantTestServer;
let client: QdrantClient;

beforeAll(async () => {
  server = await startQdrantTestServer();
  client = new QdrantClient({ url: server.url });
});

afterAll(async () => {
  await server?.close();
});

const unique = (prefix: string) => `${prefix}_${randomUUID().slice(0, 8)}`;

/** A new collection of one unnamed vector, under a fresh name with `prefix`; its name. */
async function collection(prefix: string, size: number, distance: 'Cosine' | 'Dot' | 'Euclid'): Promise<string> {
  const name = unique(prefix);
  await client.createCollection(name, { vectors: { size, distance } });
  return name;
}

async function raw(method: string, path: string, body?: string, base = server.url, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}

/** Runs `fn`, expecting it to add exactly `count` violations, and removes them again. */
async function expectViolations(count: number, fn: () => Promise<void>): Promise<string[]> {
  const before = server.violations.length;
  await fn();
  const added = server.violations.splice(before);
  expect(added).toHaveLength(count);
  return added;
}

describe('OpenAPI validator', () => {
  const openapi = OpenApiValidator.fromFile(new URL('./openapi-v1.19.json', import.meta.url));
  const scroll = openapi.match('POST', '/collections/c/points/scroll')!.operation;

  it('routes literal segments before parameters', () => {
    expect(openapi.match('POST', '/collections/aliases')?.operation.id).toBe('update_aliases');
    expect(openapi.match('GET', '/collections/a%2Fb')).toMatchObject({
      operation: { id: 'get_collection' },
      pathParams: { collection_name: 'a/b' },
    });
    expect(openapi.match('POST', '/collections/c/points/search')).toBeUndefined();
  });

  it('honours OpenAPI nullable, typed and in the anyOf [{$ref}, {nullable}] pattern', () => {
    expect(openapi.validateBody(scroll, { limit: null, offset: null, filter: null })).toBeUndefined();
    expect(openapi.validateBody(scroll, { limit: 0 })).toMatch(/\/limit must be >= 1/);
    expect(openapi.validateBody(scroll, { filter: { must: [], extra: 1 } })).toMatch(/additional properties \(extra\)/);
  });

  it('checks the numeric formats and accepts every uuid form Qdrant parses', () => {
    expect(openapi.validateBody(scroll, { offset: '550E8400E29B41D4A716446655440000' })).toBeUndefined();
    expect(openapi.validateBody(scroll, { offset: '{550e8400-e29b-41d4-a716-446655440000}' })).toBeUndefined();
    expect(openapi.validateBody(scroll, { offset: 'not-a-uuid' })).toBeDefined();
    const upsert = openapi.match('PUT', '/collections/c/points')!.operation;
    expect(openapi.validateBody(upsert, { points: [{ id: 1, vector: [1e39] }] })).toMatch(/format "float"/);
    expect(openapi.validateBody(upsert, { points: [{ id: 1.5, vector: [1] }] })).toBeDefined();
  });

  it('catches a response that does not match the document', () => {
    expect(
      openapi.validateResponse(scroll, 200, { result: { points: [], next_page_offset: null }, status: 'ok', time: 0 }),
    ).toBeUndefined();
    expect(openapi.validateResponse(scroll, 200, { result: { points: [{ id: -1 }] }, status: 'ok', time: 0 })).toMatch(
      /\/result\/points\/0\/id/,
    );
    expect(openapi.validateResponse(scroll, 404, { status: { error: 'x' }, time: 0 })).toBeUndefined();
    expect(openapi.validateResponse(scroll, 404, { status: { error: 1 } })).toBeDefined();
    const root = openapi.match('GET', '/')!.operation;
    expect(
      openapi.validateResponse(root, 200, { title: 'qdrant - vector search engine', version: '1.19.0', commit: null }),
    ).toBeUndefined();
    expect(openapi.validateResponse(root, 200, { version: '1.19.0' })).toMatch(/title/);
  });

  it('coerces query parameters per their schema', () => {
    const upsert = openapi.match('PUT', '/collections/c/points')!.operation;
    expect(openapi.validateParams(upsert, 'query', { wait: 'true', timeout: '5' })).toEqual({
      ok: true,
      values: { wait: true, timeout: 5 },
    });
    expect(openapi.validateParams(upsert, 'query', { wait: '1' })).toMatchObject({ ok: false });
  });
});

describe('Qdrant test server: validation', () => {
  it('refuses a schema-invalid request with 400 in Qdrant shape and records it', async () => {
    const name = await collection('invalid', 2, 'Dot');
    const added = await expectViolations(1, async () => {
      const res = await raw('PUT', `/collections/${name}/points?wait=true`, '{"points":[{"id":-1,"vector":[1,2]}]}');
      expect(res.status).toBe(400);
      const body = JSON.parse(res.text) as { status: { error: string }; time: number };
      expect(body.status.error).toMatch(/^Format error in JSON body: .*\/points\/0\/id/);
      expect(typeof body.time).toBe('number');
    });
    expect(added[0]).toMatch(/^PUT \/collections\/.+\/points: Format error in JSON body/);

    await expectViolations(1, async () => {
      const res = await raw('PUT', `/collections/${name}/points?wait=yes`, '{"points":[]}');
      expect(res.status).toBe(400);
    });
    await expectViolations(1, async () => {
      // The legacy search endpoint is gone from the 1.19 document.
      const res = await raw('POST', `/collections/${name}/points/search`, '{"vector":[1,2],"limit":1}');
      expect(res.status).toBe(404);
    });
    await expectViolations(1, async () => {
      // 2^64 passes a float64 schema check but not serde's u64.
      const res = await raw('PUT', `/collections/${name}/points?wait=true`, '{"points":[{"id":18446744073709551616,"vector":[1,2]}]}');
      expect(res.status).toBe(400);
    });
    await expectViolations(1, async () => {
      const res = await raw('POST', `/collections/${name}/points/scroll`, '{"limit":1', server.url);
      expect(res.status).toBe(400);
    });
    await expectViolations(1, async () => {
      // Qdrant's JSON extractor refuses a body without `Content-Type: application/json`.
      const res = await fetch(`${server.url}/collections/${name}/points/scroll`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(400);
    });
  });

  it('refuses valid but unemulated input loudly, without a violation', async () => {
    const name = await collection('unsupported', 2, 'Dot');
    const res = await raw(
      'POST',
      `/collections/${name}/points/scroll`,
      JSON.stringify({ filter: { must: [{ key: 'a', match: { text: 'x' } }] } }),
    );
    expect(res.status).toBe(400);
    expect(res.text).toContain('not implemented by the vectordr Qdrant test server');
    expect(server.violations).toEqual([]);
  });
});

describe('Qdrant test server: behaviour through the official client', () => {
  it('serves collections, points, queries, indexes and aliases', async () => {
    const name = unique('docs');
    expect(await client.collectionExists(name)).toEqual({ exists: false });
    // js-client-rest 1.18's createCollection() drops `metadata` (it forwards a fixed list of
    // fields); the generated low-level API sends the whole body.
    const created = await client
      .api()
      .createCollection({ collection_name: name, vectors: { size: 4, distance: 'Cosine' }, metadata: { owner: 'dr', stage: 'x' } });
    expect(created.data.result).toBe(true);
    expect((await client.getCollections()).collections).toContainEqual({ name });

    const upsert = await client.upsert(name, {
      wait: true,
      points: [
        { id: 1, vector: [1, 0, 0, 0], payload: { city: 'Berlin', n: 1 } },
        { id: 2, vector: [0, 1, 0, 0], payload: { city: ['Berlin', 'London'], n: 2 } },
        { id: 3, vector: [0, 0, 1, 0], payload: { city: 'Moscow', n: 3 } },
        { id: '6f1c7f3e-0000-4000-8000-000000000001', vector: [1, 1, 0, 0], payload: { city: 'London' } },
      ],
    });
    expect(upsert).toEqual({ operation_id: 0, status: 'completed' });

    const info = await client.getCollection(name);
    expect(info.points_count).toBe(4);
    expect(info.config.hnsw_config).toMatchObject({ m: 16, ef_construct: 100, full_scan_threshold: 10000 });
    expect(info.config.params.vectors).toEqual({ size: 4, distance: 'Cosine' });
    expect(info.config.metadata).toEqual({ owner: 'dr', stage: 'x' });

    await client.createPayloadIndex(name, { field_name: 'city', field_schema: 'keyword', wait: true });
    await client.createPayloadIndex(name, { field_name: 'n', field_schema: { type: 'integer', lookup: true, range: true }, wait: true });
    const indexed = await client.getCollection(name);
    expect(indexed.payload_schema.city).toEqual({ data_type: 'keyword', points: 4 });
    expect(indexed.payload_schema.n).toMatchObject({ data_type: 'integer', points: 3 });
    await client.deletePayloadIndex(name, 'n', { wait: true });
    expect(Object.keys((await client.getCollection(name)).payload_schema)).toEqual(['city']);

    // Metadata merges; null removes a key.
    await client.updateCollection(name, { metadata: { stage: null, restored: true } });
    expect((await client.getCollection(name)).config.metadata).toEqual({ owner: 'dr', restored: true });

    const scroll = await client.scroll(name, { limit: 10, with_payload: true, with_vector: false });
    expect(scroll.points.map((p) => p.id)).toEqual([1, 2, 3, '6f1c7f3e-0000-4000-8000-000000000001']);
    expect(scroll.points[0]).toEqual({ id: 1, payload: { city: 'Berlin', n: 1 } });
    expect(scroll.next_page_offset).toBeNull();

    const london = { must: [{ key: 'city', match: { value: 'London' } }] };
    expect((await client.count(name, { filter: london, exact: true })).count).toBe(2);
    expect((await client.count(name, { filter: { must_not: [{ has_id: [1, 2] }] } })).count).toBe(2);
    expect((await client.count(name, { filter: { should: [{ key: 'n', match: { any: [1, 3] } }] } })).count).toBe(2);
    expect((await client.count(name, { filter: { must: [{ key: 'n', range: { gte: 2 } }] } })).count).toBe(2);

    const records = await client.retrieve(name, { ids: [3, 99, 1], with_payload: ['city'], with_vector: true });
    expect(records.map((r) => r.id)).toEqual([3, 1]);
    expect(records[0]).toEqual({ id: 3, payload: { city: 'Moscow' }, vector: [0, 0, 1, 0] });

    const query = await client.query(name, { query: [1, 0.5, 0, 0], limit: 2, with_payload: true });
    expect(query.points.map((p) => p.id)).toEqual(['6f1c7f3e-0000-4000-8000-000000000001', 1]);
    expect(query.points[0]!.score).toBeCloseTo(0.9486833, 6);
    expect(query.points[0]!.version).toBe(0);
    const filtered = await client.query(name, { query: { nearest: [1, 0.5, 0, 0] }, filter: london, score_threshold: 0.5 });
    expect(filtered.points.map((p) => p.id)).toEqual(['6f1c7f3e-0000-4000-8000-000000000001']);
    expect(filtered.points[0]!.payload).toBeUndefined();

    expect(await client.delete(name, { wait: true, points: [3] })).toMatchObject({ status: 'completed' });
    expect(await client.delete(name, { wait: true, filter: london })).toMatchObject({ status: 'completed' });
    expect((await client.count(name)).count).toBe(1);

    const alias = unique('alias');
    expect(await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: name, alias_name: alias } }] })).toBe(true);
    expect((await client.getCollectionAliases(name)).aliases).toEqual([{ alias_name: alias, collection_name: name }]);
    expect((await client.getAliases()).aliases).toContainEqual({ alias_name: alias, collection_name: name });
    expect((await client.count(alias)).count).toBe(1);

    expect(await client.deleteCollection(name)).toBe(true);
    expect(await client.deleteCollection(name)).toBe(false);
    expect((await client.getAliases()).aliases.filter((a) => a.alias_name === alias)).toEqual([]);
  });

  it('pages a scroll in Qdrant id order over mixed integer and uuid ids', async () => {
    const name = await collection('paging', 2, 'Dot');
    const uuids = [
      'ffffffff-0000-4000-8000-000000000000',
      '00000000-0000-4000-8000-00000000000a',
      '7fffffff-0000-4000-8000-000000000000',
      '0000000a-0000-4000-8000-000000000000',
    ];
    const ints = [1000000, 0, 42, 7, 9, 10];
    const ids: (number | string)[] = [uuids[0]!, 42, uuids[1]!, 1000000, 0, uuids[2]!, 7, 9, uuids[3]!, 10];
    await client.upsert(name, { wait: true, points: ids.map((id) => ({ id, vector: [1, 2] })) });

    const expected = [...ints.sort((a, b) => a - b), ...[...uuids].sort()];
    const seen: (number | string)[] = [];
    let offset: number | string | null | undefined = undefined;
    const offsets: (number | string | null | undefined)[] = [];
    do {
      const page: Awaited<ReturnType<typeof client.scroll>> = await client.scroll(name, { limit: 3, offset: offset ?? undefined });
      expect(page.points.length).toBeLessThanOrEqual(3);
      seen.push(...page.points.map((p) => p.id));
      offset = page.next_page_offset as number | string | null | undefined;
      offsets.push(offset);
    } while (offset !== null && offset !== undefined);
    expect(seen).toEqual(expected);
    expect(offsets).toEqual([expected[3], expected[6], expected[9], null]);

    // An offset is inclusive and need not exist.
    const from8 = await client.scroll(name, { limit: 2, offset: 8 });
    expect(from8.points.map((p) => p.id)).toEqual([9, 10]);
  });

  it('round-trips the largest u64 id exactly', async () => {
    const name = await collection('u64', 2, 'Dot');
    const max = '18446744073709551615';
    const put = await raw(
      'PUT',
      `/collections/${name}/points?wait=true`,
      `{"points":[{"id":${max},"vector":[1,2],"payload":{"big":123456789012345678901}}]}`,
    );
    expect(put.status).toBe(200);
    const scroll = await raw('POST', `/collections/${name}/points/scroll`, '{}');
    // An integer beyond u64 is a float to Qdrant (serde_json), and printed as one.
    expect(scroll.text).toContain(`{"id":${max},"payload":{"big":1.2345678901234568e+20}}`);
    expect(scroll.text).toContain('"next_page_offset":null');
    const get = await raw('GET', `/collections/${name}/points/${max}`);
    expect(get.text).toContain(`"id":${max}`);
    const retrieve = await raw('POST', `/collections/${name}/points`, `{"ids":[${max}]}`);
    expect(retrieve.text).toContain(`"id":${max}`);
    const byOffset = await raw('POST', `/collections/${name}/points/scroll`, `{"offset":${max}}`);
    expect(byOffset.text).toContain(`"id":${max}`);
    const deleted = await raw('POST', `/collections/${name}/points/delete?wait=true`, `{"points":[${max}]}`);
    expect(deleted.status).toBe(200);
    expect((await client.count(name)).count).toBe(0);
  });

  it('stores float payload numbers as lossily as Qdrant 1.18.3 does, and prints them as it does', async () => {
    // Sent text -> what the real Qdrant 1.18.3 answered (scripts/qdrant-server.sh), byte for byte.
    const measured: [string, string][] = [
      ['0.48914389545097947', '0.4891438954509794'],
      ['234.30505622156406', '234.3050562215641'],
      ['942.5978835559961', '942.597883555996'],
      ['-3.9593266893687787e-126', '-3.959326689368778e-126'],
      ['-1.1189045653681883e-18', '-1.1189045653681885e-18'],
      ['1.0806970130912023e+154', '1.0806970130912024e+154'],
      ['3.1463068736879e300', '3.1463068736879005e+300'],
      ['5.024849396e295', '5.024849396000001e+295'],
      ['-45332.07408245403465523484473e33', '-4.533207408245404e+37'],
      ['-0', '-0.0'],
      ['1.0', '1.0'],
      ['1e16', '1e+16'],
      ['5e-324', '5e-324'],
      ['18446744073709551615', '18446744073709551615'],
      ['18446744073709551616', '1.8446744073709552e+19'],
      ['-9223372036854775809', '-9.223372036854776e+18'],
    ];
    const name = await collection('floats', 1, 'Dot');
    const points = measured.map(([text], i) => `{"id":${i},"vector":[1],"payload":{"x":${text},"in":[{"y":${text}}]}}`);
    expect((await raw('PUT', `/collections/${name}/points?wait=true`, `{"points":[${points.join(',')}]}`)).status).toBe(200);
    const scroll = await raw('POST', `/collections/${name}/points/scroll`, '{"limit":100}');
    measured.forEach(([, answered], i) =>
      expect(scroll.text).toContain(`{"id":${i},"payload":{"x":${answered},"in":[{"y":${answered}}]}}`),
    );
    // Out of f64 range: refused, as serde_json refuses it.
    await expectViolations(1, async () => {
      const put = await raw('PUT', `/collections/${name}/points?wait=true`, '{"points":[{"id":99,"vector":[1],"payload":{"x":1e400}}]}');
      expect([put.status, put.text]).toEqual([400, expect.stringContaining('number out of range')]);
    });
  });

  it('answers uuids lower-case hyphenated whatever form they were sent in', async () => {
    const name = await collection('uuid', 2, 'Dot');
    await raw('PUT', `/collections/${name}/points?wait=true`, '{"points":[{"id":"550E8400E29B41D4A716446655440000","vector":[1,2]}]}');
    const [record] = await client.retrieve(name, { ids: ['{550e8400-e29b-41d4-a716-446655440000}'] });
    expect(record?.id).toBe('550e8400-e29b-41d4-a716-446655440000');
  });

  it('normalises Cosine vectors on write in float32, and leaves Dot and Euclid alone', async () => {
    const cosine = await collection('cos', 3, 'Cosine');
    const dot = await collection('dot', 3, 'Dot');
    const euclid = await collection('euclid', 3, 'Euclid');
    for (const name of [cosine, dot, euclid]) {
      await client.upsert(name, {
        wait: true,
        points: [
          { id: 1, vector: [3, 4, 0.1] },
          { id: 2, vector: [0, 0, 0] },
        ],
      });
    }
    const vector = async (name: string, id: number) =>
      (await client.retrieve(name, { ids: [id], with_vector: true }))[0]!.vector as number[];

    // f32: sum of squares, sqrt, then each component divided, each step rounded to float32.
    const f = Math.fround;
    const norm = f(Math.sqrt(f(f(f(9) + f(16)) + f(f(0.1) * f(0.1)))));
    const expected = [f(3 / norm), f(4 / norm), f(f(0.1) / norm)];
    const stored = await vector(cosine, 1);
    expect(stored.map(f)).toEqual(expected);
    // Written as the shortest float32 decimal, as Qdrant does: "0.1", not 0.10000000149011612.
    expect(await vector(dot, 1)).toEqual([3, 4, 0.1]);
    expect(await vector(euclid, 1)).toEqual([3, 4, 0.1]);
    expect(await vector(cosine, 2)).toEqual([0, 0, 0]);

    // Normalising again is stable: restoring a snapshot of normalised vectors changes nothing.
    await client.upsert(cosine, { wait: true, points: [{ id: 3, vector: stored }] });
    expect(await vector(cosine, 3)).toEqual(stored);

    // Euclid reports the L2 distance, best (smallest) first.
    const near = await client.query(euclid, { query: [3, 4, 0], limit: 2 });
    expect(near.points.map((p) => p.id)).toEqual([1, 2]);
    expect(near.points.map((p) => f(p.score))).toEqual([f(Math.sqrt(f(f(0.1) * f(0.1)))), 5]);
    const dotQuery = await client.query(dot, { query: [1, 1, 1], limit: 2 });
    expect(dotQuery.points.map((p) => p.id)).toEqual([1, 2]);
  });

  it('acknowledges wait=false and applies it later, in order', async () => {
    const slow = await startQdrantTestServer({ asyncApplyDelayMs: 400 });
    try {
      const c = new QdrantClient({ url: slow.url, checkCompatibility: false });
      await c.createCollection('late', { vectors: { size: 2, distance: 'Dot' } });
      const ack = await c.upsert('late', { wait: false, points: [{ id: 1, vector: [1, 2] }] });
      expect(ack).toEqual({ operation_id: 0, status: 'acknowledged' });
      expect((await c.count('late')).count).toBe(0);
      const deadline = Date.now() + 5000;
      while ((await c.count('late')).count === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await c.count('late')).count).toBe(1);

      // A waited write first applies everything acknowledged before it.
      await c.upsert('late', { wait: false, points: [{ id: 2, vector: [1, 2] }] });
      await c.delete('late', { wait: true, points: [1] });
      expect((await c.scroll('late')).points.map((p) => p.id)).toEqual([2]);
      expect(slow.violations).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('swaps an alias atomically, and applies no action of a failing batch', async () => {
    const blue = await collection('blue', 2, 'Dot');
    const green = await collection('green', 2, 'Dot');
    const alias = unique('prod');
    await client.upsert(green, { wait: true, points: [{ id: 1, vector: [1, 2] }] });
    await client.updateCollectionAliases({ actions: [{ create_alias: { collection_name: blue, alias_name: alias } }] });
    expect((await client.count(alias)).count).toBe(0);

    await client.updateCollectionAliases({
      actions: [{ delete_alias: { alias_name: alias } }, { create_alias: { collection_name: green, alias_name: alias } }],
    });
    expect((await client.count(alias)).count).toBe(1);

    const failing = await raw(
      'POST',
      '/collections/aliases',
      JSON.stringify({
        actions: [{ delete_alias: { alias_name: alias } }, { create_alias: { collection_name: 'missing_collection', alias_name: alias } }],
      }),
    );
    expect(failing.status).toBe(404);
    expect(JSON.parse(failing.text)).toMatchObject({ status: { error: "Not found: Collection `missing_collection` doesn't exist!" } });
    expect((await client.getCollectionAliases(green)).aliases).toEqual([{ alias_name: alias, collection_name: green }]);

    await client.updateCollectionAliases({ actions: [{ rename_alias: { old_alias_name: alias, new_alias_name: `${alias}_2` } }] });
    expect((await client.count(`${alias}_2`)).count).toBe(1);
  });

  it('answers errors like Qdrant does', async () => {
    const name = await collection('errors', 4, 'Dot');

    const dim = await raw('PUT', `/collections/${name}/points?wait=true`, '{"points":[{"id":1,"vector":[1,2,3]}]}');
    expect(dim.status).toBe(400);
    expect(JSON.parse(dim.text)).toEqual({
      status: { error: 'Wrong input: Vector dimension error: expected dim: 4, got 3' },
      time: expect.any(Number),
    });

    const named = await raw('PUT', `/collections/${name}/points?wait=true`, '{"points":[{"id":1,"vector":{"x":[1,2,3,4]}}]}');
    expect(JSON.parse(named.text)).toMatchObject({ status: { error: 'Wrong input: Not existing vector name error: x' } });

    const missing = await raw('POST', '/collections/nope/points/scroll', '{}');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toEqual({
      status: { error: "Not found: Collection `nope` doesn't exist!" },
      time: expect.any(Number),
    });

    const twice = await raw('PUT', `/collections/${name}`, '{"vectors":{"size":4,"distance":"Dot"}}');
    expect(twice.status).toBe(409);
    expect(JSON.parse(twice.text)).toMatchObject({ status: { error: `Wrong input: Collection \`${name}\` already exists!` } });

    const point = await raw('GET', `/collections/${name}/points/42`);
    expect(point.status).toBe(404);
    expect(JSON.parse(point.text)).toMatchObject({ status: { error: 'Not found: No point with id 42 found' } });

    await expect(client.getCollection('nope')).rejects.toThrow();
    expect(server.violations).toEqual([]);
  });

  it('keeps named dense and sparse vectors apart', async () => {
    const name = unique('named');
    await client.createCollection(name, { vectors: { text: { size: 2, distance: 'Cosine' } }, sparse_vectors: { bm25: {} } });
    await client.upsert(name, {
      wait: true,
      points: [
        { id: 1, vector: { text: [1, 0], bm25: { indices: [7, 3], values: [0.5, 1] } } },
        { id: 2, vector: { text: [0, 1] } },
      ],
    });
    const [p1] = await client.retrieve(name, { ids: [1], with_vector: true });
    expect(p1?.vector).toEqual({ text: [1, 0], bm25: { indices: [3, 7], values: [1, 0.5] } });
    const [p2] = await client.retrieve(name, { ids: [2], with_vector: ['bm25'] });
    expect(p2?.vector).toEqual({});
    const sparse = await client.query(name, { query: { indices: [3], values: [2] }, using: 'bm25' });
    expect(sparse.points.map((p) => [p.id, p.score])).toEqual([[1, 2]]);
    const dense = await client.query(name, { query: [0, 1], using: 'text' });
    expect(dense.points.map((p) => p.id)).toEqual([2, 1]);
    const sparseOnly = unique('sparse_only');
    expect(await client.createCollection(sparseOnly, { vectors: {}, sparse_vectors: { s: {} } })).toBe(true);
  });
});

describe('Qdrant test server: api key', () => {
  it('requires the key except on the health endpoints', async () => {
    const locked = await startQdrantTestServer({ apiKey: 'secret' });
    try {
      const denied = await raw('GET', '/collections', undefined, locked.url);
      expect(denied).toMatchObject({ status: 401, text: 'Must provide an API key or an Authorization bearer token' });
      expect((await raw('GET', '/collections', undefined, locked.url, { 'api-key': 'wrong' })).status).toBe(401);
      expect((await raw('GET', '/collections', undefined, locked.url, { 'api-key': 'secret' })).status).toBe(200);
      expect((await raw('GET', '/collections', undefined, locked.url, { authorization: 'Bearer secret' })).status).toBe(200);
      expect(await raw('GET', '/healthz', undefined, locked.url)).toMatchObject({ status: 200, text: 'healthz check passed' });
      expect(await raw('GET', '/readyz', undefined, locked.url)).toMatchObject({ status: 200, text: 'all shards are ready' });
      expect((await raw('GET', '/', undefined, locked.url)).status).toBe(200);
      expect(locked.violations).toEqual([]);
    } finally {
      await locked.close();
    }
  });
});

describe('Qdrant test server: the valid traffic above', () => {
  it('produced no OpenAPI violations', () => {
    expect(server.requests).toBeGreaterThan(50);
    expect(server.violations).toEqual([]);
  });
});
