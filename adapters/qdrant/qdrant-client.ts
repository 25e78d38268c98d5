/**
 * The part of @qdrant/js-client-rest the adapter uses, declared here (kysely's way with `pg`), and
 * how the adapter gets one: its own client from `url`, or the caller's. Also the reachability probe.
 */
import { QdrantClient } from '@qdrant/js-client-rest';
import type { ProbeResult } from '../../src/adapter.js';
import { InvalidInputError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { QdrantAdapterConfig } from './qdrant-options.js';
import { GrpcChannel, QdrantGrpcTransport, grpcUrlFor } from './qdrant-grpc-client.js';
import { PLUGIN } from './qdrant-types.js';

export type PointId = number | string | bigint;

/** A point as `scroll`, `retrieve` and `query` return it. */
export interface PointLike {
  id: PointId;
  payload?: Record<string, unknown> | null;
  vector?: number[] | Record<string, unknown> | null;
  score?: number;
}

/** A point as `upsert` takes it. */
export interface PointStruct {
  id: PointId;
  vector: number[] | Record<string, number[]>;
  payload: Record<string, unknown>;
}

/** The subset of QdrantClient the adapter calls. */
export interface QdrantLike {
  getCollection(name: string): Promise<Record<string, unknown>>;
  collectionExists(name: string): Promise<{ exists: boolean }>;
  /** The generated REST API: its createCollection forwards every field (the client's own drops `metadata`). */
  api(): { createCollection(args: Record<string, unknown>): Promise<{ data: { result?: boolean | null } }> };
  updateCollection(name: string, body: Record<string, unknown>): Promise<boolean>;
  deleteCollection(name: string): Promise<boolean>;
  createPayloadIndex(name: string, body: Record<string, unknown>): Promise<unknown>;
  upsert(name: string, body: { wait: boolean; points: PointStruct[] }): Promise<unknown>;
  scroll(
    name: string,
    body: Record<string, unknown>,
  ): Promise<{ points: PointLike[]; next_page_offset?: PointId | Record<string, unknown> | null }>;
  count(name: string, body: { exact: boolean; filter?: Record<string, unknown> }): Promise<{ count: number }>;
  retrieve(name: string, body: Record<string, unknown>): Promise<PointLike[]>;
  delete(name: string, body: Record<string, unknown>): Promise<unknown>;
  query(name: string, body: Record<string, unknown>): Promise<{ points: PointLike[] }>;
  versionInfo(): Promise<{ version?: string }>;
}

/** What every concern of the adapter works with: the client, the parsed options, the logger. */
export interface QdrantContext {
  readonly client: QdrantLike;
  readonly options: QdrantAdapterConfig;
  readonly logger: Logger;
  /** Where scans and writes move points over gRPC; undefined: REST (`transport: 'rest'`, or a client without grpcUrl). */
  readonly grpc?: QdrantGrpcTransport | undefined;
}

/** The client to use and the endpoint label recorded in manifests (never a credential). */
/**
 * The REST client puts a collection name into the URL path as it is, and a path normalises `.` and
 * `..` away: `exists('.')` would ask about a collection named `collections`. Every call whose first
 * argument (the collection, in every collection-scoped call) is one of them is refused here, at the
 * one boundary all REST calls pass, with the INVALID_IDENTIFIER the name check gives.
 */
function refusePathNames(client: QdrantLike): QdrantLike {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (args[0] === '.' || args[0] === '..') {
          throw new InvalidInputError(
            'INVALID_IDENTIFIER',
            `Qdrant collection name ${JSON.stringify(args[0])} is refused: a URL path normalises it away, so the request would ` +
              `reach another resource. Use another name.`,
            { plugin: PLUGIN },
          );
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export function connectQdrant(o: QdrantAdapterConfig): { client: QdrantLike; endpoint: string } {
  if (o.client)
    return { client: refusePathNames(o.client as unknown as QdrantLike), endpoint: o.endpointLabel ?? 'qdrant (caller client)' };
  const url = new URL(o.url as string);
  if (url.username || url.password) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      'Invalid Qdrant adapter options: put the API key in apiKey, not in url (URLs end up in logs).',
      { plugin: PLUGIN },
    );
  }
  const client = new QdrantClient({
    url: o.url as string,
    apiKey: o.apiKey,
    timeout: o.timeoutMs,
    checkCompatibility: false,
  }) as unknown as QdrantLike;
  return { client: refusePathNames(client), endpoint: o.endpointLabel ?? `${url.origin}${url.pathname.replace(/\/+$/, '')}` };
}

/** The gRPC transport the options ask for: `grpcUrl`, else the REST URL's port + 1; none for `rest` or a client alone. */
export function connectQdrantGrpc(o: QdrantAdapterConfig, logger: Logger): QdrantGrpcTransport | undefined {
  if (o.transport === 'rest') return undefined;
  const url = o.grpcUrl ?? (o.url ? grpcUrlFor(o.url) : undefined);
  if (url === undefined) return undefined;
  const channel = new GrpcChannel({ url, apiKey: o.apiKey, timeoutMs: o.timeoutMs, logger });
  return new QdrantGrpcTransport(channel, o.transport, url, logger);
}

/** `/readyz` (when the adapter has the URL), then the version. Never throws: an unreachable server is a result. */
export async function probeQdrant(ctx: QdrantContext): Promise<ProbeResult> {
  const { client, options } = ctx;
  const t0 = performance.now();
  try {
    if (options.url) {
      const ready = await fetch(`${options.url.replace(/\/+$/, '')}/readyz`, {
        signal: AbortSignal.timeout(Math.min(options.timeoutMs, 10_000)),
      });
      await ready.text();
      if (ready.status !== 200)
        return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: `not ready (HTTP ${ready.status})` };
    }
    const v = await client.versionInfo();
    return { reachable: true, role: 'primary', latencyMs: performance.now() - t0, ...(v.version ? { engineVersion: v.version } : {}) };
  } catch (err) {
    return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: (err as Error).message };
  }
}
