/**
 * S3 and S3-compatible storage (AWS S3, MinIO, SeaweedFS, Ceph RGW, R2, ...) on @aws-sdk/client-s3.
 *
 *   import { s3Storage } from 'vectordr/storage/s3';
 *   const storage = s3Storage({ bucket: 'dr', prefix: 'vectordr/prod', region: 'eu-west-1' });
 *
 * - Create-only puts (manifests, locks, the repository config) use `If-None-Match: *`, so two writers
 *   can never overwrite each other; the server decides, not a list-then-write race.
 * - Every request is retried with exponential backoff and full jitter on transient failures
 *   (connection resets, timeouts, 500/502/503/504, SlowDown, 429); permanent ones (no such bucket,
 *   access denied, not an S3 endpoint) fail at once with a typed error that says what to fix. The
 *   retry loop is ours, not the SDK's: the SDK's standard strategy shares a retry quota per client
 *   that a burst of 503s drains (measured: a snapshot through a proxy failing one request in three
 *   gave up after 2 attempts), and a backup should rather slow down than fail.
 * - Uploads carry a checksum the server verifies (CRC32 by default); objects at or above
 *   `multipartThreshold` go up as a streamed multipart upload of `partSize` parts.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type ChecksumAlgorithm,
  type ListObjectsV2CommandOutput,
  type StorageClass,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { z } from 'zod';
import {
  AbortedError,
  ConflictError,
  NotFoundError,
  PermissionError,
  StorageError,
  VectordrError,
  isVectordrError,
  throwIfAborted,
} from '../errors.js';
import { isNetworkError } from '../engine-errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { retry } from '../retry.js';
import {
  assertValidKey,
  assertValidPrefix,
  tooLargeError,
  type GetOptions,
  type PutOptions,
  type Storage,
  type StorageObjectInfo,
} from './storage.js';
import { parseOptions } from '../options.js';
import { displayOnly } from '../display.js';

const PLUGIN = 's3';
const MiB = 1024 * 1024;

export const S3StorageOptionsSchema = z
  .object({
    bucket: z.string().min(3).max(63),
    /** Folder inside the bucket; '' (the default) is the bucket root. Leading/trailing '/' are ignored. */
    prefix: z.string().default(''),
    /** @default process.env.AWS_REGION ?? 'us-east-1' */
    region: z.string().optional(),
    /** For S3-compatible servers, e.g. `http://127.0.0.1:9000`. Omit for AWS S3. */
    endpoint: z.string().url().optional(),
    /** Path-style URLs (`endpoint/bucket/key`); most S3-compatible servers need it. @default true when `endpoint` is set */
    forcePathStyle: z.boolean().optional(),
    /** Static credentials. Omit to use the SDK's default chain (env, profile, IMDS, IRSA, ...). */
    credentials: z
      .object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() })
      .optional(),
    /** An S3Client you configured yourself; the options above except bucket/prefix are then ignored. */
    client: z.custom<S3Client>((v) => v instanceof S3Client, 'an S3Client').optional(),
    /** Attempts per request, including the first, with exponential backoff and full jitter. @default 8 */
    maxAttempts: z.number().int().min(1).max(30).default(8),
    /** First backoff ceiling; doubles per attempt up to `maxBackoffMs`. @default 100 */
    baseBackoffMs: z.number().int().min(1).default(100),
    /** @default 20000 */
    maxBackoffMs: z.number().int().min(1).default(20_000),
    /** Abort and retry a request with no response for this long. @default 60000 */
    requestTimeoutMs: z.number().int().min(100).default(60_000),
    /** Abort and retry a connect that takes this long. @default 5000 */
    connectionTimeoutMs: z.number().int().min(50).default(5_000),
    /** Checksum sent with every upload and verified by the server. @default 'CRC32' */
    checksumAlgorithm: z.enum(['CRC32', 'CRC32C', 'SHA1', 'SHA256']).default('CRC32'),
    /** Objects of at least this many bytes are uploaded in parts. @default 16 MiB */
    multipartThreshold: z
      .number()
      .int()
      .min(5 * MiB)
      .default(16 * MiB),
    /** Part size of multipart uploads (S3 minimum 5 MiB). @default 8 MiB */
    partSize: z
      .number()
      .int()
      .min(5 * MiB)
      .default(8 * MiB),
    /** Parts in flight per multipart upload; memory is about partSize × queueSize. @default 2 */
    queueSize: z.number().int().min(1).max(16).default(2),
    /**
     * Segment uploads a snapshot keeps in flight while it encodes the next segment; each holds one
     * segment in memory. @default 1 (measured: 1 gains most of what 2 does, for less memory)
     */
    writeConcurrency: z.number().int().min(0).max(16).default(1),
    /** e.g. `STANDARD_IA` for segments; manifests use the same class. */
    storageClass: z.string().optional(),
    logger: z.custom<Logger>().optional(),
  })
  .strict();
export type S3StorageOptions = z.input<typeof S3StorageOptionsSchema>;

export class S3Storage implements Storage {
  readonly name = PLUGIN;
  readonly location: string;
  readonly client: S3Client;
  readonly writeConcurrency: number;
  private readonly bucket: string;
  private readonly root: string;
  private readonly options: z.output<typeof S3StorageOptionsSchema>;
  private readonly logger: Logger;
  private readonly ownsClient: boolean;

  constructor(options: S3StorageOptions) {
    const o = parseOptions(S3StorageOptionsSchema, options, 'S3 storage', PLUGIN);
    this.options = o;
    this.bucket = o.bucket;
    this.writeConcurrency = o.writeConcurrency;
    const prefix = o.prefix.replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertValidKey(prefix, PLUGIN);
    this.root = prefix === '' ? '' : `${prefix}/`;
    this.logger = o.logger ?? silentLogger;
    this.location = `s3://${o.bucket}/${prefix}`;
    if (o.client) {
      this.client = o.client;
      this.ownsClient = false;
    } else {
      const config: S3ClientConfig = {
        region: o.region ?? process.env.AWS_REGION ?? 'us-east-1',
        maxAttempts: 1, // retries are ours (see the header)
        requestHandler: { requestTimeout: o.requestTimeoutMs, connectionTimeout: o.connectionTimeoutMs },
        // Our own SHA-256 / AES-GCM checks cover every byte read; do not hash downloads twice.
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestChecksumCalculation: 'WHEN_SUPPORTED',
      };
      if (o.endpoint !== undefined) config.endpoint = o.endpoint;
      if (o.credentials !== undefined) config.credentials = o.credentials;
      config.forcePathStyle = o.forcePathStyle ?? o.endpoint !== undefined;
      this.client = new S3Client(config);
      this.ownsClient = true;
    }
    displayOnly(this, 'S3Storage', () => ({ name: this.name, location: this.location }));
  }

  private objectKey(key: string): string {
    assertValidKey(key, PLUGIN);
    return this.root + key;
  }

  async get(key: string, options: GetOptions = {}): Promise<Uint8Array> {
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    const Range = options.range ? `bytes=${options.range.offset}-${options.range.offset + options.range.length - 1}` : undefined;
    return this.call('get', key, options.signal, async (abortSignal) => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }), { abortSignal });
      if (!res.Body || res.ETag === undefined) throw notS3(`GetObject ${key} answered without an ETag`);
      if (options.maxBytes === undefined) return await res.Body.transformToByteArray();
      return await readCapped(
        res.Body as unknown as AsyncIterable<Uint8Array> & { destroy?(): void },
        key,
        res.ContentLength,
        options.maxBytes,
      );
    });
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    const ChecksumAlgorithm = this.options.checksumAlgorithm as ChecksumAlgorithm;
    const StorageClass = this.options.storageClass as StorageClass | undefined;
    try {
      const multipart = options.ifNoneMatch === undefined && data.length >= this.options.multipartThreshold;
      const timeoutMs = this.options.requestTimeoutMs * (multipart ? Math.ceil(data.length / this.options.partSize) : 1);
      await this.call(
        'put',
        key,
        options.signal,
        async (abortSignal) => {
          if (multipart) {
            const upload = new Upload({
              client: this.client,
              params: { Bucket: this.bucket, Key, Body: data, ChecksumAlgorithm, StorageClass },
              partSize: this.options.partSize,
              queueSize: this.options.queueSize,
              leavePartsOnError: false,
            });
            const onAbort = (): void => void upload.abort().catch(() => undefined);
            abortSignal.addEventListener('abort', onAbort, { once: true });
            try {
              await upload.done();
            } finally {
              abortSignal.removeEventListener('abort', onAbort);
            }
            return;
          }
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key,
              Body: data,
              ChecksumAlgorithm,
              StorageClass,
              IfNoneMatch: options.ifNoneMatch,
            }),
            { abortSignal },
          );
        },
        timeoutMs,
      );
    } catch (err) {
      // A create-only put whose earlier attempt succeeded but whose response was lost comes back as
      // KEY_EXISTS on the retry. If the object holds exactly our bytes, the write was ours.
      if (
        options.ifNoneMatch === '*' &&
        isVectordrError(err, 'KEY_EXISTS') &&
        Number(err.details.attempts) > 1 &&
        (await this.holds(key, data))
      ) {
        this.logger.debug({ key }, 'create-only put: a retry found our own earlier write');
        return;
      }
      throw err;
    }
  }

  private async holds(key: string, data: Uint8Array): Promise<boolean> {
    try {
      return Buffer.from(await this.get(key, { maxBytes: data.length })).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.call('delete', key, undefined, (abortSignal) =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal }),
      );
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND')) return;
      throw err;
    }
  }

  /** A copy of the object onto itself (new metadata): the server refuses it when the source is gone, so it never recreates one. */
  async touch(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    const CopySource = `${this.bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`;
    try {
      await this.call('touch', key, undefined, (abortSignal) =>
        this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key,
            CopySource,
            MetadataDirective: 'REPLACE',
            Metadata: { 'vectordr-touched': new Date().toISOString() },
          }),
          { abortSignal },
        ),
      );
      return true;
    } catch (err) {
      if (isVectordrError(err, 'KEY_NOT_FOUND') || isVectordrError(err, 'BUCKET_NOT_FOUND')) {
        await this.assertBucket();
        return false;
      }
      throw err;
    }
  }

  async stat(key: string): Promise<StorageObjectInfo | undefined> {
    const Key = this.objectKey(key);
    try {
      return await this.call('stat', key, undefined, async (abortSignal) => {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
        if (res.ETag === undefined) throw notS3(`HeadObject ${key} answered without an ETag`);
        return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0) };
      });
    } catch (err) {
      // HEAD has no body, so a missing bucket also reads as 404; tell them apart with a list.
      if (isVectordrError(err, 'KEY_NOT_FOUND') || isVectordrError(err, 'BUCKET_NOT_FOUND')) {
        await this.assertBucket();
        return undefined;
      }
      throw err;
    }
  }

  async *list(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<StorageObjectInfo> {
    assertValidPrefix(prefix, PLUGIN);
    let ContinuationToken: string | undefined;
    do {
      throwIfAborted(options.signal);
      const token = ContinuationToken;
      const res = await this.call('list', prefix, options.signal, (abortSignal) =>
        this.listPage(this.root + prefix, token, undefined, abortSignal),
      );
      for (const obj of res.Contents ?? []) {
        if (obj.Key === undefined || !obj.Key.startsWith(this.root)) continue;
        yield { key: obj.Key.slice(this.root.length), size: obj.Size ?? 0, lastModified: obj.LastModified ?? new Date(0) };
      }
      ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
  }

  /** Throws BUCKET_NOT_FOUND / ACCESS_DENIED / ... if the bucket cannot be listed. */
  async assertBucket(): Promise<void> {
    await this.call('list', '', undefined, (abortSignal) => this.listPage(this.root, undefined, 1, abortSignal));
  }

  private async listPage(
    Prefix: string,
    ContinuationToken: string | undefined,
    MaxKeys?: number,
    signal?: AbortSignal,
  ): Promise<ListObjectsV2CommandOutput> {
    const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken, MaxKeys }), {
      abortSignal: signal,
    });
    // Every S3 ListObjectsV2 answer has IsTruncated; a web server's page parses to nothing.
    if (res.IsTruncated === undefined) throw notS3('ListObjectsV2 answered without IsTruncated');
    return res;
  }

  /**
   * Runs one S3 request with retries: transient failures back off exponentially with full jitter
   * (AWS's recommendation) up to maxAttempts; anything else, or an abort, is classified at once.
   */
  private async call<T>(
    op: string,
    key: string,
    signal: AbortSignal | undefined,
    fn: (attemptSignal: AbortSignal) => Promise<T>,
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<T> {
    let attempts = 0;
    let timedOut = false;
    try {
      return await retry(
        async (attempt) => {
          attempts = attempt;
          throwIfAborted(signal);
          // The SDK's own requestTimeout does not fire on a connection that stalls mid-response
          // (measured with a toxiproxy `timeout` toxic), so every attempt also gets a deadline.
          const deadline = AbortSignal.timeout(timeoutMs);
          try {
            return await fn(signal ? AbortSignal.any([signal, deadline]) : deadline);
          } catch (err) {
            timedOut = deadline.aborted && !signal?.aborted;
            throw err;
          }
        },
        {
          attempts: this.options.maxAttempts,
          baseDelayMs: this.options.baseBackoffMs,
          maxDelayMs: this.options.maxBackoffMs,
          jitter: 'full',
          signal,
          retryable: (err) => timedOut || isTransient(err),
          onRetry: (err, attempt, delayMs) =>
            this.logger.debug({ op, key, attempt, delayMs, status: httpStatus(err), error: errorName(err) }, 's3 request failed; retrying'),
        },
      );
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      throw timedOut ? this.timeoutError(op, key, attempts, timeoutMs, err) : this.classify(err, op, key, attempts, signal);
    }
  }

  /** Closes the client's sockets if this storage created the client. */
  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private timeoutError(op: string, key: string, attempts: number, timeoutMs: number, cause: unknown): Error {
    return new StorageError(
      'STORAGE_UNAVAILABLE',
      `S3 ${op} of ${key} got no complete answer within ${timeoutMs} ms, ${attempts} time(s); ` +
        `the store or the network is stalled. Rerun to resume (raise requestTimeoutMs for slow ` +
        `links).`,
      'transient',
      {
        plugin: PLUGIN,
        cause,
        details: { op, key, attempts },
      },
    );
  }

  private classify(err: unknown, op: string, key: string, attempts: number, signal?: AbortSignal): Error {
    if (err instanceof VectordrError) return err;
    const name = errorName(err);
    const status = httpStatus(err);
    const opts = { plugin: PLUGIN, cause: err, details: { op, key, status, s3Code: name, attempts } };
    const where = `${this.location}${key === '' ? '' : ` (${op} ${key})`}`;
    if (signal?.aborted || name === 'AbortError') return new AbortedError(undefined, opts);
    switch (name) {
      case 'NoSuchKey':
      case 'NotFound':
        return new NotFoundError('KEY_NOT_FOUND', `Object ${key} does not exist in ${this.location}.`, opts);
      case 'NoSuchBucket':
        return new NotFoundError(
          'BUCKET_NOT_FOUND',
          `Bucket ${JSON.stringify(this.bucket)} does not exist at this endpoint; create it ` +
            `(vectordr never creates buckets) or fix the bucket name/region.`,
          opts,
        );
      case 'PreconditionFailed':
        return new ConflictError('KEY_EXISTS', `Object ${key} already exists in ${this.location}; it was not overwritten.`, opts);
      case 'AccessDenied':
      case 'AllAccessDisabled':
      case 'AccountProblem':
        return new PermissionError(
          'ACCESS_DENIED',
          `Access denied to ${where}; the credentials lack a permission vectordr needs (see ` + `docs/storage.md for the IAM policy).`,
          opts,
        );
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
      case 'ExpiredToken':
      case 'InvalidToken':
      case 'TokenRefreshRequired':
      case 'CredentialsProviderError':
        return new PermissionError(
          'ACCESS_DENIED',
          `The S3 credentials were rejected (${name}) at ${this.location}; check the access key, ` + `secret and clock.`,
          opts,
        );
      case 'NotImplemented':
        return new StorageError(
          'STORAGE_PROTOCOL',
          `The server at ${this.location} does not implement ` +
            `${op}${op === 'put' ? ' with If-None-Match (conditional writes), which vectordr needs to commit safely' : ''}.`,
          'permanent',
          opts,
        );
      default:
        break;
    }
    if (status === 412)
      return new ConflictError('KEY_EXISTS', `Object ${key} already exists in ${this.location}; it was not overwritten.`, opts);
    if (status === 403) return new PermissionError('ACCESS_DENIED', `Access denied to ${where} (HTTP 403).`, opts);
    if (status === 404 && op !== 'get')
      return new NotFoundError('BUCKET_NOT_FOUND', `Bucket ${JSON.stringify(this.bucket)} was not found (HTTP 404).`, opts);
    if (status === 404) return new NotFoundError('KEY_NOT_FOUND', `Object ${key} does not exist in ${this.location}.`, opts);
    if (status !== undefined && (status >= 500 || status === 429 || status === 408)) {
      return new StorageError(
        'STORAGE_UNAVAILABLE',
        `S3 ${op} of ${key} failed with HTTP ${status} (${name}) after ${attempts} attempt(s); the ` +
          `store is overloaded or down. Rerun later; completed segments are reused.`,
        'transient',
        opts,
      );
    }
    if (isNetworkError(err)) {
      return new StorageError(
        'STORAGE_UNAVAILABLE',
        `S3 ${op} of ${key} failed after ${attempts} attempt(s): ${(err as Error).message}. Check ` +
          `that the endpoint is reachable; rerun to resume.`,
        'transient',
        opts,
      );
    }
    if (err instanceof NotS3Error || !(err instanceof S3ServiceException) || status === undefined || (status >= 200 && status < 300)) {
      // The SDK could not parse a response: HTML from a proxy, a web server, a non-S3 service.
      return new StorageError(
        'STORAGE_PROTOCOL',
        `The endpoint of ${this.location} did not answer ${op} like an S3 server (${name}: ` +
          `${(err as Error).message}); check the endpoint URL and path-style setting.`,
        'permanent',
        opts,
      );
    }
    return new StorageError('STORAGE_ERROR', `S3 ${op} of ${key} failed: ${name} (HTTP ${status}).`, 'permanent', opts);
  }
}

/**
 * A response body of at most `maxBytes`: refused by its Content-Length before a byte is read, and cut
 * off while it streams if the server sent more than it announced (or announced nothing).
 */
async function readCapped(
  body: AsyncIterable<Uint8Array> & { destroy?(): void },
  key: string,
  contentLength: number | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  if (contentLength !== undefined && contentLength > maxBytes) {
    body.destroy?.();
    throw tooLargeError(key, contentLength, maxBytes, PLUGIN);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) {
      body.destroy?.();
      throw tooLargeError(key, undefined, maxBytes, PLUGIN);
    }
    chunks.push(chunk);
  }
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function errorName(err: unknown): string {
  return (err as { name?: string } | null)?.name ?? 'Error';
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

class NotS3Error extends Error {
  override name = 'NotS3Error';
}

function notS3(what: string): NotS3Error {
  return new NotS3Error(`${what}, which no S3 server does`);
}

function isTransient(err: unknown): boolean {
  if (err instanceof NotS3Error || err instanceof VectordrError) return false;
  const status = httpStatus(err);
  // 409 ConditionalRequestConflict: AWS's answer to a conditional write racing another; the retry
  // then gets 412 (someone else won) or 200.
  const name = errorName(err);
  if (status !== undefined)
    return (
      status >= 500 ||
      status === 429 ||
      status === 408 ||
      name === 'SlowDown' ||
      name === 'RequestTimeout' ||
      name === 'ConditionalRequestConflict'
    );
  return isNetworkError(err) || (err as { $retryable?: unknown } | null)?.$retryable !== undefined;
}

/** S3 or S3-compatible storage. See `S3StorageOptions`. */
export function s3Storage(options: S3StorageOptions): S3Storage {
  return new S3Storage(options);
}
