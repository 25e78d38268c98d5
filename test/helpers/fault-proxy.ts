/**
 * An HTTP fault proxy for S3 tests: forwards every request to the real server unchanged (the SigV4
 * signature covers the Host header, which is kept) and, by a caller's rule, answers some requests
 * itself with an S3 error (503 SlowDown, 500 InternalError) or forwards them and then drops the
 * response (the write happened, the client never hears of it).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'none' | 'slowdown' | 'internal' | 'drop-response' | 'reset';

export interface FaultProxy {
  url: string;
  /** Faults injected so far, by kind. */
  injected: Record<Exclude<Fault, 'none'>, number>;
  requests: number;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, rule: (req: IncomingMessage, n: number) => Fault): Promise<FaultProxy> {
  const target = new URL(upstream);
  const injected = { slowdown: 0, internal: 0, 'drop-response': 0, reset: 0 };
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const n = ++requests;
    const fault = rule(req, n);
    if (fault === 'slowdown' || fault === 'internal') {
      injected[fault]++;
      req.resume();
      req.on('end', () => {
        const [status, code] = fault === 'slowdown' ? [503, 'SlowDown'] : [500, 'InternalError'];
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the ` +
            `test fault proxy</Message><RequestId>fault-${n}</RequestId></Error>`,
        );
      });
      return;
    }
    if (fault === 'reset') {
      injected.reset++;
      req.socket.resetAndDestroy();
      return;
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      if (fault === 'drop-response') {
        injected['drop-response']++;
        upRes.resume();
        upRes.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    injected,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
