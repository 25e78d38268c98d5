/**
 * The subset of weaviate-client v3 the adapter calls (gRPC data operations), and a small REST
 * helper for schema operations on raw class definitions. Declaring the subset keeps the adapter
 * independent of the client's generics and lets an app pass its own (possibly other) copy.
 */
import { z } from 'zod';
import { EngineError, NotFoundError } from '../../src/errors.js';
import { restError, unreachableError } from './weaviate-errors.js';
import { PLUGIN, type WeaviateClass, WeaviateClassSchema } from './weaviate-types.js';

export interface WeaviateObjectLike {
  uuid: string;
  properties: Record<string, unknown>;
  vectors: Record<string, unknown>;
  metadata?: { distance?: number; updateTime?: Date };
}

export interface WeaviateFilterLike {
  readonly operator: string;
}

/** A sort the client builds (`col.sort.byUpdateTime(true).byId(true)`); chained sorts apply in order. */
export interface WeaviateSortLike {
  byId(ascending?: boolean): WeaviateSortLike;
}

/** Filters on an object's time (`_lastUpdateTimeUnix`; needs `invertedIndexConfig.indexTimestamps`). */
export interface WeaviateTimeFilterLike {
  equal(value: Date): WeaviateFilterLike;
  greaterThan(value: Date): WeaviateFilterLike;
  greaterOrEqual(value: Date): WeaviateFilterLike;
}

export interface WeaviateCollectionLike {
  query: {
    fetchObjects(opts: {
      after?: string;
      limit?: number;
      includeVector?: boolean | string[];
      returnProperties?: string[];
      returnMetadata?: string[];
      filters?: WeaviateFilterLike;
      sort?: WeaviateSortLike;
    }): Promise<{ objects: WeaviateObjectLike[] }>;
    nearVector(
      vector: number[] | number[][],
      opts: { limit?: number; targetVector?: string; returnMetadata?: string[]; returnProperties?: string[]; filters?: WeaviateFilterLike },
    ): Promise<{ objects: WeaviateObjectLike[] }>;
  };
  data: {
    insertMany(
      objects: { id: string; properties: Record<string, unknown>; vectors?: Record<string, number[] | number[][]> | number[] }[],
    ): Promise<{
      hasErrors: boolean;
      errors: Record<number, { message: string }>;
    }>;
    deleteMany(where: WeaviateFilterLike): Promise<{ failed: number; matches: number; successful: number }>;
  };
  aggregate: { overAll(): Promise<{ totalCount: number }> };
  filter: {
    byId(): {
      equal(uuid: string): WeaviateFilterLike;
      containsAny(uuids: string[]): WeaviateFilterLike;
      notEqual(uuid: string): WeaviateFilterLike;
    };
    byUpdateTime(): WeaviateTimeFilterLike;
  };
  sort: { byUpdateTime(ascending?: boolean): WeaviateSortLike };
}

export interface WeaviateClientLike {
  collections: { use(name: string): WeaviateCollectionLike };
  close(): Promise<void>;
}

/** Minimal REST client for /v1/schema, /v1/meta, /v1/objects and /v1/nodes. */
export class WeaviateRest {
  constructor(
    private readonly base: string,
    readonly headers: () => Promise<Record<string, string>>,
    private readonly timeoutMs: number,
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; json: unknown; date: string | null }> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { ...(await this.headers()), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      // Never the URL's credentials: the base is validated to be a plain URL, and headers are not printed.
      throw unreachableError(`${method} ${path.split('?')[0]}: ${(err as Error).message}`, err);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json, date: res.headers.get('date') };
  }

  /**
   * The node's clock: the `Date` header of a readiness request (whole seconds, rounded down, so it
   * errs early, the safe side for a change-capture start), or the client's clock when the answer
   * has none (a proxy that strips it).
   */
  async clock(signal?: AbortSignal): Promise<{ ms: number; source: 'server' | 'client' }> {
    const before = Date.now();
    const { date } = await this.request('GET', '/v1/.well-known/ready', undefined, signal);
    const ms = date ? Date.parse(date) : NaN;
    return Number.isFinite(ms) ? { ms, source: 'server' } : { ms: before, source: 'client' };
  }

  /** Throws a typed error for a non-2xx answer. */
  async ok(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const { status, json } = await this.request(method, path, body, signal);
    if (status >= 200 && status < 300) return json;
    throw restError(method, path, status, json);
  }

  async getClass(className: string): Promise<WeaviateClass | undefined> {
    const { status, json } = await this.request('GET', `/v1/schema/${encodeURIComponent(className)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw restError('GET', '/v1/schema/{class}', status, json);
    const parsed = WeaviateClassSchema.safeParse(json);
    if (!parsed.success)
      throw new EngineError(
        `Weaviate answered GET /v1/schema/${className} with an unexpected class definition: ` + `${z.prettifyError(parsed.error)}`,
        'permanent',
        { plugin: PLUGIN },
      );
    return parsed.data;
  }

  async mustGetClass(className: string, collection: string): Promise<WeaviateClass> {
    const c = await this.getClass(className);
    if (!c)
      throw new NotFoundError(
        'COLLECTION_NOT_FOUND',
        `Weaviate collection ${JSON.stringify(collection)} (class ${className}) does not exist.`,
        { plugin: PLUGIN, details: { collection } },
      );
    return c;
  }
}
