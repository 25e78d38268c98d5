/**
 * Drives scripts/pg-replica.sh (a PostgreSQL primary and streaming standby started by test-all.sh)
 * from tests and the failover drill: kill, promote, restart and rebuild nodes a and b.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { pgClient } from './pg.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/pg-replica.sh', import.meta.url));

export const REPLICA_A_URL = process.env.PG_REPLICA_A_URL;
export const REPLICA_B_URL = process.env.PG_REPLICA_B_URL;

export type NodeName = 'a' | 'b';

export async function replica(cmd: 'start' | 'stop' | 'reset' | 'status', env?: Record<string, string>): Promise<string>;
export async function replica(
  cmd: 'kill' | 'start-node' | 'promote' | 'rejoin',
  node: NodeName,
  env?: Record<string, string>,
): Promise<string>;
export async function replica(
  cmd: string,
  nodeOrEnv?: NodeName | Record<string, string>,
  maybeEnv?: Record<string, string>,
): Promise<string> {
  const args = typeof nodeOrEnv === 'string' ? [SCRIPT, cmd, nodeOrEnv] : [SCRIPT, cmd];
  const env = typeof nodeOrEnv === 'object' ? nodeOrEnv : maybeEnv;
  const { stdout } = await run('bash', args, { env: { ...process.env, ...env }, timeout: 120_000 });
  return stdout;
}

/** A fresh pair: node a primary, node b streaming standby (synchronous when `sync`). */
export async function freshPair(opts: { sync?: boolean } = {}): Promise<void> {
  await replica('reset');
  await replica('start', { VECTORDR_PG_SYNC: opts.sync === true ? '1' : '0' });
}

export function urlOf(node: NodeName): string {
  const url = node === 'a' ? REPLICA_A_URL : REPLICA_B_URL;
  if (url === undefined)
    throw new Error('PG_REPLICA_A_URL / PG_REPLICA_B_URL are not set: start the pair with scripts/pg-replica.sh start');
  return url;
}

/** One statement on one node, on its own connection. */
export async function onNode(node: NodeName, sql: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
  const c = pgClient({ connectionString: urlOf(node) });
  await c.connect();
  try {
    return (await c.query(sql, values)).rows;
  } finally {
    await c.end();
  }
}
