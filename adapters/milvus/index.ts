export { MilvusAdapter, milvusAdapter } from './milvus-adapter.js';
export { MilvusAdapterOptionsSchema } from './milvus-options.js';
export type { MilvusAdapterOptions } from './milvus-options.js';
