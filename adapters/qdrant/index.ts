export { QdrantAdapter, qdrantAdapter } from './qdrant-adapter.js';
export { QdrantAdapterOptionsSchema } from './qdrant-options.js';
export type { QdrantAdapterOptions } from './qdrant-options.js';
export { pointId } from './qdrant-types.js';
