#!/usr/bin/env node
// Probes which Milvus APIs a vectordr Milvus adapter can rely on, against a running server:
//
//   scripts/milvus-server.sh start && node scripts/milvus-probe.mjs [--json FILE]
//
// Needs @zilliz/milvus2-sdk-node (a devDependency). Address: $MILVUS_ADDRESS, else 127.0.0.1:54340.
// Prints one line per check, `OK` or `FAIL` with details (`INFO` where any outcome is information),
// then the throughput figures. A FAIL on a "... is rejected" check means the server accepted bad
// input (milvus-lite validates less than Milvus): the adapter has to check that itself. Creates and
// drops collections named vdr_probe_*; exits 1 only if a check that the adapter needs failed.
import console from 'node:console';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';

const ADDRESS = process.env.MILVUS_ADDRESS || '127.0.0.1:54340';
const DIM = 768;
const ROWS = 10_000;
const P = 'vdr_probe_';
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;

const results = [];
const metrics = {};
const client = new MilvusClient({ address: ADDRESS, timeout: 120_000, logLevel: 'error' });

// --- helpers ---------------------------------------------------------------------------------------

/** Throws if a Milvus response carries a non-success status (the SDK reports most errors that way). */
function must(res, what = 'call') {
  const st = res && (res.status ?? (res.error_code !== undefined ? res : undefined));
  if (st && st.error_code !== undefined && st.error_code !== 'Success') {
    throw new Error(`${what}: ${st.error_code} code=${st.code} reason=${JSON.stringify(st.reason)}`);
  }
  return res;
}
function errText(e) {
  return e && (e.details || e.message) ? String(e.details || e.message).slice(0, 400) : String(e);
}
function short(v, n = 300) {
  const s = typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
  return s && s.length > n ? `${s.slice(0, n)}…` : s;
}
/** Runs one check. `fn` returns a details value; `expectFail` checks record a rejection as OK. */
async function check(name, fn, { critical = false, expectFail = false } = {}) {
  const t0 = performance.now();
  let ok;
  let detail;
  try {
    detail = await fn();
    ok = !expectFail;
    if (expectFail) detail = `ACCEPTED (expected a rejection): ${short(detail)}`;
  } catch (e) {
    ok = expectFail;
    detail = expectFail ? `rejected: ${errText(e)}` : errText(e);
  }
  const ms = performance.now() - t0;
  const line = `${ok ? 'OK  ' : 'FAIL'} ${name} (${ms.toFixed(0)} ms)${detail === undefined ? '' : ` — ${short(detail, 600)}`}`;
  console.log(line);
  results.push({ name, ok, critical, ms: Math.round(ms), detail: short(detail, 2000) });
  return ok;
}
/** Like check, but an outcome either way is information (no OK/FAIL verdict on the server). */
async function observe(name, fn) {
  try {
    const d = await fn();
    console.log(`INFO ${name} — ${short(d, 600)}`);
    results.push({ name, ok: true, info: true, detail: short(d, 2000) });
  } catch (e) {
    console.log(`INFO ${name} — threw: ${errText(e)}`);
    results.push({ name, ok: true, info: true, detail: `threw: ${errText(e)}` });
  }
}

// Deterministic pseudo-random vectors (so a round trip can be compared bit for bit).
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
function vectorFor(id, dim = DIM) {
  const r = rng(id * 2654435761 + 7);
  const v = new Array(dim);
  for (let i = 0; i < dim; i++) v[i] = r() * 2 - 1;
  return v;
}
function rowFor(id) {
  return {
    id,
    vector: vectorFor(id),
    f_bool: id % 2 === 0,
    f_int8: (id % 255) - 127,
    f_int16: (id % 65535) - 32767,
    f_int32: id * 3 - 1_000_000,
    f_int64: id * 1_000_003,
    f_float: id / 7,
    f_double: id / 7,
    f_varchar: `row-${id}-ünïcødé`,
    f_json: { id, tags: ['a', 'b'], nested: { x: id / 3, ok: true, nil: null } },
    f_array: [`t${id % 5}`, `u${id % 3}`],
    dyn_key: `dynamic-${id}`, // not in the schema: goes to the dynamic field ($meta)
  };
}

const SCALAR_FIELDS = [
  { name: 'f_bool', data_type: DataType.Bool },
  { name: 'f_int8', data_type: DataType.Int8 },
  { name: 'f_int16', data_type: DataType.Int16 },
  { name: 'f_int32', data_type: DataType.Int32 },
  { name: 'f_int64', data_type: DataType.Int64 },
  { name: 'f_float', data_type: DataType.Float },
  { name: 'f_double', data_type: DataType.Double },
  { name: 'f_varchar', data_type: DataType.VarChar, max_length: 256 },
  { name: 'f_json', data_type: DataType.JSON },
  { name: 'f_array', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 16, max_length: 32 },
];
function int64Schema(dim = DIM) {
  return [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
    { name: 'vector', data_type: DataType.FloatVector, dim },
    ...SCALAR_FIELDS,
  ];
}
async function createInt64Collection(name, extra = {}) {
  return must(
    await client.createCollection({
      collection_name: name,
      fields: int64Schema(),
      enable_dynamic_field: true,
      ...extra,
    }),
    'createCollection',
  );
}
async function indexAndLoad(name, index = { index_type: 'HNSW', metric_type: 'COSINE', params: { M: 16, efConstruction: 64 } }) {
  must(await client.createIndex({ collection_name: name, field_name: 'vector', ...index }), 'createIndex');
  must(await client.loadCollectionSync({ collection_name: name }), 'loadCollectionSync');
}
async function insertRows(name, from, to, batch, extra = {}) {
  let inserted = 0;
  for (let start = from; start < to; start += batch) {
    const data = [];
    for (let id = start; id < Math.min(to, start + batch); id++) data.push(rowFor(id));
    const res = must(await client.insert({ collection_name: name, data, ...extra }), 'insert');
    inserted += Number(res.insert_cnt);
  }
  return inserted;
}
async function strongCount(name, filter = '') {
  const res = must(
    await client.query({
      collection_name: name,
      filter,
      output_fields: ['count(*)'],
      consistency_level: 'Strong',
    }),
    'count query',
  );
  return Number(res.data[0]['count(*)']);
}
async function dropIfExists(name) {
  const has = await client.hasCollection({ collection_name: name });
  if (has.value) must(await client.dropCollection({ collection_name: name }), 'dropCollection');
}
function sameFloat32(a, b) {
  if (!Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.fround(a[i]) !== b[i]) return false;
  return true;
}
/** Approximate protobuf bytes of one InsertRequest row of rowFor(): 4 B per float + scalars. */
const APPROX_ROW_BYTES = DIM * 4 + 2 + 1 + 5 + 5 + 5 + 10 + 4 + 8 + 26 + 80 + 20 + 40;

// --- the probe -------------------------------------------------------------------------------------

const MAIN = `${P}main`;
const STR = `${P}strpk`;

async function main() {
  console.log(`# milvus probe against ${ADDRESS}`);
  const alive = await check(
    'checkHealth',
    async () => {
      const r = await client.checkHealth();
      if (!r.isHealthy) throw new Error(`unhealthy: ${short(r)}`);
      return r;
    },
    { critical: true },
  );
  if (!alive) return;
  await check('getVersion', async () => must(await client.getVersion()).version);

  // Leftovers of an earlier, interrupted run.
  const listed = must(await client.listCollections());
  for (const c of listed.data ?? []) if (c.name.startsWith(P)) await dropIfExists(c.name);
  for (const n of [`${MAIN}_renamed`]) await dropIfExists(n);

  // -- schema ---------------------------------------------------------------------------------------
  await check(
    'createCollection int64 pk (autoID=false), FloatVector 768, all scalars, dynamic, description, properties',
    async () => {
      await createInt64Collection(MAIN, {
        description: 'vectordr restore marker: snapshot=abc123',
        properties: { 'vectordr.restore': 'snapshot=abc123;state=complete' },
        consistency_level: 'Strong',
      });
      return 'created';
    },
    { critical: true },
  );

  await check(
    'createCollection VarChar pk (max_length 64)',
    async () => {
      must(
        await client.createCollection({
          collection_name: STR,
          fields: [
            { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, autoID: false, max_length: 64 },
            { name: 'vector', data_type: DataType.FloatVector, dim: 4 },
          ],
          enable_dynamic_field: false,
        }),
        'createCollection',
      );
      return 'created';
    },
    { critical: true },
  );

  await check('describeCollection (fields, dims, autoID, dynamic, description, properties, consistency)', async () => {
    const d = must(await client.describeCollection({ collection_name: MAIN }));
    return {
      description: d.schema.description,
      description_top: d.description,
      enable_dynamic_field: d.schema.enable_dynamic_field,
      autoID: d.schema.autoID,
      consistency_level: d.consistency_level,
      properties: d.properties,
      created_timestamp: d.created_timestamp,
      created_utc_timestamp: d.created_utc_timestamp,
      shards_num: d.shards_num,
      num_partitions: d.num_partitions,
      collectionID: d.collectionID,
      fields: d.schema.fields.map((f) => ({
        name: f.name,
        data_type: f.data_type,
        pk: f.is_primary_key,
        autoID: f.autoID,
        dynamic: f.is_dynamic,
        dim: f.dim,
        max_length: f.max_length,
        element_type: f.element_type,
        max_capacity: f.max_capacity,
        nullable: f.nullable,
        type_params: f.type_params,
      })),
      index_fields: Object.keys(d).filter((k) => /index/i.test(k)),
    };
  });
  await check('describeCollection VarChar pk', async () => {
    const d = must(await client.describeCollection({ collection_name: STR }));
    return d.schema.fields.map((f) => ({
      name: f.name,
      data_type: f.data_type,
      pk: f.is_primary_key,
      max_length: f.max_length,
      dim: f.dim,
    }));
  });

  // -- indexes --------------------------------------------------------------------------------------
  await check(
    'createIndex HNSW {M:16, efConstruction:64} COSINE',
    async () => {
      must(
        await client.createIndex({
          collection_name: MAIN,
          field_name: 'vector',
          index_name: 'vector_idx',
          index_type: 'HNSW',
          metric_type: 'COSINE',
          params: { M: 16, efConstruction: 64 },
        }),
        'createIndex',
      );
      return 'ok';
    },
    { critical: true },
  );
  await check(
    'describeIndex',
    async () => must(await client.describeIndex({ collection_name: MAIN, field_name: 'vector' })).index_descriptions,
  );
  await check('listIndexes', async () => must(await client.listIndexes({ collection_name: MAIN })).indexes);
  await check('describeCollection after index (does it carry index/metric info?)', async () => {
    const d = must(await client.describeCollection({ collection_name: MAIN }));
    const v = d.schema.fields.find((f) => f.name === 'vector');
    return { vector_type_params: v.type_params, vector_index_params: v.index_params, keys: Object.keys(d) };
  });
  for (const [type, metric, params] of [
    ['HNSW', 'L2', { M: 8, efConstruction: 32 }],
    ['HNSW', 'IP', { M: 8, efConstruction: 32 }],
    ['FLAT', 'L2', {}],
    ['IVF_FLAT', 'COSINE', { nlist: 16 }],
    ['AUTOINDEX', 'COSINE', {}],
  ]) {
    const name = `${P}idx_${type}_${metric}`.toLowerCase();
    await check(`createIndex ${type} ${metric} ${JSON.stringify(params)} + describeIndex`, async () => {
      await createInt64Collection(name);
      must(
        await client.createIndex({ collection_name: name, field_name: 'vector', index_type: type, metric_type: metric, params }),
        'createIndex',
      );
      const d = must(await client.describeIndex({ collection_name: name, field_name: 'vector' }));
      await dropIfExists(name);
      return d.index_descriptions.map((x) => x.params);
    });
  }
  await check(
    'createIndex with unsupported index type (DISKANN) is rejected',
    async () => {
      const name = `${P}idx_bad`;
      await createInt64Collection(name);
      try {
        return must(
          await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'DISKANN', metric_type: 'L2', params: {} }),
          'createIndex',
        );
      } finally {
        await dropIfExists(name);
      }
    },
    { expectFail: true },
  );

  // -- load -----------------------------------------------------------------------------------------
  await check(
    'loadCollectionSync',
    async () => {
      must(await client.loadCollectionSync({ collection_name: MAIN }), 'load');
      return 'loaded';
    },
    { critical: true },
  );
  await check('getLoadState', async () => must(await client.getLoadState({ collection_name: MAIN })).state);
  await check('loadCollection (async variant) on VarChar collection', async () => {
    must(
      await client.createIndex({ collection_name: STR, field_name: 'vector', index_type: 'FLAT', metric_type: 'L2', params: {} }),
      'createIndex',
    );
    must(await client.loadCollection({ collection_name: STR }), 'load');
    return must(await client.getLoadState({ collection_name: STR })).state;
  });
  await observe('query on a collection that is NOT loaded', async () => {
    const name = `${P}unloaded`;
    await createInt64Collection(name);
    must(await client.insert({ collection_name: name, data: [rowFor(1)] }), 'insert');
    try {
      const r = await client.query({ collection_name: name, filter: 'id >= 0', limit: 10, output_fields: ['id'] });
      return { status: r.status, rows: r.data?.length };
    } finally {
      await dropIfExists(name);
    }
  });

  // -- insert throughput ----------------------------------------------------------------------------
  let insertTs;
  await check(
    `insert ${ROWS} rows x ${DIM} in batches of 1000 (main collection)`,
    async () => {
      const t0 = performance.now();
      let n = 0;
      for (let start = 0; start < ROWS; start += 1000) {
        const data = [];
        for (let id = start; id < start + 1000; id++) data.push(rowFor(id));
        const res = must(await client.insert({ collection_name: MAIN, data }), 'insert');
        n += Number(res.insert_cnt);
        insertTs = res.timestamp;
      }
      const s = (performance.now() - t0) / 1000;
      metrics['insert_rows_per_s_batch1000'] = Math.round(n / s);
      return `${n} rows in ${s.toFixed(2)} s = ${Math.round(n / s)} rows/s; last insert timestamp=${insertTs}`;
    },
    { critical: true },
  );
  for (const batch of [5000, 10000]) {
    await check(
      `insert ${ROWS} rows x ${DIM} in batches of ${batch} ` + `(~${((batch * APPROX_ROW_BYTES) / 1048576).toFixed(1)} MiB/request)`,
      async () => {
        const name = `${P}ins_${batch}`;
        await createInt64Collection(name);
        await indexAndLoad(name);
        const t0 = performance.now();
        const n = await insertRows(name, 0, ROWS, batch);
        const s = (performance.now() - t0) / 1000;
        metrics[`insert_rows_per_s_batch${batch}`] = Math.round(n / s);
        await dropIfExists(name);
        return `${n} rows in ${s.toFixed(2)} s = ${Math.round(n / s)} rows/s`;
      },
    );
  }
  // Real Milvus: proxy.grpc.serverMaxRecvSize defaults to 64 MiB (milvus-lite: 256 MiB).
  await observe('insert one batch of 22000 rows (~69 MiB, over the 64 MiB Milvus default)', async () => {
    const name = `${P}ins_big`;
    await createInt64Collection(name);
    try {
      const t0 = performance.now();
      const res = await client.insert({ collection_name: name, data: Array.from({ length: 22000 }, (_, i) => rowFor(i)) });
      return {
        status: res.status?.error_code,
        reason: res.status?.reason,
        insert_cnt: res.insert_cnt,
        s: ((performance.now() - t0) / 1000).toFixed(2),
      };
    } finally {
      await dropIfExists(name);
    }
  });

  await check('flush', async () => must(await client.flush({ collection_names: [MAIN] }), 'flush').coll_segIDs ?? 'flushed');
  await check('flushSync', async () => {
    must(await client.flushSync({ collection_names: [MAIN] }), 'flushSync');
    return 'flushed';
  });

  await check(
    'count: query output_fields [count(*)] consistency_level Strong',
    async () => {
      const n = await strongCount(MAIN);
      if (n !== ROWS) throw new Error(`count ${n} != ${ROWS}`);
      return n;
    },
    { critical: true },
  );
  await check(
    'count: client.count() (note: the SDK drops consistency_level here)',
    async () => must(await client.count({ collection_name: MAIN })).data,
  );
  await check('count(*) with a filter', async () => strongCount(MAIN, 'id < 100'));
  await check('getCollectionStatistics row_count', async () => must(await client.getCollectionStatistics({ collection_name: MAIN })).data);

  // -- query ----------------------------------------------------------------------------------------
  await check(
    'query expr id > X + limit + output_fields incl. vector: vectors returned? ordered by id? float32 exact?',
    async () => {
      const r = must(
        await client.query({
          collection_name: MAIN,
          expr: 'id > 4999',
          limit: 50,
          consistency_level: 'Strong',
          output_fields: ['id', 'vector', 'f_float', 'f_double', 'f_int64', 'f_json', 'f_array', 'dyn_key'],
        }),
        'query',
      );
      const ids = r.data.map((x) => Number(x.id));
      const ordered = ids.every((v, i) => i === 0 || ids[i - 1] < v);
      const first = r.data[0];
      return {
        rows: r.data.length,
        first_ids: ids.slice(0, 8),
        ordered_by_id: ordered,
        contiguous_from_5000: ids[0] === 5000 && ids.every((v, i) => v === 5000 + i),
        vector_returned: Array.isArray(first.vector),
        vector_len: first.vector?.length,
        vector_float32_exact: sameFloat32(vectorFor(Number(first.id)), first.vector),
        id_js_type: typeof first.id,
        f_int64_js_type: typeof first.f_int64,
        f_float: first.f_float,
        f_float_expected_f32: Math.fround(Number(first.id) / 7),
        f_double: first.f_double,
        f_double_expected: Number(first.id) / 7,
        f_json: first.f_json,
        f_array: first.f_array,
        dyn_key: first.dyn_key,
      };
    },
    { critical: true },
  );
  await check('query output_fields ["*"]: which keys come back (dynamic field flattened?)', async () => {
    const r = must(
      await client.query({ collection_name: MAIN, expr: 'id == 7', output_fields: ['*'], consistency_level: 'Strong' }),
      'query',
    );
    return { keys: Object.keys(r.data[0]), row_without_vector: { ...r.data[0], vector: `[${r.data[0].vector?.length}]` } };
  });
  await check('query output_fields ["$meta"]', async () => {
    const r = must(
      await client.query({ collection_name: MAIN, expr: 'id == 7', output_fields: ['id', '$meta'], consistency_level: 'Strong' }),
      'query',
    );
    return r.data[0];
  });
  await check('JSON + Array + dynamic round trip deep-equal for 100 rows', async () => {
    const r = must(
      await client.query({ collection_name: MAIN, expr: 'id < 100', limit: 100, output_fields: ['*'], consistency_level: 'Strong' }),
      'query',
    );
    const bad = [];
    for (const row of r.data) {
      const want = rowFor(Number(row.id));
      for (const k of ['f_json', 'f_array', 'f_bool', 'f_int8', 'f_int16', 'f_int32', 'f_varchar']) {
        if (JSON.stringify(row[k]) !== JSON.stringify(want[k])) bad.push({ id: row.id, k, got: row[k], want: want[k] });
      }
      // With output_fields ['*'] the dynamic keys come back nested under $meta, not flattened.
      if (row.$meta?.dyn_key !== want.dyn_key) bad.push({ id: row.id, k: '$meta.dyn_key', got: row.$meta });
      if (Number(row.f_int64) !== want.f_int64) bad.push({ id: row.id, k: 'f_int64', got: row.f_int64 });
    }
    if (bad.length) throw new Error(`mismatches: ${short(bad.slice(0, 5))}`);
    const named = must(
      await client.query({ collection_name: MAIN, expr: 'id < 3', output_fields: ['id', 'dyn_key'], consistency_level: 'Strong' }),
      'query',
    );
    return `${r.data.length} rows equal (dynamic keys under $meta with ['*']; naming a dynamic key gives ${short(named.data[0])})`;
  });
  await check('query order on shuffled inserts across segments (id > X, limit) — is it pk-ordered?', async () => {
    const name = `${P}order`;
    await createInt64Collection(name);
    await indexAndLoad(name);
    const ids = Array.from({ length: 3000 }, (_, i) => i);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(rng(i)() * (i + 1));
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    for (let b = 0; b < 3; b++) {
      must(await client.insert({ collection_name: name, data: ids.slice(b * 1000, b * 1000 + 1000).map(rowFor) }), 'insert');
      if (b === 1) must(await client.flush({ collection_names: [name] }), 'flush');
    }
    const plain = must(
      await client.query({ collection_name: name, expr: 'id > 100', limit: 20, output_fields: ['id'], consistency_level: 'Strong' }),
      'query',
    );
    const iter = must(
      await client.query({
        collection_name: name,
        expr: 'id > 100',
        limit: 20,
        output_fields: ['id'],
        consistency_level: 'Strong',
        params: { iterator: true, reduce_stop_for_best: true },
      }),
      'query',
    );
    let orderBy;
    try {
      const ob = must(
        await client.query({
          collection_name: name,
          expr: 'id > 100',
          limit: 20,
          output_fields: ['id'],
          consistency_level: 'Strong',
          order_by_fields: [{ field: 'id', order: 'asc' }],
        }),
        'query',
      );
      orderBy = ob.data.map((x) => Number(x.id));
    } catch (e) {
      orderBy = `threw: ${errText(e)}`;
    }
    // Keyset paging without the iterator param, and the SDK's own queryIterator, on shuffled data.
    async function keyset(params) {
      const seen = new Set();
      let last = -1;
      for (let pages = 0; pages < 100; pages++) {
        const r = must(
          await client.query({
            collection_name: name,
            expr: `id > ${last}`,
            limit: 500,
            output_fields: ['id'],
            consistency_level: 'Strong',
            ...(params ? { params } : {}),
          }),
          'query',
        );
        if (!r.data.length) break;
        const ids = r.data.map((x) => Number(x.id));
        ids.forEach((i) => seen.add(i));
        last = Math.max(...ids);
      }
      return seen.size;
    }
    const keysetPlain = await keyset(undefined);
    const keysetIter = await keyset({ iterator: true, reduce_stop_for_best: true });
    const it = await client.queryIterator({ collection_name: name, batchSize: 500, output_fields: ['id'], expr: '' });
    const sdkSeen = new Set();
    let pages = 0;
    for await (const page of it) {
      if (++pages > 100) break;
      for (const r of page) sdkSeen.add(Number(r.id));
    }
    await dropIfExists(name);
    return {
      keyset_limit500_rows_seen_of_3000: { without_params: keysetPlain, with_iterator_true: keysetIter, sdk_queryIterator: sdkSeen.size },
      plain_ids: plain.data.map((x) => Number(x.id)),
      with_params_iterator_true: iter.data.map((x) => Number(x.id)),
      with_order_by_fields: orderBy,
    };
  });
  await check('queryIterator (SDK) over 10k rows, batchSize 1000: complete & unique?', async () => {
    const it = await client.queryIterator({
      collection_name: MAIN,
      batchSize: 1000,
      output_fields: ['id'],
      expr: '',
      consistency_level: 'Strong',
    });
    const seen = new Set();
    let pages = 0;
    for await (const page of it) {
      pages++;
      for (const r of page) seen.add(Number(r.id));
      if (pages > 100) break;
    }
    if (seen.size !== ROWS) throw new Error(`iterator saw ${seen.size} distinct ids (${pages} pages), expected ${ROWS}`);
    return `${seen.size} distinct ids in ${pages} pages`;
  });
  await observe('query limit+offset window: offset 16000 + limit 1000 (real Milvus caps limit+offset at 16384)', async () => {
    const r = await client.query({ collection_name: MAIN, expr: 'id >= 0', offset: 16000, limit: 1000, output_fields: ['id'] });
    return { status: r.status?.error_code, reason: r.status?.reason, rows: r.data?.length };
  });
  await observe('query limit 20000 (> 16384)', async () => {
    const r = await client.query({ collection_name: MAIN, expr: 'id >= 0', limit: 20000, output_fields: ['id'] });
    return { status: r.status?.error_code, reason: r.status?.reason, rows: r.data?.length };
  });
  await observe('query with empty expr and no limit (real Milvus rejects)', async () => {
    const r = await client.query({ collection_name: MAIN, expr: '', output_fields: ['id'] });
    return { status: r.status?.error_code, reason: r.status?.reason, rows: r.data?.length };
  });
  await check('query by ids: expr id in [...] (order as given?)', async () => {
    const r = must(
      await client.query({
        collection_name: MAIN,
        expr: 'id in [42, 7, 9999, 123456]',
        output_fields: ['id', 'vector'],
        consistency_level: 'Strong',
      }),
      'query',
    );
    return { ids: r.data.map((x) => Number(x.id)), vectors_ok: r.data.every((x) => sameFloat32(vectorFor(Number(x.id)), x.vector)) };
  });
  await check('get({ids})', async () => {
    const r = must(await client.get({ collection_name: MAIN, ids: [3, 1, 2], output_fields: ['id'] }), 'get');
    return r.data.map((x) => Number(x.id));
  });
  await check('query with guarantee_timestamp = last insert timestamp', async () => {
    const r = must(
      await client.query({ collection_name: MAIN, expr: 'id >= 9990', output_fields: ['id'], limit: 100, guarantee_timestamp: insertTs }),
      'query',
    );
    return `${r.data.length} rows`;
  });
  for (const cl of ['Strong', 'Session', 'Bounded', 'Eventually']) {
    await check(`query consistency_level ${cl}`, async () => {
      const r = must(
        await client.query({ collection_name: MAIN, expr: 'id < 10', output_fields: ['id'], limit: 10, consistency_level: cl }),
        'query',
      );
      return `${r.data.length} rows`;
    });
  }

  await check('read-your-write: insert then immediately query with consistency_level Eventually', async () => {
    const r = must(await client.insert({ collection_name: MAIN, data: [rowFor(50000)] }), 'insert');
    const q = must(
      await client.query({ collection_name: MAIN, expr: 'id == 50000', output_fields: ['id'], consistency_level: 'Eventually' }),
      'query',
    );
    must(await client.delete({ collection_name: MAIN, ids: [50000] }), 'delete');
    return { visible: q.data.length === 1, mutation_timestamp: r.timestamp };
  });

  // -- keyset paging throughput ---------------------------------------------------------------------
  for (const page of [1000, 5000]) {
    await check(`keyset paging scan of ${ROWS} x ${DIM} (id > last, limit ${page}, vector + all scalars)`, async () => {
      const t0 = performance.now();
      let last = -1;
      let n = 0;
      let orderedPages = true;
      for (;;) {
        const r = must(
          await client.query({
            collection_name: MAIN,
            expr: `id > ${last}`,
            limit: page,
            output_fields: ['*'],
            consistency_level: 'Strong',
            params: { iterator: true, reduce_stop_for_best: true },
          }),
          'query',
        );
        if (!r.data.length) break;
        const ids = r.data.map((x) => Number(x.id));
        if (!ids.every((v, i) => i === 0 || ids[i - 1] < v)) orderedPages = false;
        n += r.data.length;
        last = Math.max(...ids);
      }
      const s = (performance.now() - t0) / 1000;
      metrics[`query_rows_per_s_page${page}`] = Math.round(n / s);
      if (n !== ROWS) throw new Error(`scanned ${n} rows, expected ${ROWS}`);
      return `${n} rows in ${s.toFixed(2)} s = ${Math.round(n / s)} rows/s; pages pk-ordered: ${orderedPages}`;
    });
  }

  // -- search ---------------------------------------------------------------------------------------
  await check('search (no filter), limit 5, output_fields', async () => {
    const r = must(
      await client.search({
        collection_name: MAIN,
        anns_field: 'vector',
        data: [vectorFor(123)],
        limit: 5,
        output_fields: ['id', 'f_varchar'],
        params: { ef: 64 },
      }),
      'search',
    );
    return r.results.map((x) => ({ id: x.id, score: x.score, f_varchar: x.f_varchar }));
  });
  await check('search with filter (f_bool == false and id < 500)', async () => {
    const r = must(
      await client.search({
        collection_name: MAIN,
        anns_field: 'vector',
        data: [vectorFor(123)],
        limit: 5,
        filter: 'f_bool == false and id < 500',
        output_fields: ['id'],
      }),
      'search',
    );
    return r.results.map((x) => ({ id: x.id, score: x.score }));
  });
  await check('search with JSON / dynamic-field / array filters', async () => {
    const r = must(
      await client.search({
        collection_name: MAIN,
        anns_field: 'vector',
        data: [vectorFor(5)],
        limit: 3,
        filter: 'f_json["nested"]["ok"] == true and dyn_key like "dynamic-%" and ARRAY_CONTAINS(f_array, "t0")',
        output_fields: ['id'],
      }),
      'search',
    );
    return r.results.map((x) => x.id);
  });

  // -- delete / upsert ------------------------------------------------------------------------------
  await check('delete by expression (id >= 9000 and id < 9100)', async () => {
    const r = must(await client.delete({ collection_name: MAIN, filter: 'id >= 9000 and id < 9100' }), 'delete');
    const n = await strongCount(MAIN);
    return { delete_cnt: r.delete_cnt, count_after: n };
  });
  await check('delete by ids', async () => {
    const r = must(await client.delete({ collection_name: MAIN, ids: [9100, 9101] }), 'delete');
    return { delete_cnt: r.delete_cnt, count_after: await strongCount(MAIN) };
  });
  await check('upsert (existing id 5 changed + new id 20000)', async () => {
    const a = { ...rowFor(5), f_varchar: 'upserted', vector: vectorFor(555) };
    const b = rowFor(20000);
    const r = must(await client.upsert({ collection_name: MAIN, data: [a, b] }), 'upsert');
    const q = must(
      await client.query({
        collection_name: MAIN,
        expr: 'id in [5, 20000]',
        output_fields: ['id', 'f_varchar', 'vector'],
        consistency_level: 'Strong',
      }),
      'query',
    );
    return {
      upsert_cnt: r.upsert_cnt,
      count_after: await strongCount(MAIN),
      rows: q.data.map((x) => ({
        id: x.id,
        f_varchar: x.f_varchar,
        vector_is_new: sameFloat32(vectorFor(Number(x.id) === 5 ? 555 : 20000), x.vector),
      })),
    };
  });

  // -- partitions -----------------------------------------------------------------------------------
  await check('createPartition / hasPartition / listPartitions', async () => {
    must(await client.createPartition({ collection_name: MAIN, partition_name: 'p1' }), 'createPartition');
    const has = must(await client.hasPartition({ collection_name: MAIN, partition_name: 'p1' }));
    const l = must(await client.listPartitions({ collection_name: MAIN }));
    return { has: has.value, partitions: l.data ?? l.partition_names };
  });
  await check('insert into partition + query partition_names + partition statistics', async () => {
    must(await client.insert({ collection_name: MAIN, partition_name: 'p1', data: [rowFor(30000), rowFor(30001)] }), 'insert');
    const q = must(
      await client.query({
        collection_name: MAIN,
        expr: 'id >= 0',
        partition_names: ['p1'],
        output_fields: ['id'],
        limit: 10,
        consistency_level: 'Strong',
      }),
      'query',
    );
    let stats;
    try {
      stats = must(await client.getPartitionStatistics({ collection_name: MAIN, partition_name: 'p1' })).data;
    } catch (e) {
      stats = `threw: ${errText(e)}`;
    }
    return { ids_in_p1: q.data.map((x) => Number(x.id)), stats };
  });
  await observe('query results: is the partition of a row visible anywhere? (keys of a p1 row)', async () => {
    const q = must(
      await client.query({ collection_name: MAIN, expr: 'id == 30000', output_fields: ['*'], consistency_level: 'Strong' }),
      'query',
    );
    return Object.keys(q.data[0] ?? {});
  });

  // -- properties, rename, aliases ------------------------------------------------------------------
  await check('alterCollectionProperties {vectordr.restore: ...} then describeCollection.properties', async () => {
    must(
      await client.alterCollectionProperties({
        collection_name: MAIN,
        properties: { 'vectordr.restore': 'snapshot=abc123;state=verified' },
      }),
      'alter',
    );
    const d = must(await client.describeCollection({ collection_name: MAIN }));
    return { properties: d.properties, description: d.schema.description };
  });
  await check('dropCollectionProperties', async () => {
    must(await client.dropCollectionProperties({ collection_name: MAIN, properties: ['vectordr.restore'] }), 'dropProps');
    return must(await client.describeCollection({ collection_name: MAIN })).properties;
  });
  await check('alterCollection (deprecated alias) collection.ttl.seconds', async () => {
    must(await client.alterCollection({ collection_name: MAIN, properties: { 'collection.ttl.seconds': 0 } }), 'alter');
    return must(await client.describeCollection({ collection_name: MAIN })).properties;
  });
  await check('renameCollection main -> main_renamed and back (data kept)', async () => {
    must(await client.renameCollection({ collection_name: MAIN, new_collection_name: `${MAIN}_renamed` }), 'rename');
    const hasOld = (await client.hasCollection({ collection_name: MAIN })).value;
    const n = await strongCount(`${MAIN}_renamed`);
    must(await client.renameCollection({ collection_name: `${MAIN}_renamed`, new_collection_name: MAIN }), 'rename back');
    const state = must(await client.getLoadState({ collection_name: MAIN })).state;
    let countAfter;
    try {
      countAfter = await strongCount(MAIN);
    } catch (e) {
      countAfter = `threw: ${errText(e)}`;
    }
    // Keep probing on a loaded collection whatever rename did to the load state.
    must(await client.loadCollectionSync({ collection_name: MAIN }), 'reload');
    const desc = must(await client.describeCollection({ collection_name: MAIN }));
    const idx = must(await client.describeIndex({ collection_name: MAIN, field_name: 'vector' })).index_descriptions.map(
      (x) => x.index_name,
    );
    return {
      old_name_exists_after_rename: hasOld,
      count_under_new_name: n,
      load_state_after_rename_back: state,
      count_after_rename_back: countAfter,
      properties_kept: desc.properties,
      index_kept: idx,
    };
  });
  await check(
    'renameCollection onto an existing name is rejected',
    async () => {
      return must(await client.renameCollection({ collection_name: MAIN, new_collection_name: STR }), 'rename');
    },
    { expectFail: true },
  );
  await check('createAlias / describeAlias / alterAlias / query via alias / dropAlias', async () => {
    must(await client.createAlias({ collection_name: MAIN, alias: `${P}live` }), 'createAlias');
    const d1 = must(await client.describeAlias({ collection_name: MAIN, alias: `${P}live` }));
    const viaAlias = await strongCount(`${P}live`);
    must(await client.alterAlias({ collection_name: STR, alias: `${P}live` }), 'alterAlias');
    const d2 = must(await client.describeAlias({ collection_name: STR, alias: `${P}live` }));
    const listed = must(await client.listAliases({ collection_name: STR })).aliases;
    must(await client.dropAlias({ alias: `${P}live` }), 'dropAlias');
    return { before: d1.collection, count_via_alias: viaAlias, after_alter: d2.collection, listAliases_of_target: listed };
  });
  await check('truncateCollection', async () => {
    const name = `${P}trunc`;
    await createInt64Collection(name);
    await indexAndLoad(name);
    must(await client.insert({ collection_name: name, data: [rowFor(1), rowFor(2)] }), 'insert');
    must(await client.truncateCollection({ collection_name: name }), 'truncate');
    const n = await strongCount(name);
    await dropIfExists(name);
    return `count after truncate: ${n}`;
  });
  await check('listCollections / showCollections', async () => {
    const l = must(await client.listCollections());
    return (l.data ?? []).map((c) => c.name).filter((n) => n.startsWith(P));
  });
  await check('listDatabases / createDatabase / dropDatabase', async () => {
    const before = must(await client.listDatabases()).db_names;
    must(await client.createDatabase({ db_name: 'vdr_probe_db' }), 'createDatabase');
    must(await client.dropDatabase({ db_name: 'vdr_probe_db' }), 'dropDatabase');
    return before;
  });

  // -- edge cases -----------------------------------------------------------------------------------
  await check(
    'VarChar pk longer than max_length (65 > 64) is rejected',
    async () => {
      return must(await client.insert({ collection_name: STR, data: [{ pk: 'x'.repeat(65), vector: [0.1, 0.2, 0.3, 0.4] }] }), 'insert');
    },
    { expectFail: true },
  );
  await check('VarChar pk exactly max_length (64 ASCII) accepted; 64 chars of 2-byte UTF-8?', async () => {
    must(await client.insert({ collection_name: STR, data: [{ pk: 'y'.repeat(64), vector: [0.1, 0.2, 0.3, 0.4] }] }), 'insert');
    const r = await client.insert({ collection_name: STR, data: [{ pk: 'é'.repeat(64), vector: [0.1, 0.2, 0.3, 0.4] }] });
    return {
      ascii64: 'accepted',
      utf8_64chars_128bytes:
        r.status.error_code === 'Success' ? 'accepted (max_length counts characters?)' : `rejected: ${r.status.reason}`,
    };
  });
  await check('VarChar pk round trip + query by string ids', async () => {
    must(
      await client.insert({
        collection_name: STR,
        data: [
          { pk: 'a"quote', vector: [1, 2, 3, 4] },
          { pk: 'b\\slash', vector: [1, 2, 3, 4] },
          { pk: 'ünï', vector: [1, 2, 3, 4] },
        ],
      }),
      'insert',
    );
    const r = must(
      await client.query({
        collection_name: STR,
        expr: 'pk in ["ünï", "y"]',
        output_fields: ['pk', 'vector'],
        consistency_level: 'Strong',
      }),
      'query',
    );
    const g = await client.get({ collection_name: STR, ids: ['a"quote'], output_fields: ['pk'] });
    let tmpl;
    try {
      const t = must(
        await client.query({
          collection_name: STR,
          expr: 'pk in {ids}',
          exprValues: { ids: ['a"quote', 'b\\slash'] },
          output_fields: ['pk'],
          consistency_level: 'Strong',
        }),
        'query',
      );
      tmpl = t.data.map((x) => x.pk);
    } catch (e) {
      tmpl = `threw: ${errText(e)}`;
    }
    const esc = must(
      await client.query({
        collection_name: STR,
        expr: 'pk in ["a\\"quote", "b\\\\slash"]',
        output_fields: ['pk'],
        consistency_level: 'Strong',
      }),
      'query',
    );
    return {
      in_query: r.data,
      get_with_quote: g.status.error_code === 'Success' ? g.data : `FAILED: ${g.status.reason}`,
      exprValues_template: tmpl,
      backslash_escaped_expr: esc.data.map((x) => x.pk),
    };
  });
  await check(
    'NaN in a vector is rejected',
    async () => {
      const v = vectorFor(1);
      v[3] = NaN;
      must(await client.insert({ collection_name: MAIN, data: [{ ...rowFor(40000), vector: v }] }), 'insert');
      const q = must(
        await client.query({ collection_name: MAIN, expr: 'id == 40000', output_fields: ['vector'], consistency_level: 'Strong' }),
        'query',
      );
      must(await client.delete({ collection_name: MAIN, ids: [40000] }), 'delete');
      return `stored; read back vector[3] = ${q.data[0]?.vector?.[3]}`;
    },
    { expectFail: true },
  );
  await check(
    'Infinity in a vector is rejected',
    async () => {
      const v = vectorFor(1);
      v[3] = Infinity;
      must(await client.insert({ collection_name: MAIN, data: [{ ...rowFor(40001), vector: v }] }), 'insert');
      must(await client.delete({ collection_name: MAIN, ids: [40001] }), 'delete');
      return 'stored';
    },
    { expectFail: true },
  );
  await check(
    'wrong vector length (767) is rejected',
    async () => {
      return must(await client.insert({ collection_name: MAIN, data: [{ ...rowFor(40002), vector: vectorFor(1, 767) }] }), 'insert');
    },
    { expectFail: true },
  );
  await check('dim 32768 (the documented max) accepted', async () => {
    const name = `${P}dim_max`;
    must(
      await client.createCollection({
        collection_name: name,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'v', data_type: DataType.FloatVector, dim: 32768 },
        ],
      }),
      'create',
    );
    await dropIfExists(name);
    return 'created';
  });
  await check(
    'dim 32769 (over the max) is rejected',
    async () => {
      const name = `${P}dim_over`;
      try {
        return must(
          await client.createCollection({
            collection_name: name,
            fields: [
              { name: 'id', data_type: DataType.Int64, is_primary_key: true },
              { name: 'v', data_type: DataType.FloatVector, dim: 32769 },
            ],
          }),
          'create',
        );
      } finally {
        await dropIfExists(name);
      }
    },
    { expectFail: true },
  );
  await check('Int64 beyond 2^53 (pk 9007199254740993 as string / BigInt) round trip', async () => {
    const big = '9007199254740993';
    let insertVia;
    let r = await client.insert({ collection_name: MAIN, data: [{ ...rowFor(1), id: big, f_int64: big }] });
    insertVia = 'string';
    if (r.status.error_code !== 'Success') {
      r = await client.insert({ collection_name: MAIN, data: [{ ...rowFor(1), id: BigInt(big), f_int64: BigInt(big) }] });
      insertVia = `BigInt (string failed)`;
    }
    must(r, 'insert');
    const q = must(
      await client.query({ collection_name: MAIN, expr: `id == ${big}`, output_fields: ['id', 'f_int64'], consistency_level: 'Strong' }),
      'query',
    );
    const row = q.data[0];
    const exact = row && String(row.id) === big && String(row.f_int64) === big;
    if (!exact) throw new Error(`lost precision (inserted via ${insertVia}): got ${short(row)}`);
    return { insertVia, got: row, js_types: [typeof row.id, typeof row.f_int64] };
  });
  await check('duplicate pk insert (Milvus allows duplicates; what does count say?)', async () => {
    const before = await strongCount(MAIN);
    must(await client.insert({ collection_name: MAIN, data: [rowFor(10)] }), 'insert');
    return {
      before,
      after: await strongCount(MAIN),
      rows_with_id_10: must(
        await client.query({ collection_name: MAIN, expr: 'id == 10', output_fields: ['id'], consistency_level: 'Strong' }),
      ).data.length,
    };
  });
  await check('nullable field + default_value (schema feature of Milvus >= 2.5)', async () => {
    const name = `${P}nullable`;
    must(
      await client.createCollection({
        collection_name: name,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'v', data_type: DataType.FloatVector, dim: 4 },
          { name: 'n', data_type: DataType.Int32, nullable: true },
          { name: 'd', data_type: DataType.VarChar, max_length: 8, default_value: 'dflt' },
        ],
      }),
      'create',
    );
    await indexAndLoad(name, { field_name: 'v', index_type: 'FLAT', metric_type: 'L2', params: {} });
    must(
      await client.insert({
        collection_name: name,
        data: [
          { id: 1, v: [1, 2, 3, 4], n: null },
          { id: 2, v: [1, 2, 3, 4], n: 5, d: 'x' },
        ],
      }),
      'insert',
    );
    const q = must(
      await client.query({ collection_name: name, expr: 'id > 0', output_fields: ['id', 'n', 'd'], consistency_level: 'Strong' }),
      'query',
    );
    const d = must(await client.describeCollection({ collection_name: name }));
    await dropIfExists(name);
    return { rows: q.data, fields: d.schema.fields.map((f) => ({ name: f.name, nullable: f.nullable, default_value: f.default_value })) };
  });

  // -- release / drop -------------------------------------------------------------------------------
  await check('releaseCollection', async () => {
    must(await client.releaseCollection({ collection_name: STR }), 'release');
    return must(await client.getLoadState({ collection_name: STR })).state;
  });
  await check('dropCollection + hasCollection after drop', async () => {
    must(await client.dropCollection({ collection_name: STR }), 'drop');
    return { has_after_drop: (await client.hasCollection({ collection_name: STR })).value };
  });
  await check('dropCollection main', async () => {
    must(await client.dropCollection({ collection_name: MAIN }), 'drop');
    return 'dropped';
  });
  await check('hasCollection on a missing collection', async () => (await client.hasCollection({ collection_name: `${P}missing` })).value);
  await check(
    'describeCollection on a missing collection reports an error',
    async () => must(await client.describeCollection({ collection_name: `${P}missing` })),
    { expectFail: true },
  );
}

try {
  await main();
} catch (e) {
  console.log(`FAIL probe aborted — ${errText(e)}`);
  results.push({ name: 'probe aborted', ok: false, critical: true, detail: errText(e) });
} finally {
  await client.closeConnection?.().catch?.(() => {});
}
const failed = results.filter((r) => !r.ok);
console.log(`\n# metrics ${JSON.stringify(metrics)}`);
console.log(
  `# ${results.length - failed.length} ok, ${failed.length} failed${failed.length ? `: ${failed.map((f) => f.name).join(' | ')}` : ''}`,
);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ address: ADDRESS, results, metrics }, null, 2));
process.exit(failed.some((f) => f.critical) ? 1 : 0);
