/**
 * Weaviate adapter: the shared conformance suite against a real Weaviate (weaviate-server built
 * from its Go module by scripts/weaviate-server.sh; WEAVIATE_URL, WEAVIATE_GRPC), Weaviate
 * specifics and bad input.
 */
import { describe } from 'vitest';
import { weaviateAdapter } from '../../adapters/weaviate/index.js';
import { testAdapter } from '../conformance/adapter-suite.js';
import { engineAvailable } from '../helpers/engines.js';

const url = process.env.WEAVIATE_URL;
const grpcAddress = process.env.WEAVIATE_GRPC;
const hasWeaviate = engineAvailable('weaviate', url !== undefined && grpcAddress !== undefined);

describe.runIf(hasWeaviate)('weaviate', () => {
  testAdapter({
    name: 'weaviate (weaviate-server over REST + gRPC)',
    rows: 1500,
    create: async () => {
      const adapter = weaviateAdapter({ url: url as string, grpcAddress: grpcAddress as string });
      return { adapter, cleanup: () => adapter.close() };
    },
  });
});
