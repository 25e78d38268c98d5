/**
 * A raw-TCP look at an endpoint that cut a connection off during the handshake: is anything
 * PostgreSQL-like listening there at all? (A router pointed at the wrong port should say so, not
 * report the endpoint as down.)
 */
import { connect } from 'node:net';

/**
 * Sends PostgreSQL's SSLRequest: a PostgreSQL server answers with exactly one byte, 'S' or 'N'
 * (before any authentication or connection-limit check). Returns why the endpoint is not
 * PostgreSQL, or undefined when it is (or when the address cannot be sniffed: a socket path, a
 * key=value connection string).
 */
export function sniffPostgres(connectionString: string, timeoutMs: number): Promise<string | undefined> {
  let host: string;
  let port: number;
  try {
    const u = new URL(connectionString);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = u.port === '' ? 5432 : Number(u.port);
    if (host === '' || host.startsWith('/') || host.startsWith('%2F')) return Promise.resolve(undefined);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let settled = false;
    const done = (v: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('connect', () => sock.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    sock.on('data', (d: Buffer) => {
      const b = d[0];
      if (d.length === 1 && (b === 0x53 || b === 0x4e)) return done(undefined);
      const text = d
        .subarray(0, 16)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '.');
      done(`the endpoint does not speak the PostgreSQL protocol (it answered an SSLRequest with "${text}"); check the host and port`);
    });
    sock.on('end', () =>
      done('the endpoint does not speak the PostgreSQL protocol (it closed the connection on an ' + 'SSLRequest); check the host and port'),
    );
    sock.on('error', () => done(undefined));
  });
}
