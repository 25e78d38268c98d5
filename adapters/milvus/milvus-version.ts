/**
 * Which Milvus servers the adapter supports, and what each can store. The adapter asks the server
 * once (`getVersion`) and decides from the answer, never from the address or a guess:
 *
 * - Milvus < 2.3 is refused: no Array fields, no upsert, and its query results are not ordered by
 *   primary key, which the keyset scan relies on.
 * - Milvus 2.3 and 2.4 have no nullable scalar fields and no `dropCollectionProperties`: the adapter
 *   keeps nullable payload fields as keys of the dynamic field (absent == null) and clears its
 *   restore marker by setting it to the empty string.
 * - Milvus >= 2.5 and milvus-lite 3.x have both.
 * - Milvus (2.3.5 tested; later releases not known otherwise) stores a row whose Int64 primary key
 *   is 2^63-1 but no query returns it, so such ids are refused on write; milvus-lite returns them.
 * - Vector kinds (milvus-vectors.ts): Milvus 2.3+ stores Float16Vector and BinaryVector (2.3.5
 *   tested), SparseFloatVector from 2.4; milvus-lite 3 stores SparseFloatVector (3.2.2 tested) and
 *   refuses Float16Vector and BinaryVector at create. A server the adapter cannot read the version
 *   of is taken as a current Milvus (every kind): it refuses what it lacks itself.
 */
import type { VectorKindCapability } from '../../src/adapter.js';
import { UnsupportedOperationError } from '../../src/errors.js';
import { PLUGIN } from './milvus-types.js';
import { DECLARED_VECTOR_KINDS } from './milvus-vectors.js';

/** The oldest Milvus release the adapter supports. */
export const MIN_MILVUS_VERSION = '2.3.0';
/** The first Milvus release with nullable scalar fields and `dropCollectionProperties`. */
const NULLABLE_SINCE: readonly [number, number] = [2, 5];
/** The first Milvus release with SparseFloatVector fields. */
const SPARSE_SINCE: readonly [number, number] = [2, 4];

/** milvus-lite 3: dense float32 and sparse. */
const LITE_KINDS: VectorKindCapability = Object.freeze({
  dense: Object.freeze(['float32'] as const),
  sparse: true,
  multi: Object.freeze([] as const),
});
/** Milvus 2.3: dense float32, float16 and binary, no sparse. */
const MILVUS_2_3_KINDS: VectorKindCapability = Object.freeze({ ...DECLARED_VECTOR_KINDS, sparse: false });
/** A server older than the kinds it is asked about: float32 only (milvus-lite 2). */
const FLOAT32_ONLY: VectorKindCapability = Object.freeze({
  dense: Object.freeze(['float32'] as const),
  sparse: false,
  multi: Object.freeze([] as const),
});

export interface MilvusServerInfo {
  /** As the server reports it: `v2.3.5-lite` (PyPI `milvus`), `v2.5.4`, `milvus_lite-3.2.2`. */
  readonly version: string;
  /** Scalar fields can be created nullable and take null values (Milvus >= 2.5, milvus-lite 3). */
  readonly nullableFields: boolean;
  /** `dropCollectionProperties` exists (Milvus >= 2.5, milvus-lite 3). */
  readonly dropProperties: boolean;
  /** A row with Int64 primary key 2^63-1 can be read back (milvus-lite; not Milvus 2.3.5). */
  readonly readsMaxInt64Key: boolean;
  /** milvus-lite: writes to one collection must not overlap (one request at a time). */
  readonly serialWrites: boolean;
  /**
   * Search on a Float16Vector field gives right distances: not Milvus 2.3 (2.3.5 returns wrong ones,
   * milvus-vectors.ts), so the adapter refuses it there instead of answering wrongly.
   */
  readonly float16Search: boolean;
  /**
   * A loaded collection takes float16 rows: not Milvus 2.3 (2.3.5's query node panics, "unsupported
   * data type: Float16Vector", when it merges two inserts of a float16 field, and the whole server
   * stops). There the adapter writes float16 rows only into a collection that is not loaded, and
   * flushes before it loads one.
   */
  readonly float16WhileLoaded: boolean;
  /** More than one vector field per collection (Milvus 2.4 and later, milvus-lite 3). */
  readonly multipleVectorFields: boolean;
  /** The vector kinds this server stores exactly (the adapter's `capabilities.vectorKinds` once it has asked). */
  readonly vectorKinds: VectorKindCapability;
}

/**
 * What a server of this version can do, or UNSUPPORTED_OPERATION for a Milvus older than 2.3. A
 * version string the adapter cannot read (a managed service's own wording) is taken as a current
 * Milvus: the server then refuses what it lacks itself.
 */
export function milvusServerInfo(version: string): MilvusServerInfo {
  const lite = /^milvus[_-]lite-(\d+)\./i.exec(version);
  if (lite) {
    const v3 = Number(lite[1]) >= 3;
    const vectorKinds = v3 ? LITE_KINDS : FLOAT32_ONLY;
    return {
      version,
      nullableFields: v3,
      dropProperties: v3,
      readsMaxInt64Key: true,
      serialWrites: true,
      vectorKinds,
      float16Search: true,
      float16WhileLoaded: true,
      multipleVectorFields: v3,
    };
  }
  const m = /(?:^v?|milvus\s*v?)(\d+)\.(\d+)(?:\.(\d+))?/i.exec(version);
  if (!m) {
    return {
      version,
      nullableFields: true,
      dropProperties: true,
      readsMaxInt64Key: false,
      serialWrites: false,
      vectorKinds: DECLARED_VECTOR_KINDS,
      float16Search: true,
      float16WhileLoaded: true,
      multipleVectorFields: true,
    };
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const [minMajor, minMinor] = MIN_MILVUS_VERSION.split('.').map(Number) as [number, number];
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    throw new UnsupportedOperationError(
      `The Milvus server reports version ${JSON.stringify(version)}; vectordr supports Milvus ` +
        `${MIN_MILVUS_VERSION} and later (Array fields, upsert, query results ordered by primary ` +
        `key, which the snapshot scan relies on). Nothing was read or written: upgrade Milvus to ` +
        `2.3 or later.`,
      { plugin: PLUGIN, details: { version, minimum: MIN_MILVUS_VERSION } },
    );
  }
  const atLeast = (v: readonly [number, number]): boolean => major > v[0] || (major === v[0] && minor >= v[1]);
  const nullable = atLeast(NULLABLE_SINCE);
  const current = atLeast(SPARSE_SINCE);
  const vectorKinds = current ? DECLARED_VECTOR_KINDS : MILVUS_2_3_KINDS;
  return {
    version,
    nullableFields: nullable,
    dropProperties: nullable,
    readsMaxInt64Key: false,
    serialWrites: false,
    vectorKinds,
    float16Search: current,
    float16WhileLoaded: current,
    multipleVectorFields: current,
  };
}
