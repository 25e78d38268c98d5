/**
 * Engine selection for integration suites. An engine suite runs when its connection settings are
 * present; `VECTORDR_REQUIRE_ENGINES=pgvector,pglite` (set by scripts/test-all.sh and CI) turns a
 * missing engine into a failure instead of a skip, so CI can never pass by skipping.
 */
import type { VectorAdapter } from '../../src/adapter.js';

const required = new Set(
  (process.env.VECTORDR_REQUIRE_ENGINES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export function engineAvailable(name: string, available: boolean): boolean {
  if (!available && required.has(name)) {
    throw new Error(
      `Engine suite "${name}" is required (VECTORDR_REQUIRE_ENGINES) but its server is not ` +
        `configured; start it with scripts/test-all.sh.`,
    );
  }
  return available;
}

export function randomName(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
}

/** Random names a suite hands out and remembers, so that its afterAll can drop every one. */
export interface CreatedNames {
  /** A fresh random name with this prefix, remembered in `created`. */
  name(prefix: string): string;
  /** Every name handed out so far, in order. */
  readonly created: string[];
}

/** `const { name, created } = createdNames();` then `for (const c of created) await adapter.drop(c)` in afterAll. */
export function createdNames(): CreatedNames {
  const created: string[] = [];
  const name = (prefix: string): string => {
    const n = randomName(prefix);
    created.push(n);
    return n;
  };
  return { name, created };
}

/** A Milvus-protocol server the Milvus suites run against. */
export interface MilvusTestServer {
  /** The VECTORDR_REQUIRE_ENGINES name. */
  readonly engine: 'milvus' | 'milvus-standalone';
  /** For test titles. */
  readonly label: string;
  readonly address: string;
}

/**
 * Every configured Milvus server: milvus-lite (MILVUS_ADDRESS, scripts/milvus-server.sh) and the
 * real Milvus standalone (MILVUS_STANDALONE_ADDRESS, scripts/milvus-standalone.sh). The Milvus
 * suites run their cases once per server; what differs between them is decided by what the adapter
 * reads from the server (`adapter.server()`), never by which one it is.
 */
export function milvusTestServers(): MilvusTestServer[] {
  const servers: [MilvusTestServer['engine'], string, string | undefined][] = [
    ['milvus', 'milvus-lite', process.env.MILVUS_ADDRESS],
    ['milvus-standalone', 'Milvus standalone', process.env.MILVUS_STANDALONE_ADDRESS],
  ];
  return servers
    .filter(([engine, , address]) => engineAvailable(engine, address !== undefined))
    .map(([engine, label, address]) => ({ engine, label, address: address as string }));
}

/** An engine of the cross-engine matrix, connected for a suite. */
export interface StartedTestEngine {
  readonly adapter: VectorAdapter;
  /** Requests or responses outside the engine's API schema, where a test server checks them (the Qdrant test server). */
  violations?(): readonly string[];
  /** Closes the adapter and whatever `start()` opened for it. */
  close(): Promise<void>;
}

/**
 * One engine the cross-engine matrix (test/cross/matrix.test.ts) pairs with every other. Adding an
 * engine to the matrix is one entry in `TEST_ENGINES`: it joins every pair when `configured()`.
 */
export interface TestEngine {
  /** The matrix's title for it, and its VECTORDR_REQUIRE_ENGINES name. */
  readonly name: string;
  /** Its server settings are in the environment (or it needs none). */
  configured(): boolean;
  /** The matrix runs only when every core engine is configured. @default false */
  readonly core?: boolean;
  /** A second server of this core engine (same adapter): paired with the core engines only, which keeps the matrix's run time. */
  readonly variantOf?: string;
  /** An in-process stand-in for the engine (the OpenAPI-validating Qdrant test server), not a real server. @default false */
  readonly inProcess?: boolean;
  /** Connects (or starts an in-process test server). Adapter modules load here, so suites that only import helpers stay light. */
  start(): Promise<StartedTestEngine>;
}

const setting = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const adapterOnly = (adapter: VectorAdapter): StartedTestEngine => ({ adapter, close: async () => adapter.close?.() });

const qdrantApiKey = (): { apiKey?: string } => (process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {});

/**
 * The test engine registry, in matrix order: pgvector, Milvus and Weaviate are real servers; `qdrant`
 * is the OpenAPI-validating test server (in-process); `qdrant-real` a real Qdrant (QDRANT_URL);
 * `milvus-standalone` the real Milvus standalone beside milvus-lite.
 */
export const TEST_ENGINES: readonly TestEngine[] = [
  {
    name: 'pgvector',
    core: true,
    configured: () => process.env.PG_URL !== undefined,
    start: async () => {
      const [{ pgvectorAdapter }, { pgvectorPool }] = await Promise.all([import('../../adapters/pgvector/index.js'), import('./pg.js')]);
      const pool = await pgvectorPool(setting('PG_URL'));
      const adapter: VectorAdapter = pgvectorAdapter({ pool });
      const close = async (): Promise<void> => {
        await adapter.close?.();
        await pool.end();
      };
      return { adapter, close };
    },
  },
  {
    name: 'milvus',
    core: true,
    configured: () => process.env.MILVUS_ADDRESS !== undefined,
    start: async () => adapterOnly((await import('../../adapters/milvus/index.js')).milvusAdapter({ url: setting('MILVUS_ADDRESS') })),
  },
  {
    name: 'weaviate',
    core: true,
    configured: () => process.env.WEAVIATE_URL !== undefined && process.env.WEAVIATE_GRPC !== undefined,
    start: async () =>
      adapterOnly(
        (await import('../../adapters/weaviate/index.js')).weaviateAdapter({
          url: setting('WEAVIATE_URL'),
          grpcAddress: setting('WEAVIATE_GRPC'),
        }),
      ),
  },
  {
    name: 'qdrant',
    core: true,
    inProcess: true,
    configured: () => true,
    start: async () => {
      const { qdrantAdapter } = await import('../../adapters/qdrant/index.js');
      const { startQdrantTestServer } = await import('../qdrant/qdrant-test-server.js');
      const server = await startQdrantTestServer();
      const adapter: VectorAdapter = qdrantAdapter({ url: server.url });
      const close = async (): Promise<void> => {
        await adapter.close?.();
        await server.close();
      };
      return { adapter, violations: () => [...server.violations], close };
    },
  },
  {
    name: 'qdrant-real',
    configured: () => process.env.QDRANT_URL !== undefined,
    start: async () =>
      adapterOnly((await import('../../adapters/qdrant/index.js')).qdrantAdapter({ url: setting('QDRANT_URL'), ...qdrantApiKey() })),
  },
  {
    name: 'milvus-standalone',
    variantOf: 'milvus',
    configured: () => process.env.MILVUS_STANDALONE_ADDRESS !== undefined,
    start: async () =>
      adapterOnly((await import('../../adapters/milvus/index.js')).milvusAdapter({ url: setting('MILVUS_STANDALONE_ADDRESS') })),
  },
];
