/**
 * An adapter that keeps collections in memory and stores the vector kinds it is told to declare: the
 * source and target of the vector-kind tests (restore planning, parity, recall) and of the kind cases
 * of the conformance suite, without a server. Search is exact, by each kind's own similarity.
 */
import { type VectorAdapter, type VectorKindCapability, defineCapabilities } from '../../src/adapter.js';
import { ConflictError, NotFoundError, UnsupportedOperationError } from '../../src/errors.js';
import {
  type AnyVector,
  type CollectionSchema,
  type Id,
  type VectorQuery,
  type VectorRecord,
  batchFromRecords,
  describeKind,
  recordAt,
} from '../../src/model.js';
import { validateBatchVectors } from '../../src/validate.js';
import { kindDistance } from '../../src/verify/similarity.js';
import { storesKind } from './vector-kinds.js';

export const ALL_KINDS: VectorKindCapability = {
  dense: ['float32', 'float16', 'bfloat16', 'uint8', 'int8', 'binary'],
  sparse: true,
  multi: ['float32'],
};

interface Stored {
  schema: CollectionSchema;
  rows: Map<string, VectorRecord>;
  marker?: string;
}

function queryVector(q: Float32Array | VectorQuery): AnyVector {
  if (q instanceof Float32Array) return q;
  if ('dense' in q) return q.dense;
  return 'sparse' in q ? q.sparse : q.multi;
}

export function memoryAdapter(vectorKinds: VectorKindCapability = ALL_KINDS): VectorAdapter & { collections: Map<string, Stored> } {
  const collections = new Map<string, Stored>();
  const get = (name: string): Stored => {
    const c = collections.get(name);
    if (!c) throw new NotFoundError('COLLECTION_NOT_FOUND', `no collection ${name}`, { plugin: 'memory' });
    return c;
  };
  const preflightCreate = (schema: CollectionSchema): void => {
    for (const f of schema.vectors) {
      if (!storesKind(vectorKinds, f))
        throw new UnsupportedOperationError(`memory does not store ${describeKind(f)} vectors (${f.name})`, { plugin: 'memory' });
    }
  };
  return {
    engine: 'memory',
    capabilities: defineCapabilities({ idTypes: ['int64', 'string', 'uuid'], maxDims: 16_777_216, namedVectors: true, vectorKinds }),
    collections,
    async describe(name) {
      return get(name).schema;
    },
    async exists(name) {
      return collections.has(name);
    },
    async scan(name, options) {
      const c = get(name);
      const records = [...c.rows.values()];
      return {
        schema: c.schema,
        checkpoint: undefined,
        consistent: true,
        estimatedRows: records.length,
        async *batches() {
          for (let i = 0; i < records.length; i += options.batchSize)
            yield batchFromRecords(c.schema, records.slice(i, i + options.batchSize));
        },
        async close() {},
      };
    },
    preflightCreate,
    async create(schema) {
      preflightCreate(schema);
      if (collections.has(schema.name)) throw new ConflictError('TARGET_EXISTS', `${schema.name} exists`, { plugin: 'memory' });
      collections.set(schema.name, { schema: structuredClone(schema), rows: new Map() });
    },
    async buildIndexes() {
      return { built: [], skipped: [] };
    },
    async write(name, batch) {
      const c = get(name);
      validateBatchVectors(batch, c.schema.vectors, 'memory');
      for (let i = 0; i < batch.length; i++) {
        const r = recordAt(batch, i);
        c.rows.set(String(r.id), r);
      }
    },
    async readMarker(name) {
      return get(name).marker;
    },
    async writeMarker(name, marker) {
      const c = get(name);
      if (marker === undefined) delete c.marker;
      else c.marker = marker;
    },
    async drop(name) {
      collections.delete(name);
    },
    async delete(name, ids: Id[]) {
      const c = get(name);
      for (const id of ids) c.rows.delete(String(id));
    },
    async count(name) {
      return get(name).rows.size;
    },
    async fetch(name, ids) {
      const c = get(name);
      return ids.flatMap((id) => {
        const r = c.rows.get(String(id));
        return r ? [r] : [];
      });
    },
    async search(name, query, k, options) {
      const c = get(name);
      const field = options?.vector ? c.schema.vectors.find((v) => v.name === options.vector) : c.schema.vectors[0];
      if (!field) throw new NotFoundError('COLLECTION_NOT_FOUND', `no vector ${options?.vector}`, { plugin: 'memory' });
      const dist = kindDistance(field);
      const q = queryVector(query);
      return [...c.rows.values()]
        .flatMap((r) => {
          const v = r.vectors[field.name];
          return v == null ? [] : [{ id: r.id, score: dist(q, v) }];
        })
        .sort((a, b) => a.score - b.score)
        .slice(0, k);
    },
    async probe() {
      return { reachable: true, role: 'primary', latencyMs: 0 };
    },
    async describeEndpoint() {
      return { engineVersion: '1', endpoint: 'memory' };
    },
  };
}

/** A collection schema of the given vector fields (int64 ids, one payload field). */
export function kindSchema(name: string, vectors: readonly CollectionSchema['vectors'][number][]): CollectionSchema {
  return {
    name,
    idField: 'id',
    idType: 'int64',
    vectors: [...vectors],
    payload: [{ name: 'title', type: 'string', array: false, nullable: true }],
    indexes: [],
  };
}
