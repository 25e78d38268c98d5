/**
 * Connects the engine a command needs, loading its adapter (and client package) only then: a user
 * of pgvector never loads weaviate-client. The engine clients are optional peers of vectordr, so a
 * missing one is reported with the install command.
 */
import type { PoolConfig } from 'pg';
import { type Logger, UnsupportedOperationError, type VectorAdapter } from '../index.js';
import type { EngineSettings } from './settings.js';

export interface OpenedEngine {
  adapter: VectorAdapter;
  /** Closes the adapter and the client the CLI made for it. */
  close(): Promise<void>;
}

/** The package an engine needs beside vectordr. */
const CLIENT_PACKAGE: Record<EngineSettings['engine'], string> = {
  pgvector: 'pg',
  qdrant: '@qdrant/js-client-rest',
  milvus: '@zilliz/milvus2-sdk-node',
  weaviate: 'weaviate-client',
};

/** Runs `load`; a package that is not installed becomes an error naming the install command. */
async function loading<T>(engine: EngineSettings['engine'], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
    const pkg = CLIENT_PACKAGE[engine];
    throw new UnsupportedOperationError(`The ${engine} engine needs the package ${pkg}, which is not installed: npm install ${pkg}`, {
      plugin: 'cli',
    });
  }
}

export async function openEngine(s: EngineSettings, logger: Logger): Promise<OpenedEngine> {
  switch (s.engine) {
    case 'pgvector': {
      const [{ default: pg }, { pgvectorAdapter }] = await loading(s.engine, () =>
        Promise.all([import('pg'), import('../../adapters/pgvector/index.js')]),
      );
      const config: PoolConfig = { connectionString: s.url, max: 4, application_name: 'vectordr' };
      const pool = new pg.Pool(config);
      // A connection lost while idle is reported here; the operation in flight fails by itself.
      pool.on('error', (err) => logger.warn({ error: err.message }, 'PostgreSQL connection lost'));
      const adapter: VectorAdapter = pgvectorAdapter({ pool, logger, ...(s.schema === undefined ? {} : { schema: s.schema }) });
      return {
        adapter,
        close: async () => {
          await adapter.close?.();
          await pool.end();
        },
      };
    }
    case 'qdrant': {
      const { qdrantAdapter } = await loading(s.engine, () => import('../../adapters/qdrant/index.js'));
      const adapter: VectorAdapter = qdrantAdapter({ url: s.url, logger, ...(s.apiKey === undefined ? {} : { apiKey: s.apiKey }) });
      return { adapter, close: async () => adapter.close?.() };
    }
    case 'milvus': {
      const { milvusAdapter } = await loading(s.engine, () => import('../../adapters/milvus/index.js'));
      const adapter: VectorAdapter = milvusAdapter({
        url: s.address,
        logger,
        ...(s.token === undefined ? {} : { apiKey: s.token }),
        ...(s.database === undefined ? {} : { database: s.database }),
      });
      return { adapter, close: async () => adapter.close?.() };
    }
    case 'weaviate': {
      const { weaviateAdapter } = await loading(s.engine, () => import('../../adapters/weaviate/index.js'));
      const adapter: VectorAdapter = weaviateAdapter({
        url: s.url,
        logger,
        ...(s.grpc === undefined ? {} : { grpcAddress: s.grpc }),
        ...(s.apiKey === undefined ? {} : { apiKey: s.apiKey }),
      });
      return { adapter, close: async () => adapter.close?.() };
    }
  }
}
