/**
 * Milvus change capture, once per configured server (milvus-lite at MILVUS_ADDRESS, Milvus
 * standalone at MILVUS_STANDALONE_ADDRESS): the shared change-field chain on an Int64 field the
 * application maintains, and the fingerprint diff without it.
 */
import { describe, it } from 'vitest';
import { milvusAdapter } from '../../adapters/milvus/index.js';
import { testChangeField } from '../conformance/change-field-suite.js';
import { milvusTestServers } from '../helpers/engines.js';

const servers = milvusTestServers();

describe('milvus change capture', () => {
  if (servers.length === 0) it.skip('needs MILVUS_ADDRESS or MILVUS_STANDALONE_ADDRESS', () => undefined);
  for (const server of servers) {
    testChangeField({
      name: `milvus (${server.label})`,
      engine: 'milvus',
      adapter: (options) => milvusAdapter({ url: server.address, ...options }),
    });
  }
});
