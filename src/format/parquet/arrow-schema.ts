/**
 * The Arrow schema a segment embeds under the key-value metadata key `ARROW:schema` (base64 of an
 * encapsulated IPC Schema message), as parquet-wasm (arrow-rs) wrote it: Arrow-based readers (pyarrow,
 * arrow-rs) take the fixed-size list and fixed-size binary types from it, which Parquet cannot express.
 * Built once per layout with apache-arrow.
 */
import * as arrow from 'apache-arrow';

export interface ArrowSchemaLayout {
  idType: 'int64' | 'string' | 'uuid';
  /** Dense float32 vectors by `dims` (a fixed-size list), dense vectors of other elements by `width` (fixed-size binary). */
  vectors: ({ name: string; dims: number } | { name: string; width: number })[];
  prevDigest: boolean;
}

const cache = new Map<string, string>();

export function arrowSchemaBase64(layout: ArrowSchemaLayout, vectorPrefix: string): string {
  const key = JSON.stringify(layout);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const fields = [
    // Nullability as the Arrow table of the previous writer had it: int64 ids non-null, the rest nullable.
    layout.idType === 'int64' ? new arrow.Field('id', new arrow.Int64(), false) : new arrow.Field('id', new arrow.Utf8(), true),
    new arrow.Field('op', new arrow.Utf8(), true),
    new arrow.Field('digest', new arrow.FixedSizeBinary(32), true),
    new arrow.Field('payload', new arrow.Utf8(), true),
    ...(layout.prevDigest ? [new arrow.Field('prev_digest', new arrow.FixedSizeBinary(32), true)] : []),
    ...layout.vectors.map((v) =>
      'width' in v
        ? new arrow.Field(vectorPrefix + v.name, new arrow.FixedSizeBinary(v.width), true)
        : new arrow.Field(
            vectorPrefix + v.name,
            new arrow.FixedSizeList(v.dims, new arrow.Field('item', new arrow.Float32(), false)),
            true,
          ),
    ),
  ];
  const ipc = arrow.tableToIPC(new arrow.Table(new arrow.Schema(fields)), 'stream');
  // The stream starts with the Schema message: 0xFFFFFFFF, int32 metadata length, metadata (padded).
  const len = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength).getInt32(4, true);
  const b64 = Buffer.from(ipc.subarray(0, 8 + len)).toString('base64');
  if (cache.size > 64) cache.clear();
  cache.set(key, b64);
  return b64;
}
