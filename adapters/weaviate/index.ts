export { WeaviateAdapter, weaviateAdapter } from './weaviate-adapter.js';
export { WeaviateAdapterOptionsSchema } from './weaviate-options.js';
export type { WeaviateAdapterOptions } from './weaviate-options.js';
export { classNameOf, weaviateName } from './weaviate-types.js';
