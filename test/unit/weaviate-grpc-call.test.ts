/**
 * The unary gRPC call of the Weaviate adapter (weaviate-grpc.ts) against an in-process HTTP/2
 * server that answers as a broken or hostile gRPC server might: every case ends in a typed error or
 * the whole reply, never a hang, a partial reply, or an empty one taken for an answer.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeaviateGrpc } from '../../adapters/weaviate/weaviate-grpc.js';

type Behaviour = (stream: http2.ServerHttp2Stream) => void;
let behaviour: Behaviour = () => undefined;
let server: http2.Http2Server;
let authority = '';

const frame = (body: Uint8Array, declared = body.length): Buffer => {
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(declared, 1);
  f.set(body, 5);
  return f;
};
const ok = { ':status': 200, 'content-type': 'application/grpc' };

beforeAll(async () => {
  server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => behaviour(stream));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  authority = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((res) => server.close(() => res()));
});

function call(b: Behaviour, opts: { timeoutMs?: number; maxReplyBytes?: number; signal?: AbortSignal } = {}) {
  behaviour = b;
  const grpc = new WeaviateGrpc(authority, () => Promise.resolve({}), opts.timeoutMs ?? 5000, opts.maxReplyBytes);
  return grpc.unary('Search', Uint8Array.from([8, 1]), opts.signal, "lower the adapter's scanPageRows").finally(() => grpc.close());
}

describe('weaviate gRPC unary call', () => {
  it('returns the whole reply, sent in pieces', async () => {
    const body = Uint8Array.from({ length: 70_000 }, (_, i) => i % 251);
    const got = await call((s) => {
      s.respond(ok, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      const f = frame(body);
      s.write(f.subarray(0, 3));
      s.write(f.subarray(3, 40_000));
      s.end(f.subarray(40_000));
    });
    expect(Buffer.from(got).equals(Buffer.from(body))).toBe(true);
  });

  it('refuses an OK answer without a message, or with a message cut short', async () => {
    const trailersOk = (s: http2.ServerHttp2Stream, data: Buffer): void => {
      s.respond(ok, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(data);
    };
    await expect(call((s) => trailersOk(s, Buffer.alloc(0)))).rejects.toMatchObject({ code: 'ENGINE_ERROR', category: 'transient' });
    await expect(call((s) => trailersOk(s, Buffer.from([0, 0, 0])))).rejects.toThrow(/no whole message/);
    await expect(call((s) => trailersOk(s, frame(Uint8Array.from([1, 2, 3]), 10)))).rejects.toThrow(/after 3 of 10 bytes/);
  });

  it('reads the status of a trailers-only error, and a grpc-message that is not valid percent-encoding', async () => {
    await expect(
      call((s) => s.respond({ ...ok, 'grpc-status': '7', 'grpc-message': 'permission%20denied' }, { endStream: true })),
    ).rejects.toMatchObject({ message: expect.stringContaining('gRPC status 7 permission denied'), category: 'permanent' });
    await expect(
      call((s) => s.respond({ ...ok, 'grpc-status': '14', 'grpc-message': '100% busy' }, { endStream: true })),
    ).rejects.toMatchObject({
      message: expect.stringContaining('100% busy'),
      category: 'transient',
    });
  });

  it('refuses an answer larger than its bound before collecting it, with what to do', async () => {
    await expect(
      call(
        (s) => {
          s.respond(ok);
          s.end(frame(new Uint8Array(64), 1 << 30));
        },
        { maxReplyBytes: 1024 },
      ),
    ).rejects.toThrow(/1073741824 bytes, more than the 1024 this client reads; lower the adapter's scanPageRows/);
  });

  it('times out with its own message, and an abort is an AbortedError', async () => {
    await expect(call(() => undefined, { timeoutMs: 300 })).rejects.toThrow(/no answer from Weaviate within 300 ms/);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expect(call(() => undefined, { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(call(() => undefined, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
