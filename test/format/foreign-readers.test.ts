/**
 * Segments of the direct writer read by other Parquet readers, value for value: hyparquet (pure JS,
 * always), pyarrow and DuckDB (the Python venv of scripts/python-readers.sh, given by
 * VECTORDR_PYREADERS_PYTHON; required in CI as the engine `pyreaders`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { zstdDecompress } from '../../src/format/parquet/zstd.js';
import { encodeSegment, type SegmentLayout, type SegmentRows } from '../../src/format/segment-codec.js';
import { engineAvailable } from '../helpers/engines.js';
import { makeKindsSegment, makeSegment, type SegmentShape } from '../helpers/segment-gen.js';
import { type AnyVectorColumn, type VectorColumn, vectorAt } from '../../src/model.js';
import { leBytes } from '../../src/format/digest.js';

const SHAPES: (SegmentShape & { zstdVectors?: boolean })[] = [
  { idType: 'int64', dims: [768, 1], rows: 60, nullVectors: true, prev: true, seed: 21 },
  { idType: 'string', dims: [4096], rows: 5, nullVectors: false, prev: false, seed: 22 },
  { idType: 'uuid', dims: [3, 16, 2], rows: 33, nullVectors: true, prev: false, seed: 23 },
  { idType: 'int64', dims: [8], rows: 0, nullVectors: false, prev: false, seed: 24 },
  { idType: 'int64', dims: [768, 2], rows: 40, nullVectors: true, prev: true, seed: 25, zstdVectors: true },
];

const dir = mkdtempSync(join(tmpdir(), 'vdr-foreign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const segments = SHAPES.map((shape, i) => {
  const { layout, rows } = makeSegment(shape);
  const bytes = encodeSegment(layout, rows, { vectorCompression: shape.zstdVectors ? 'zstd' : 'none' });
  const file = join(dir, `segment-${i}.parquet`);
  writeFileSync(file, bytes);
  return { shape, layout, rows, bytes, file };
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The rows as plain JSON values, the shape every reader's output is brought to. */
function expected(layout: SegmentLayout, rows: SegmentRows): Record<string, unknown>[] {
  const { batch } = rows;
  return Array.from({ length: batch.length }, (_, i) => {
    const r: Record<string, unknown> = {
      id: batch.ids instanceof BigInt64Array ? String(batch.ids[i]) : batch.ids[i],
      op: rows.ops[i],
      digest: hex(rows.digests.subarray(i * 32, i * 32 + 32)),
      payload: rows.payloadJson[i],
    };
    if (rows.prev) r.prev_digest = rows.prev.valid[i] ? hex(rows.prev.digests.subarray(i * 32, i * 32 + 32)) : null;
    for (const v of layout.vectors) {
      const col = batch.vectors[v.name] as VectorColumn;
      r[`vec_${v.name}`] = col.valid && !col.valid[i] ? null : Array.from(col.data.subarray(i * col.dims, (i + 1) * col.dims));
    }
    return r;
  });
}

/** Floats compared exactly, -0 included (Object.is through toEqual). */
function normalise(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === 'bigint' || typeof v === 'number') o[k] = String(v);
      else if (v instanceof Uint8Array) o[k] = hex(v);
      else o[k] = v;
    }
    return o;
  });
}

describe('foreign readers: hyparquet', () => {
  for (const s of segments) {
    it(`reads ${JSON.stringify(s.shape)} with the same values`, async () => {
      const file = s.bytes.buffer.slice(s.bytes.byteOffset, s.bytes.byteOffset + s.bytes.length) as ArrayBuffer;
      const rows = await parquetReadObjects({
        file,
        compressors: { ZSTD: (input: Uint8Array, outputLength: number) => zstdDecompress(input, outputLength) },
        utf8: false,
      });
      const got = rows.map((r) => {
        const o: Record<string, unknown> = { ...r };
        for (const k of ['id', 'op', 'payload']) if (o[k] instanceof Uint8Array) o[k] = Buffer.from(o[k] as Uint8Array).toString('utf8');
        // hyparquet gives a null list as undefined (for parquet-wasm's segments too).
        for (const k of Object.keys(o)) if (k.startsWith('vec_')) o[k] = o[k] == null ? null : Array.from(o[k] as number[]);
        return o;
      });
      expect(normalise(got)).toEqual(normalise(expected(s.layout, s.rows)));
    });
  }
});

const PYTHON = process.env.VECTORDR_PYREADERS_PYTHON;
const READ_PY = String.raw`
import json, sys
import duckdb, pyarrow.parquet as pq
out = []
for path in sys.argv[1:]:
    t = pq.read_table(path)
    types = {f.name: str(f.type) for f in t.schema}
    rows = t.to_pylist()
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    ddb_types = dict(zip(rel.columns, [str(x) for x in rel.types]))
    ddb_rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
    def plain(r):
        return {k: (v.hex() if isinstance(v, (bytes, bytearray)) else str(v) if isinstance(v, int) else v) for k, v in r.items()}
    out.append({"pyarrow": {"types": types, "rows": [plain(r) for r in rows]},
                "duckdb": {"types": ddb_types, "rows": [plain(r) for r in ddb_rows]}})
print(json.dumps(out))
`;

describe.skipIf(!engineAvailable('pyreaders', PYTHON !== undefined))('foreign readers: pyarrow and DuckDB', () => {
  const read = (): { pyarrow: Reader; duckdb: Reader }[] =>
    JSON.parse(
      execFileSync(PYTHON as string, ['-c', READ_PY, ...segments.map((s) => s.file)], { encoding: 'utf8', maxBuffer: 1 << 28 }),
    ) as {
      pyarrow: Reader;
      duckdb: Reader;
    }[];
  interface Reader {
    types: Record<string, string>;
    rows: Record<string, unknown>[];
  }
  let results: { pyarrow: Reader; duckdb: Reader }[] | undefined;

  segments.forEach((s, i) => {
    it(`pyarrow and DuckDB read ${JSON.stringify(s.shape)} with the same values and types`, () => {
      results ??= read();
      const r = results[i]!;
      const want = normalise(expected(s.layout, s.rows));
      expect(normalise(r.pyarrow.rows)).toEqual(want);
      expect(normalise(r.duckdb.rows)).toEqual(want);
      const id = s.layout.idType === 'int64' ? ['int64', 'BIGINT'] : ['string', 'VARCHAR'];
      expect(r.pyarrow.types).toMatchObject({ id: id[0], op: 'string', digest: 'fixed_size_binary[32]', payload: 'string' });
      expect(r.duckdb.types).toMatchObject({ id: id[1], op: 'VARCHAR', digest: 'BLOB', payload: 'VARCHAR' });
      if (s.rows.prev) expect(r.pyarrow.types.prev_digest).toBe('fixed_size_binary[32]');
      for (const v of s.layout.vectors) {
        expect(r.pyarrow.types[`vec_${v.name}`]).toBe(`fixed_size_list<item: float not null>[${v.dims}]`);
        expect(r.duckdb.types[`vec_${v.name}`]).toBe('FLOAT[]');
      }
    });
  });
});

/** A segment of every vector kind, with real record digests (docs/format.md, "Vector kinds"). */
const kinds = (() => {
  const seg = makeKindsSegment(31, 40);
  const file = join(dir, 'segment-kinds.parquet');
  writeFileSync(file, encodeSegment(seg.layout, seg.rows));
  return { ...seg, file };
})();

/** The kinds segment's rows as plain JSON: element bytes as hex, sparse as {indices, values}, multi as lists of vectors. */
function expectedKinds(): Record<string, unknown>[] {
  const { batch } = kinds.rows;
  return Array.from({ length: batch.length }, (_, i) => {
    const r: Record<string, unknown> = { id: String(batch.ids[i]), digest: hex(kinds.rows.digests.subarray(i * 32, i * 32 + 32)) };
    for (const f of kinds.schema.vectors) {
      const v = vectorAt(batch.vectors[f.name] as AnyVectorColumn, i);
      if (v === null) r[`vec_${f.name}`] = null;
      else if (v instanceof Float32Array) r[`vec_${f.name}`] = Array.from(v);
      else if (v.kind === 'dense') r[`vec_${f.name}`] = hex(leBytes(v.data));
      else if (v.kind === 'sparse') r[`vec_${f.name}`] = { indices: Array.from(v.indices), values: Array.from(v.values) };
      else
        r[`vec_${f.name}`] = Array.from({ length: v.data.length / v.dims }, (_, k) =>
          Array.from(v.data.subarray(k * v.dims, (k + 1) * v.dims)),
        );
    }
    return r;
  });
}

/**
 * pyarrow and DuckDB read the kinds segment; the record digests are recomputed from pyarrow's values
 * by the byte layout of docs/format.md alone (the reference implementation's `vector_bytes`).
 */
const KINDS_PY = String.raw`
import hashlib, json, struct, sys
import duckdb, pyarrow.parquet as pq
path, fields = sys.argv[1], json.loads(sys.argv[2])
TAG = {"float32": 1, "float16": 2, "bfloat16": 3, "uint8": 4, "int8": 5, "binary": 6, "sparse": 7, "multi": 8}
def vector_bytes(f, v):
    kind = f.get("kind", "dense")
    if v is None:
        return b"\x00"
    if kind == "sparse":
        n = len(v["indices"])
        return bytes([TAG["sparse"]]) + struct.pack(">I", n) + struct.pack(f"<{n}I", *v["indices"]) + struct.pack(f"<{n}f", *v["values"])
    if kind == "multi":
        flat = [x for vec in v for x in vec]
        return bytes([TAG["multi"]]) + struct.pack(">I", len(v)) + struct.pack(f"<{len(flat)}f", *flat)
    if f["element"] == "float32":
        return b"\x01" + struct.pack(f"<{len(v)}f", *v)
    return bytes([TAG[f["element"]]]) + v   # fixed_size_binary: the elements' little-endian bytes
t = pq.read_table(path)
types = {fl.name: str(fl.type) for fl in t.schema}
rows = t.to_pylist()
bad = []
for r in rows:
    h = hashlib.sha256(b"\x01" + struct.pack(">q", r["id"]))
    for f in sorted(fields, key=lambda f: f["name"]):
        h.update(vector_bytes(f, r["vec_" + f["name"]]))
    p = r["payload"].encode("utf-8")
    h.update(struct.pack(">I", len(p)) + p)
    if h.digest() != r["digest"]:
        bad.append(r["id"])
con = duckdb.connect()
rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
ddb_types = dict(zip(rel.columns, [str(x) for x in rel.types]))
ddb_rows = [dict(zip(rel.columns, r)) for r in rel.fetchall()]
def plain(r):
    return {k: (v.hex() if isinstance(v, (bytes, bytearray)) else str(v) if isinstance(v, int) else v)
            for k, v in r.items() if k not in ("op", "payload")}
print(json.dumps({"digestMismatches": bad, "pyarrow": {"types": types, "rows": [plain(r) for r in rows]},
                  "duckdb": {"types": ddb_types, "rows": [plain(r) for r in ddb_rows]}}))
`;

describe.skipIf(!engineAvailable('pyreaders', PYTHON !== undefined))('foreign readers: every vector kind', () => {
  it('pyarrow and DuckDB read every kind with the same values; the digests recompute from docs/format.md alone', () => {
    const out = JSON.parse(
      execFileSync(PYTHON as string, ['-c', KINDS_PY, kinds.file, JSON.stringify(kinds.schema.vectors)], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      }),
    ) as {
      digestMismatches: unknown[];
      pyarrow: { types: Record<string, string>; rows: unknown[] };
      duckdb: { types: Record<string, string>; rows: unknown[] };
    };
    expect(out.digestMismatches).toEqual([]);
    const want = expectedKinds();
    expect(out.pyarrow.rows).toEqual(want);
    expect(out.duckdb.rows).toEqual(want);
    expect(out.pyarrow.types).toMatchObject({
      vec_dense: 'fixed_size_list<item: float not null>[4]',
      vec_half: 'fixed_size_binary[10]',
      vec_bits: 'fixed_size_binary[2]',
      vec_sparse: 'struct<indices: list<item: uint32 not null> not null, values: list<item: float not null> not null>',
      vec_multi: 'list<item: fixed_size_list<item: float not null>[3] not null>',
    });
    expect(out.duckdb.types).toMatchObject({
      vec_half: 'BLOB',
      vec_bits: 'BLOB',
      vec_sparse: 'STRUCT(indices UINTEGER[], "values" FLOAT[])',
    });
  });
});
