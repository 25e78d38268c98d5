/**
 * Table definitions without a server: the strict native type grammar, the one trust gate, the
 * manifest rules of feature `table-definition`, and what a restore's DDL holds with and without trust.
 */
import { describe, expect, it } from 'vitest';
import { planDefinition } from '../../adapters/pgvector/pgvector-definition.js';
import { checkNativeType } from '../../adapters/pgvector/pgvector-sql.js';
import { isVectordrError } from '../../src/errors.js';
import { openPglite } from '../helpers/pglite.js';
import { memoryRepository } from '../helpers/repository.js';
import { parseManifest, snapshotFeatures, withChecksum } from '../../src/format/manifest.js';
import type { TableDefinition } from '../../src/format/table-definition.js';
import type { CollectionSchema } from '../../src/model.js';
import { UNTRUSTED_REASON, definitionGate } from '../../src/restore/trust.js';

const SEQ = { type: 'bigint', start: '1', increment: '1', min: '1', max: '9223372036854775807', cache: '1', cycle: false } as const;
const DEFINITION: TableDefinition = {
  table: 'docs',
  columns: [
    { name: 'id', type: 'bigint', notNull: true, sequence: 'docs_id_seq' },
    { name: 'embedding', type: 'vector(3)', notNull: true },
    { name: 'title', type: 'text', notNull: false, default: { expression: "'none'::text" }, collation: 'C' },
    { name: 'total', type: 'numeric', notNull: false, generated: { expression: '(price * 2)', stored: true } },
    { name: 'price', type: 'numeric', notNull: false },
  ],
  sequences: [{ name: 'docs_id_seq', ...SEQ, lastValue: '40', isCalled: true }],
  constraints: [
    { kind: 'check', name: 'docs_price_check', expression: '(price > (0)::numeric)', noInherit: false },
    { kind: 'unique', name: 'docs_title_key', columns: ['title'], nullsNotDistinct: false },
  ],
  partitioning: { strategy: 'hash', columns: ['id'], partitions: [{ name: 'docs_p0', bound: 'FOR VALUES WITH (modulus 1, remainder 0)' }] },
  omitted: [{ what: 'trigger', name: 'audit' }],
};
const SCHEMA: CollectionSchema = {
  name: 'docs_vdr_0123456789',
  idField: 'id',
  idType: 'int64',
  idNativeType: 'bigint',
  vectors: [{ name: 'embedding', dims: 3, metric: 'cosine', element: 'float32', nullable: false, nativeType: 'vector(3)' }],
  payload: [
    { name: 'title', type: 'string', array: false, nullable: true, nativeType: 'text' },
    { name: 'price', type: 'string', array: false, nullable: true, nativeType: 'numeric' },
  ],
  indexes: [],
  definition: DEFINITION,
};

describe('native types from a manifest', () => {
  it('accepts format_type() output and refuses anything else (issue 22 forgeries)', () => {
    for (const t of [
      'integer',
      'character varying(64)',
      'timestamp(3) with time zone',
      'numeric(10,2)',
      'text[]',
      '"char"',
      'double precision',
    ])
      expect(checkNativeType(t)).toBe(t);
    for (const t of [
      'boolean default pg_try_advisory_lock(4242)',
      'integer default lo_unlink(16400)',
      'text references victim on delete cascade',
    ]) {
      let err: unknown;
      try {
        checkNativeType(t);
      } catch (e) {
        err = e;
      }
      expect(isVectordrError(err, 'INVALID_IDENTIFIER')).toBe(true);
    }
  });
});

describe('the trust gate', () => {
  it('applies for an authenticated manifest or with the opt-in; otherwise lists what it withheld', () => {
    expect(definitionGate({ authenticated: true, trustDefinitions: false }).trusted).toBe(true);
    expect(definitionGate({ authenticated: false, trustDefinitions: true }).trusted).toBe(true);
    const gate = definitionGate({ authenticated: false, trustDefinitions: false });
    expect(gate.allows('definition', 'default of column "t"')).toBe(false);
    expect(gate.allows('definition', 'default of column "t"')).toBe(false);
    expect(gate.reported).toEqual([
      { what: 'definition', name: 'default of column "t"', reason: UNTRUSTED_REASON, action: 'not-recreated' },
    ]);
  });

  it('keeps every SQL text of the definition out of the DDL without trust, and recreates the rest', () => {
    const where = { schemaName: 'public', table: SCHEMA.name };
    const untrusted = definitionGate({ authenticated: false, trustDefinitions: false });
    const plan = planDefinition(SCHEMA, DEFINITION, where, untrusted, new Set(['C']));
    const ddl = [plan.createTable, ...plan.after].join(';\n');
    for (const sql of ["'none'::text", 'price * 2', 'price > (0)', 'FOR VALUES', 'PARTITION BY']) expect(ddl).not.toContain(sql);
    expect(ddl).toContain('CREATE SEQUENCE "public"."docs_vdr_0123456789_id_seq" AS bigint');
    expect(ddl).toContain('COLLATE pg_catalog."C"');
    expect(ddl).toContain('CONSTRAINT "docs_vdr_0123456789_title_key" UNIQUE ("title")');
    expect(untrusted.reported.map((r) => r.name)).toEqual([
      'default of column "title"',
      'generated column "total"',
      'check constraint "docs_price_check"',
      'hash partitioning (1 partitions; bounds are SQL)',
      'trigger "audit"',
    ]);
    const trusted = planDefinition(SCHEMA, DEFINITION, where, definitionGate({ authenticated: true, trustDefinitions: false }), new Set());
    const all = [trusted.createTable, ...trusted.after].join(';\n');
    for (const sql of [
      "DEFAULT ('none'::text)",
      'GENERATED ALWAYS AS ((price * 2)) STORED',
      'CHECK ((price > (0)::numeric))',
      'PARTITION BY HASH ("id")',
    ])
      expect(all).toContain(sql);
    expect(all).toContain('"docs_vdr_0123456789_p0" PARTITION OF');
  });

  it('refuses a definition that retypes or adds a field of the schema', () => {
    const gate = definitionGate({ authenticated: true, trustDefinitions: false });
    const retyped = { ...DEFINITION, columns: DEFINITION.columns.map((c) => (c.name === 'price' ? { ...c, type: 'integer' } : c)) };
    expect(() => planDefinition(SCHEMA, retyped, { schemaName: 'public', table: 't' }, gate, new Set())).toThrow(/price/);
    const added = { ...DEFINITION, columns: [...DEFINITION.columns, { name: 'extra', type: 'text', notNull: false }] };
    expect(() => planDefinition(SCHEMA, added, { schemaName: 'public', table: 't' }, gate, new Set())).toThrow(/extra/);
  });
});

describe('feature table-definition', () => {
  const manifest = (definition: TableDefinition | undefined, features: string[], formatVersion = 2): Uint8Array =>
    withChecksum({
      formatVersion,
      features,
      id: '01J0000000000000000000000A',
      kind: 'full',
      parent: null,
      collection: 'docs',
      createdAt: '2026-01-01T00:00:00.000Z',
      completedAt: '2026-01-01T00:00:00.000Z',
      source: { engine: 'pgvector', engineVersion: '18.4', endpoint: 'x', normalizesCosine: false },
      schema: { ...SCHEMA, name: 'docs', definition },
      segments: [],
      rows: { upserts: 0, deletes: 0 },
      digest: { algorithm: 'sha256-bucket-sum', buckets: 1, collection: '0'.repeat(64), counts: [0], sums: ['0'.repeat(64)] },
      checkpoint: null,
      timings: { scanMs: 0, encodeMs: 0, storeMs: 0, totalMs: 0 },
      tags: {},
    });

  it('is named exactly when the schema records a definition, and only in v2', () => {
    expect(snapshotFeatures(SCHEMA)).toEqual(['table-definition']);
    expect(snapshotFeatures({ ...SCHEMA, definition: undefined }, ['incremental'])).toEqual(['incremental']);
    expect(parseManifest(manifest(DEFINITION, ['table-definition']), 'k').schema.definition).toEqual(DEFINITION);
    for (const bad of [manifest(DEFINITION, []), manifest(undefined, ['table-definition']), manifest(DEFINITION, [], 1)]) {
      let err: unknown;
      try {
        parseManifest(bad, 'k');
      } catch (e) {
        err = e;
      }
      expect(isVectordrError(err, 'MANIFEST_INVALID')).toBe(true);
    }
  });
});

describe('a chain on PGlite', () => {
  it("restores a link with the table's definition: the sequence continues past every id of the folded state", async () => {
    const { db, adapter } = await openPglite(`
      CREATE EXTENSION IF NOT EXISTS vector;
      CREATE TABLE docs (id bigserial PRIMARY KEY, e vector(2) NOT NULL, tag text DEFAULT 'none', n int CHECK (n > 0));
      INSERT INTO docs (e, n) SELECT ARRAY[g, 1]::vector, g FROM generate_series(1, 5) g;
    `);
    try {
      const repo = await memoryRepository();
      const full = await repo.snapshot(adapter, 'docs', { incremental: true });
      expect(full.manifest.features).toEqual(['incremental', 'table-definition']);
      await db.exec(`INSERT INTO docs (e, n) SELECT ARRAY[g, 2]::vector, g FROM generate_series(6, 8) g`);
      const link = await repo.snapshot(adapter, 'docs', { incremental: true });
      expect(link.manifest.kind).toBe('incremental');
      const r = await repo.restore(adapter, { collection: 'docs', snapshot: link.manifest.id, target: 'docs_r', trustDefinitions: true });
      expect(r.rows).toBe(8);
      // A fingerprint-diff link scans the table, so it records the definition itself (a pgoutput link
      // records none, and the restore takes its chain's full snapshot's, setting sequences past every id).
      expect(r.notCarriedOver.filter((n) => n.action !== 'converted')).toEqual([]);
      const ins = await db.query<{ id: string; tag: string }>(
        `INSERT INTO docs_r (e, n) VALUES ('[1,1]', 1) RETURNING id::text AS id, tag`,
      );
      expect(ins.rows[0]).toEqual({ id: '9', tag: 'none' });
      await expect(db.query(`INSERT INTO docs_r (e, n) VALUES ('[1,1]', 0)`)).rejects.toThrow(/check/);
    } finally {
      await db.close();
    }
  });
});
