/**
 * The Milvus client the adapter works through, and what every part of the adapter shares: the
 * client, the parsed options, the logger and what the server can do.
 */
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { InvalidInputError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ParsedMilvusOptions } from './milvus-options.js';
import { PLUGIN } from './milvus-types.js';
import type { MilvusServerInfo } from './milvus-version.js';

/** What the describe, scan, write, marker and search parts of the adapter are given. */
export interface MilvusContext {
  readonly client: MilvusClient;
  readonly options: ParsedMilvusOptions;
  readonly logger: Logger;
  /** The server's version and what it can store (asked once; see `MilvusAdapter.server`). */
  server(): Promise<MilvusServerInfo>;
}

export interface OpenedClient {
  readonly client: MilvusClient;
  /** The adapter created the client, so it closes it; a caller's client is never closed. */
  readonly ownsClient: boolean;
  /** Where the adapter writes to, as recorded in manifests (never credentials). */
  readonly endpoint: string;
}

/** The caller's client, or a new one for `url`. */
export function openClient(o: ParsedMilvusOptions): OpenedClient {
  if (o.client) return { client: o.client, ownsClient: false, endpoint: o.endpointLabel ?? 'milvus (caller client)' };
  const address = o.url as string;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(address)) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      'Invalid Milvus adapter options: put the credentials in apiKey, not in url (URLs end up in logs).',
      { plugin: PLUGIN },
    );
  }
  // The SDK logs to the console through a process-wide winston logger (debug under NODE_ENV=test);
  // a library must not, so the clients it creates turn that down to errors.
  const client = new MilvusClient({
    address,
    token: o.apiKey,
    database: o.database,
    ssl: o.ssl,
    logLevel: o.sdkLogLevel,
    timeout: o.timeoutMs,
  });
  return { client, ownsClient: true, endpoint: o.endpointLabel ?? `${address}${o.database ? `/${o.database}` : ''}` };
}
