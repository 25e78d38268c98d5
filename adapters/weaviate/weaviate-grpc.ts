/**
 * One HTTP/2 session to Weaviate's gRPC port and unary calls on it, for the two calls vectordr
 * encodes itself instead of through weaviate-client: `BatchObjects` (weaviate-grpc-batch.ts) and the
 * scan's `Search` pages (weaviate-grpc-search.ts). A call is one length-prefixed protobuf message
 * each way (gRPC over HTTP/2, no compression); the answer's size is checked against a bound before
 * it is collected, so a hostile or broken server cannot grow this process without limit.
 */
import http2 from 'node:http2';
import { AbortedError, EngineError, throwIfAborted } from '../../src/errors.js';
import { grpcStatusError, unreachableError } from './weaviate-errors.js';
import { PLUGIN } from './weaviate-types.js';

/** The largest answer a call collects (a scan page of 10 000 objects of 4096 float32 dims is 160 MiB). */
export const MAX_REPLY_BYTES = 256 * 1024 * 1024;

/** gRPC's percent-encoded grpc-message, as sent (a bare `%` from a proxy is kept as it is). */
function grpcMessage(v: unknown): string {
  try {
    return decodeURIComponent(String(v));
  } catch {
    return String(v);
  }
}

export class WeaviateGrpc {
  private session: http2.ClientHttp2Session | undefined;
  /** Requests in flight per session: a session keeps the process alive only while it has some. */
  private readonly inFlight = new WeakMap<http2.ClientHttp2Session, number>();

  constructor(
    private readonly authority: string,
    private readonly headers: () => Promise<Record<string, string>>,
    private readonly timeoutMs: number,
    private readonly maxReplyBytes = MAX_REPLY_BYTES,
  ) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect(this.authority);
    s.on('error', () => undefined); // surfaced per request
    s.unref();
    this.session = s;
    return s;
  }

  /**
   * Calls `weaviate.v1.Weaviate/<method>` with the encoded request `body`; resolves to the encoded
   * reply. A call answered OK without a whole message is refused (transient), as grpc-js does.
   * `sizeAdvice` is what the error of an oversized answer tells the caller to do.
   */
  async unary(method: string, body: Uint8Array, signal?: AbortSignal, sizeAdvice = ''): Promise<Uint8Array> {
    const extra = await this.headers();
    throwIfAborted(signal);
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const session = this.connect();
    const inFlight = this.inFlight.get(session) ?? 0;
    this.inFlight.set(session, inFlight + 1);
    if (inFlight === 0) session.ref();
    const done = (): void => {
      const left = (this.inFlight.get(session) ?? 1) - 1;
      this.inFlight.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    };
    const limit = this.maxReplyBytes;
    return new Promise<Uint8Array>((resolve, reject) => {
      const req = session.request({
        ':method': 'POST',
        ':path': `/weaviate.v1.Weaviate/${method}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k.toLowerCase(), v])),
      });
      let timedOut = false;
      req.setTimeout(this.timeoutMs, () => {
        timedOut = true;
        req.close(http2.constants.NGHTTP2_CANCEL);
      });
      const onAbort = (): void => {
        req.close(http2.constants.NGHTTP2_CANCEL);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // The reply is collected into one buffer sized by its length prefix (no second copy).
      let head: Buffer = Buffer.alloc(0);
      let reply: Buffer | undefined;
      let filled = 0;
      let failure: EngineError | undefined;
      let status: string | undefined;
      let statusMessage = '';
      const tooLarge = (n: number): EngineError =>
        new EngineError(
          `${method}: Weaviate's answer is ${n} bytes, more than the ${limit} this client reads${sizeAdvice ? `; ${sizeAdvice}` : ''}.`,
          'permanent',
          { plugin: PLUGIN, details: { bytes: n, limit } },
        );
      // A trailers-only answer (most gRPC errors) carries its status in the response headers.
      const readStatus = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) statusMessage = grpcMessage(h['grpc-message']);
      };
      req.on('response', readStatus);
      req.on('trailers', readStatus);
      req.on('data', (d: Buffer) => {
        if (failure) return;
        if (!reply) {
          head = head.length === 0 ? d : Buffer.concat([head, d]);
          if (head.length < 5) return;
          if (head[0] !== 0) {
            failure = new EngineError(`${method}: Weaviate sent a compressed answer, which was not asked for.`, 'permanent', {
              plugin: PLUGIN,
            });
            req.close(http2.constants.NGHTTP2_CANCEL);
            return;
          }
          const n = head.readUInt32BE(1);
          if (n > limit) {
            failure = tooLarge(n);
            req.close(http2.constants.NGHTTP2_CANCEL);
            return;
          }
          reply = Buffer.allocUnsafe(n);
          d = head.subarray(5);
        }
        const take = Math.min(d.length, reply.length - filled);
        d.copy(reply, filled, 0, take);
        filled += take;
        // A second message on a unary call is not read (gRPC allows exactly one).
      });
      req.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return reject(new AbortedError(undefined, { cause: signal.reason }));
        reject(failure ?? unreachableError(`${method}: ${err.message}`, err));
      });
      req.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return reject(new AbortedError(undefined, { cause: signal.reason }));
        if (failure) return reject(failure);
        if (timedOut) {
          return reject(
            new EngineError(`${method}: no answer from Weaviate within ${this.timeoutMs} ms (the adapter's timeoutMs).`, 'transient', {
              plugin: PLUGIN,
            }),
          );
        }
        if (status !== '0') return reject(grpcStatusError(method, status, statusMessage));
        if (!reply || filled < reply.length) {
          const got = reply ? `${filled} of ${reply.length} bytes` : `${head.length} bytes, no whole message`;
          return reject(
            new EngineError(`${method}: Weaviate answered OK, but its answer ended after ${got}.`, 'transient', { plugin: PLUGIN }),
          );
        }
        resolve(reply);
      });
      req.end(frame);
    }).finally(done);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
