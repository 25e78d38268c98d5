/** The Parquet enum values (parquet.thrift) that segments use. */

export const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // "PAR1"

export const Type = { INT64: 2, FLOAT: 4, BYTE_ARRAY: 6, FIXED_LEN_BYTE_ARRAY: 7 } as const;
export const Repetition = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
export const ConvertedType = { UTF8: 0, LIST: 3 } as const;
export const Encoding = { PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3, RLE_DICTIONARY: 8 } as const;
export const Codec = { UNCOMPRESSED: 0, ZSTD: 6 } as const;
export const PageType = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;

/** Field ids of the structs read and written (parquet.thrift). */
export const FileMetaDataField = {
  version: 1,
  schema: 2,
  numRows: 3,
  rowGroups: 4,
  keyValueMetadata: 5,
  createdBy: 6,
  columnOrders: 7,
} as const;
export const SchemaField = { type: 1, typeLength: 2, repetition: 3, name: 4, numChildren: 5, convertedType: 6, logicalType: 10 } as const;
export const RowGroupField = { columns: 1, totalByteSize: 2, numRows: 3, fileOffset: 5, totalCompressedSize: 6, ordinal: 7 } as const;
export const ColumnChunkField = { filePath: 1, fileOffset: 2, metaData: 3 } as const;
export const ColumnMetaDataField = {
  type: 1,
  encodings: 2,
  pathInSchema: 3,
  codec: 4,
  numValues: 5,
  totalUncompressedSize: 6,
  totalCompressedSize: 7,
  dataPageOffset: 9,
  dictionaryPageOffset: 11,
  statistics: 12,
  encodingStats: 13,
} as const;
export const StatisticsField = { max: 1, min: 2, nullCount: 3, maxValue: 5, minValue: 6, isMaxExact: 7, isMinExact: 8 } as const;
export const PageHeaderField = { type: 1, uncompressedSize: 2, compressedSize: 3, crc: 4, dataPage: 5, dictionaryPage: 7 } as const;
export const DataPageHeaderField = { numValues: 1, encoding: 2, defEncoding: 3, repEncoding: 4 } as const;
export const DictionaryPageHeaderField = { numValues: 1, encoding: 2 } as const;
/** LogicalType union members. */
export const LogicalTypeField = { STRING: 1, LIST: 3 } as const;
