/**
 * How the adapter reaches one Weaviate: the REST helper (schema, markers, meta), the weaviate-client
 * gRPC client (reads, search, deletes; connected lazily unless the app gave one) and vectordr's own
 * gRPC session of the calls it encodes itself (writes, scan pages). Holds the parsed options every concern reads.
 */
import weaviate, { ApiKey } from 'weaviate-client';
import { z } from 'zod';
import type { ProbeResult } from '../../src/adapter.js';
import { InvalidInputError } from '../../src/errors.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { type WeaviateClientLike, type WeaviateCollectionLike, WeaviateRest } from './weaviate-client.js';
import { unreachableError } from './weaviate-errors.js';
import { WeaviateGrpc } from './weaviate-grpc.js';
import { WeaviateAdapterOptionsSchema } from './weaviate-options.js';
import { PendingWrites } from './weaviate-pending-writes.js';
import { PLUGIN } from './weaviate-types.js';

type ConnectionDetails = { bearerToken?: string; headers?: Record<string, string> };

export class WeaviateConnection {
  readonly options: z.output<typeof WeaviateAdapterOptionsSchema>;
  readonly logger: Logger;
  readonly rest: WeaviateRest;
  /** What manifests record: `endpointLabel`, else the REST base URL (never credentials). */
  readonly endpoint: string;
  private clientPromise: Promise<WeaviateClientLike> | undefined;
  private readonly ownsClient: boolean;
  private modules: Promise<Set<string>> | undefined;
  private grpcSession: WeaviateGrpc | undefined;
  /** Unanswered batch requests and queued markers, by class (weaviate-pending-writes.ts). */
  private readonly pendingByClass = new Map<string, PendingWrites>();

  constructor(o: z.output<typeof WeaviateAdapterOptionsSchema>) {
    this.options = o;
    this.logger = o.logger ?? silentLogger;
    const url = new URL(o.url);
    if (url.username || url.password) {
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        'Invalid Weaviate adapter options: put credentials in apiKey or headers, not in url (URLs end up in logs).',
        { plugin: PLUGIN },
      );
    }
    const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.endpoint = o.endpointLabel ?? base;
    this.ownsClient = o.client === undefined;
    if (o.client) this.clientPromise = Promise.resolve(o.client as unknown as WeaviateClientLike);
    const staticHeaders: Record<string, string> = { ...(o.headers ?? {}), ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}) };
    const given = o.client as unknown as { getConnectionDetails?: () => Promise<ConnectionDetails> } | undefined;
    const headers = async (): Promise<Record<string, string>> => {
      if (!given?.getConnectionDetails) return staticHeaders;
      const d = await given.getConnectionDetails();
      return { ...staticHeaders, ...(d.headers ?? {}), ...(d.bearerToken ? { authorization: d.bearerToken } : {}) };
    };
    this.rest = new WeaviateRest(base, headers, o.timeoutMs);
  }

  client(): Promise<WeaviateClientLike> {
    if (!this.clientPromise) {
      const o = this.options;
      const url = new URL(o.url);
      const secure = url.protocol === 'https:';
      const [grpcHost, grpcPort] = o.grpcAddress ? (o.grpcAddress.split(':') as [string, string]) : [url.hostname, '50051'];
      const seconds = Math.ceil(o.timeoutMs / 1000);
      this.clientPromise = weaviate
        .connectToCustom({
          httpHost: url.hostname,
          httpPort: Number(url.port || (secure ? 443 : 80)),
          httpSecure: secure,
          httpPath: url.pathname.replace(/\/+$/, '') || undefined,
          grpcHost,
          grpcPort: Number(grpcPort),
          grpcSecure: o.grpcSecure ?? secure,
          authCredentials: o.apiKey ? new ApiKey(o.apiKey) : undefined,
          headers: o.headers,
          timeout: { query: seconds, insert: seconds, init: 30 },
        })
        .then((c) => c as unknown as WeaviateClientLike)
        .catch((err: unknown) => {
          this.clientPromise = undefined;
          throw unreachableError(
            `Cannot connect to Weaviate at ${this.endpoint} (gRPC ${grpcHost}:${grpcPort}): ${(err as Error).message}`,
            err,
          );
        });
    }
    return this.clientPromise;
  }

  async collection(className: string): Promise<WeaviateCollectionLike> {
    return (await this.client()).collections.use(className);
  }

  /** The gRPC session of the calls vectordr encodes itself (writes, scan pages; weaviate-grpc.ts), opened on first use. */
  grpc(): WeaviateGrpc {
    if (!this.grpcSession) {
      const o = this.options;
      const url = new URL(o.url);
      const secure = o.grpcSecure ?? url.protocol === 'https:';
      const address = o.grpcAddress ?? `${url.hostname}:50051`;
      this.grpcSession = new WeaviateGrpc(`${secure ? 'https' : 'http'}://${address}`, () => this.rest.headers(), o.timeoutMs);
    }
    return this.grpcSession;
  }

  /** The writes of `className` in flight. */
  pending(className: string): PendingWrites {
    let p = this.pendingByClass.get(className);
    if (!p) {
      p = new PendingWrites(this.options.writeConcurrency);
      this.pendingByClass.set(className, p);
    }
    return p;
  }

  /**
   * Waits until every write of `className` sent so far was answered and its markers written; throws
   * the first that failed. Everything that reads, deletes or depends on stored rows calls it first.
   */
  async settle(className: string): Promise<void> {
    await this.pendingByClass.get(className)?.settle();
  }

  /** The modules this Weaviate has enabled (vectorizers), read once; `none` always. */
  enabledModules(): Promise<Set<string>> {
    this.modules ??= this.rest
      .ok('GET', '/v1/meta')
      .then((m) => new Set(['none', ...Object.keys((m as { modules?: Record<string, unknown> }).modules ?? {})]))
      .catch((err: unknown) => {
        this.modules = undefined;
        throw err;
      });
    return this.modules;
  }

  async probe(): Promise<ProbeResult> {
    const t0 = performance.now();
    try {
      const ready = await this.rest.request('GET', '/v1/.well-known/ready');
      const latencyMs = performance.now() - t0;
      if (ready.status !== 200) return { reachable: false, role: 'unknown', latencyMs, error: `not ready (HTTP ${ready.status})` };
      const meta = (await this.rest.ok('GET', '/v1/meta').catch(() => undefined)) as { version?: string } | undefined;
      return { reachable: true, role: 'primary', latencyMs, ...(meta?.version ? { engineVersion: meta.version } : {}) };
    } catch (err) {
      return { reachable: false, role: 'unknown', latencyMs: performance.now() - t0, error: (err as Error).message };
    }
  }

  async describeEndpoint(): Promise<{ engineVersion: string; endpoint: string }> {
    const meta = (await this.rest.ok('GET', '/v1/meta').catch(() => undefined)) as { version?: string } | undefined;
    return { engineVersion: meta?.version ?? 'unknown', endpoint: this.endpoint };
  }

  /**
   * Waits for the writes in flight, then closes the gRPC session, and the client when the
   * adapter connected it itself; throws the first write that failed (after closing).
   */
  async close(): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const className of [...this.pendingByClass.keys()]) {
      await this.settle(className).catch((error: unknown) => {
        failure ??= { error };
      });
    }
    this.grpcSession?.close();
    this.grpcSession = undefined;
    const p = this.clientPromise;
    this.clientPromise = undefined;
    if (this.ownsClient && p) await (await p.catch(() => undefined))?.close();
    if (failure) throw failure.error;
  }
}
