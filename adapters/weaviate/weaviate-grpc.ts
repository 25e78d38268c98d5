/**
 * One HTTP/2 session to Weaviate's gRPC port and unary calls on it, for the two calls vectordr
 * encodes itself instead of through weaviate-client: `BatchObjects` (weaviate-grpc-batch.ts) and the
 * scan's `Search` pages (weaviate-grpc-search.ts). A call is one length-prefixed protobuf message
 * each way (gRPC over HTTP/2, no compression); the answer's size is checked against a bound before
 * it is collected, so a hostile or broken server cannot grow this process without limit.
 */
import http2 from 'node:http2';
import { AbortedError, EngineError } from '../../src/errors.js';
import { grpcStatusError, unreachableError } from './weaviate-errors.js';
import { PLUGIN } from './weaviate-types.js';

/** The largest answer a call collects (a scan page of 10 000 objects of 4096 float32 dims is 160 MiB). */
export const MAX_REPLY_BYTES = 256 * 1024 * 1024;

export class WeaviateGrpc {
  private session: http2.ClientHttp2Session | undefined;
  /** Requests in flight: the session keeps the process alive only while there are some. */
  private inFlight = 0;

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
   * reply (empty when the server sent no message).
   */
  async unary(method: string, body: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const extra = await this.headers();
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    const session = this.connect();
    if (this.inFlight++ === 0) session.ref();
    const done = (): void => {
      if (--this.inFlight === 0 && !session.destroyed) session.unref();
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
      req.setTimeout(this.timeoutMs, () => req.close(http2.constants.NGHTTP2_CANCEL));
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
          `${method}: Weaviate's answer is ${n} bytes, more than the ${limit} this client reads; ` + `lower the adapter's scanPageRows.`,
          'permanent',
          { plugin: PLUGIN, details: { bytes: n, limit } },
        );
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) statusMessage = decodeURIComponent(String(h['grpc-message']));
      });
      req.on('trailers', (h) => {
        status = String(h['grpc-status'] ?? status ?? '');
        if (h['grpc-message'] !== undefined) statusMessage = decodeURIComponent(String(h['grpc-message']));
      });
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
        if (status !== '0') return reject(grpcStatusError(method, status, statusMessage));
        if (reply && filled < reply.length) {
          return reject(
            new EngineError(`${method}: Weaviate's answer ended after ${filled} of ${reply.length} bytes.`, 'transient', {
              plugin: PLUGIN,
            }),
          );
        }
        resolve(reply ?? new Uint8Array(0));
      });
      req.end(frame);
    }).finally(done);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
