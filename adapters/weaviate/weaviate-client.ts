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
  metadata?: { distance?: number };
}

export interface WeaviateFilterLike {
  readonly operator: string;
}

export interface WeaviateCollectionLike {
  query: {
    fetchObjects(opts: {
      after?: string;
      limit?: number;
      includeVector?: boolean | string[];
      returnProperties?: string[];
      filters?: WeaviateFilterLike;
    }): Promise<{ objects: WeaviateObjectLike[] }>;
    nearVector(
      vector: number[],
      opts: { limit?: number; targetVector?: string; returnMetadata?: string[]; returnProperties?: string[]; filters?: WeaviateFilterLike },
    ): Promise<{ objects: WeaviateObjectLike[] }>;
  };
  data: {
    insertMany(objects: { id: string; properties: Record<string, unknown>; vectors?: Record<string, number[]> | number[] }[]): Promise<{
      hasErrors: boolean;
      errors: Record<number, { message: string }>;
    }>;
    deleteMany(where: WeaviateFilterLike): Promise<{ failed: number; matches: number; successful: number }>;
  };
  aggregate: { overAll(): Promise<{ totalCount: number }> };
  filter: { byId(): { containsAny(uuids: string[]): WeaviateFilterLike; notEqual(uuid: string): WeaviateFilterLike } };
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

  async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; json: unknown }> {
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
    return { status: res.status, json };
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
