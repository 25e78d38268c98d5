/**
 * A unary gRPC call over node:http2, enough for Qdrant's `Points/Scroll` and `Points/Upsert`: one
 * HTTP/2 session per adapter, a message framed as gRPC does (a flag byte, a 4-byte length), the
 * status read from the trailers. No compression: vectors do not compress, and gzip costs CPU on both
 * ends. The bytes of each message are qdrant-grpc-wire.ts's.
 */
import http2 from 'node:http2';
import { InvalidInputError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { PLUGIN } from './qdrant-types.js';

/** A failed gRPC call: `grpcCode` is the gRPC status (14 UNAVAILABLE, 5 NOT_FOUND, ...), or the network error's `code`. */
export class GrpcCallError extends Error {
  constructor(
    message: string,
    readonly grpcCode: number | undefined,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'GrpcCallError';
  }
}

/** gRPC status codes a retry may get past: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNAVAILABLE. */
export const TRANSIENT_GRPC_CODES = new Set([4, 8, 10, 14]);
export const GRPC_NOT_FOUND = 5;

/** The gRPC endpoint of a REST URL: same host and scheme, port + 1 (Qdrant's 6333 → 6334). */
export function grpcUrlFor(restUrl: string): string {
  const u = new URL(restUrl);
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return `${u.protocol}//${u.hostname.includes(':') ? `[${u.hostname.replace(/^\[|\]$/g, '')}]` : u.hostname}:${port + 1}`;
}

export interface GrpcChannelOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  url: string;
  apiKey?: string | undefined;
  timeoutMs: number;
  logger: Logger;
}

/** One HTTP/2 session, opened on first use and again after it closes; referenced only while calls run. */
export class GrpcChannel {
  private session: http2.ClientHttp2Session | undefined;
  private active = 0;

  constructor(private readonly o: GrpcChannelOptions) {
    const u = new URL(o.url);
    if (u.username || u.password) {
      throw new InvalidInputError('INVALID_OPTIONS', 'Invalid Qdrant adapter options: put the API key in apiKey, not in grpcUrl.', {
        plugin: PLUGIN,
      });
    }
  }

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect(this.o.url);
    s.on('error', (err) => this.o.logger.debug({ err: err.message }, 'qdrant gRPC session error'));
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    s.unref();
    this.session = s;
    return s;
  }

  /** Calls `/<service>/<method>` with `message`; the answer's message bytes. */
  call(path: string, message: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const session = this.connect();
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${this.o.timeoutMs}m`,
    };
    if (this.o.apiKey) headers['api-key'] = this.o.apiKey;
    if (this.active++ === 0) session.ref();
    return new Promise<Uint8Array>((resolve, reject) => {
      const req = session.request(headers, signal ? { signal } : {});
      const chunks: Buffer[] = [];
      let status: number | undefined;
      let grpcMessage = '';
      const readStatus = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
        if (typeof h['grpc-message'] === 'string') grpcMessage = decodeURIComponent(h['grpc-message']);
      };
      let httpStatus = 200;
      req.on('response', (h) => {
        httpStatus = Number(h[':status']);
        readStatus(h);
      });
      req.on('trailers', readStatus);
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('error', (err: Error & { code?: string }) =>
        reject(new GrpcCallError(`${path}: ${err.message}`, err.name === 'AbortError' ? 1 : undefined, err.code ?? 'ECONNRESET')),
      );
      req.on('close', () => {
        if (status === undefined) {
          const code = httpStatus === 200 ? 14 : httpStatus === 404 ? 12 : 14;
          return reject(new GrpcCallError(`${path}: no gRPC status (HTTP ${httpStatus}); is ${this.o.url} Qdrant's gRPC port?`, code));
        }
        if (status !== 0) return reject(new GrpcCallError(`${path}: ${grpcMessage || `gRPC status ${status}`}`, status));
        const body = Buffer.concat(chunks);
        if (body.length < 5 || body[0] !== 0)
          return reject(new GrpcCallError(`${path}: an answer that is not one uncompressed message`, 13));
        const len = body.readUInt32BE(1);
        if (5 + len !== body.length)
          return reject(new GrpcCallError(`${path}: an answer of ${body.length - 5} bytes, framed as ${len}`, 13));
        resolve(body.subarray(5));
      });
      const frame = Buffer.allocUnsafe(5);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      req.write(frame);
      req.end(message);
    }).finally(() => {
      if (--this.active === 0 && this.session === session) session.unref();
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

/**
 * The adapter's choice of transport for points: `grpc` always uses the channel; `auto` asks Qdrant's
 * gRPC health check once and falls back to REST (logged) when the port does not answer it, e.g. a
 * proxy that only forwards the REST port.
 */
export class QdrantGrpcTransport {
  private decided: Promise<GrpcChannel | undefined> | undefined;

  constructor(
    readonly grpc: GrpcChannel,
    private readonly mode: 'auto' | 'grpc',
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  /** The channel to move points on, or undefined: use REST. */
  channel(): Promise<GrpcChannel | undefined> {
    if (this.mode === 'grpc') return Promise.resolve(this.grpc);
    this.decided ??= this.grpc.call('/qdrant.Qdrant/HealthCheck', new Uint8Array(0), AbortSignal.timeout(5000)).then(
      () => this.grpc,
      (err: unknown) => {
        this.logger.info(
          { grpcUrl: this.url, err: (err as Error).message },
          'Qdrant gRPC endpoint did not answer; moving points over REST (set transport or grpcUrl to choose)',
        );
        this.grpc.close();
        return undefined;
      },
    );
    return this.decided;
  }

  close(): void {
    this.grpc.close();
  }
}
