/**
 * Failover drill: the write availability gap when the primary is SIGKILLed, measured in one run for
 *   (a) vectordr  pgRouter in promote mode (it detects the loss and promotes the standby itself),
 *   (b) haproxy   HAProxy 2.6 (Debian) in TCP mode, `check inter 1s fall 3 rise 2`, the standby as `backup`,
 *   (c) libpq     a libpq-style multi-host client (`host=a,b target_session_attrs=read-write`:
 *                 on an error, reconnect to the first host whose session is read-write).
 * HAProxy and the libpq-style client cannot promote: for (b) and (c) the drill promotes the standby
 * (`SELECT pg_promote()`) the moment it kills the primary — an instant external promoter, the best
 * case those setups can have (the KubeCon setup waits for a Prometheus alert: minutes).
 *
 * Each trial: a fresh pair (scripts/pg-replica.sh: node a primary, node b streaming standby,
 * synchronous or asynchronous), 4 writers each inserting its own sequence of ids and recording the
 * acknowledged ones, 1 s of writes, SIGKILL of a's postmaster, writes until 1 s after the first
 * write the new primary (b) acknowledged, then: gap = the longest interval between two consecutive
 * acknowledgements (any writer) from 0.5 s before the kill on; kill → first write on b; lost =
 * acknowledged ids missing on the new primary.
 *
 *   npx tsx bench/failover-drill.ts [--trials 10] [--sets sync,async] [--modes vectordr,haproxy,libpq]
 *                                   [--fast-probe-ms N] [--fail-threshold N] [--tag name]
 *
 * Writes bench/results/<commit>-failover-drill[-<tag>].json.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { pgRouter } from '../adapters/pgvector/index.js';
import { memoryLease } from '../src/router/lease.js';
import { codeVersion, log, median } from './bench-lib.js';
import { pgClient } from '../test/helpers/pg.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    sets: { type: 'string', default: 'sync,async' },
    modes: { type: 'string', default: 'vectordr,haproxy,libpq' },
    writers: { type: 'string', default: '4' },
    // The router's detection settings (its defaults when not given): fewer/closer probes, smaller gap.
    'fast-probe-ms': { type: 'string' },
    'fail-threshold': { type: 'string' },
    tag: { type: 'string', default: '' },
  },
});
const ROUTER_TUNING = {
  ...(args['fast-probe-ms'] !== undefined ? { fastProbeIntervalMs: Number(args['fast-probe-ms']) } : {}),
  ...(args['fail-threshold'] !== undefined ? { failThreshold: Number(args['fail-threshold']) } : {}),
};
const TRIALS = Number(args.trials);
const WRITERS = Number(args.writers);
const SETS = String(args.sets).split(',') as ('sync' | 'async')[];
const MODES = String(args.modes).split(',') as Mode[];
type Mode = 'vectordr' | 'haproxy' | 'libpq';

const A = 'postgres://postgres@127.0.0.1:54341/postgres';
const B = 'postgres://postgres@127.0.0.1:54342/postgres';
/** The pair, as the router's endpoints. */
const ENDPOINTS = [
  { name: 'a', connectionString: A },
  { name: 'b', connectionString: B },
];
const HAPROXY_PORT = 54346;
const version = codeVersion();

// The server's own port says which node acknowledged the write (through HAProxy too).
const INSERT = 'INSERT INTO drill (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET at = now() RETURNING inet_server_port() AS port';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function replica(...cmd: string[]): Promise<void> {
  await run('bash', [path.join(ROOT, 'scripts/pg-replica.sh'), ...cmd], { env: process.env, timeout: 120_000 });
}

async function sql(url: string, text: string): Promise<Record<string, unknown>[]> {
  const c = pgClient({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

/** Something that performs one write and resolves once it is acknowledged (retrying as the setup does). */
interface Writer {
  /** Resolves with the port of the server that acknowledged the write. */
  write(id: number): Promise<number>;
  close(): Promise<void>;
}

async function vectordrWriter(): Promise<Writer> {
  const router = pgRouter({
    pg,
    endpoints: ENDPOINTS,
    mode: 'promote',
    lease: memoryLease(),
    poolMax: WRITERS + 2,
    acquireTimeoutMs: 30_000,
    ...ROUTER_TUNING,
  });
  await router.start();
  // Wait until the standby has been seen: promote mode needs a standby to promote.
  while (!router.status().endpoints.every((e) => e.health === 'up')) await sleep(20);
  return {
    write: async (id) => {
      const r = await router.write((c) => c.query(INSERT, [id]), {
        idempotent: true,
        retry: { attempts: 1000, deadlineMs: 60_000, baseDelayMs: 5, maxDelayMs: 20 },
      });
      return Number(r.rows[0]?.port);
    },
    close: () => router.close(),
  };
}

/** One connection per writer, reconnected (to `connect()`'s choice) after any error, retrying the write. */
function reconnectingWriter(connect: () => Promise<pg.Client>): Writer {
  const clients = new Map<number, pg.Client>();
  return {
    write: async (id) => {
      const s = id % WRITERS; // the writer's own connection
      for (;;) {
        try {
          let c = clients.get(s);
          if (c === undefined) {
            c = await connect();
            clients.set(s, c);
          }
          const r = await c.query(INSERT, [id]);
          return Number(r.rows[0]?.port);
        } catch {
          const c = clients.get(s);
          clients.delete(s);
          c?.end().catch(() => undefined);
          await sleep(5);
        }
      }
    },
    close: async () => {
      await Promise.allSettled([...clients.values()].map((c) => c.end()));
    },
  };
}

async function connectTo(url: string): Promise<pg.Client> {
  const c = pgClient({ connectionString: url, connectionTimeoutMillis: 1000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

function libpqWriter(): Writer {
  // target_session_attrs=read-write: try the hosts in order, keep the first read-write session.
  return reconnectingWriter(async () => {
    for (const url of [A, B]) {
      try {
        const c = await connectTo(url);
        const { rows } = await c.query('SHOW transaction_read_only');
        if (rows[0]?.transaction_read_only === 'off') return c;
        await c.end();
      } catch {
        // next host
      }
    }
    throw new Error('no read-write host');
  });
}

async function startHaproxy(): Promise<ChildProcess> {
  const { stdout } = await run('bash', [path.join(ROOT, 'scripts/haproxy.sh'), 'bin']);
  const bin = stdout.trim();
  const dir = path.join(ROOT, '.cache', 'haproxy');
  await fs.mkdir(dir, { recursive: true });
  const cfg = path.join(dir, 'drill.cfg');
  await fs.writeFile(
    cfg,
    `global
  maxconn 200
defaults
  mode tcp
  timeout connect 1s
  timeout client 60s
  timeout server 60s
listen pg
  bind 127.0.0.1:${HAPROXY_PORT}
  server a 127.0.0.1:54341 check inter 1s fall 3 rise 2
  server b 127.0.0.1:54342 check inter 1s fall 3 rise 2 backup
`,
  );
  const child = spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      (await connectTo(`postgres://postgres@127.0.0.1:${HAPROXY_PORT}/postgres`)).end().catch(() => undefined);
      return child;
    } catch {
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  throw new Error('haproxy did not start');
}

interface Trial {
  mode: Mode;
  set: 'sync' | 'async';
  gapMs: number;
  /** SIGKILL to the first write acknowledged by the new primary. */
  killToFirstWriteMs: number;
  acked: number;
  lost: number;
}

async function trial(mode: Mode, set: 'sync' | 'async'): Promise<Trial> {
  await replica('reset');
  await run('bash', [path.join(ROOT, 'scripts/pg-replica.sh'), 'start'], {
    env: { ...process.env, VECTORDR_PG_SYNC: set === 'sync' ? '1' : '0' },
    timeout: 120_000,
  });
  await sql(A, 'CREATE TABLE drill (id bigint PRIMARY KEY, at timestamptz DEFAULT now())');
  let haproxy: ChildProcess | undefined;
  let writer: Writer;
  if (mode === 'vectordr') writer = await vectordrWriter();
  else if (mode === 'libpq') writer = libpqWriter();
  else {
    haproxy = await startHaproxy();
    await sleep(2500); // both servers UP in HAProxy's checks (rise 2 × inter 1 s)
    writer = reconnectingWriter(() => connectTo(`postgres://postgres@127.0.0.1:${HAPROXY_PORT}/postgres`));
  }
  const acks: { id: number; at: number; port: number }[] = [];
  let stop = false;
  const loops = Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const id = i * WRITERS + w;
      const port = await writer.write(id);
      acks.push({ id, at: performance.now(), port });
    }
  });
  await sleep(1000);
  const pid = Number(readFileSync(path.join(ROOT, '.cache/pg-replica/a/postmaster.pid'), 'utf8').split('\n')[0]);
  const killAt = performance.now();
  process.kill(pid, 'SIGKILL');
  if (mode !== 'vectordr') void sql(B, 'SELECT pg_promote()').catch(() => undefined);
  const deadline = killAt + 60_000;
  while (performance.now() < deadline) {
    const after = acks.find((a) => a.port === 54342);
    if (after !== undefined && performance.now() > after.at + 1000) break;
    await sleep(20);
  }
  stop = true;
  await Promise.race([Promise.all(loops), sleep(5000)]);
  await writer.close();
  haproxy?.kill('SIGKILL');
  const times = acks.map((a) => a.at).sort((x, y) => x - y);
  let gap = 0;
  for (let i = 1; i < times.length; i++) {
    const prev = times[i - 1] as number;
    const cur = times[i] as number;
    if (cur > killAt - 500) gap = Math.max(gap, cur - prev);
  }
  // Backends of a killed postmaster keep serving until they notice (moments): the first write on b is what counts.
  const firstAfter = acks.find((a) => a.port === 54342)?.at ?? Infinity;
  const rows = await sql(B, 'SELECT id FROM drill');
  const present = new Set(rows.map((r) => Number(r.id)));
  const lost = acks.filter((a) => !present.has(a.id)).length;
  return { mode, set, gapMs: Math.round(gap), killToFirstWriteMs: Math.round(firstAfter - killAt), acked: acks.length, lost };
}

const results: Trial[] = [];
for (const set of SETS) {
  for (const mode of MODES) {
    for (let t = 0; t < TRIALS; t++) {
      const r = await trial(mode, set);
      results.push(r);
      log(
        `${set} ${mode} trial ${t + 1}/${TRIALS}: gap ${r.gapMs} ms (kill → first write on b ` +
          `${r.killToFirstWriteMs} ms), acknowledged ${r.acked}, lost ${r.lost}`,
      );
    }
  }
}
await replica('reset');

const summary: Record<string, unknown>[] = [];
for (const set of SETS) {
  const base = results.filter((r) => r.set === set && r.mode === 'vectordr');
  for (const mode of MODES) {
    const rs = results.filter((r) => r.set === set && r.mode === mode);
    if (rs.length === 0) continue;
    const gaps = rs.map((r) => r.gapMs);
    const row = {
      set,
      mode,
      trials: rs.length,
      gapP50Ms: median(gaps),
      gapMaxMs: Math.max(...gaps),
      killToFirstWriteP50Ms: median(rs.map((r) => r.killToFirstWriteMs)),
      lostTotal: rs.reduce((s, r) => s + r.lost, 0),
      trialsWithLoss: rs.filter((r) => r.lost > 0).length,
      gapP50VsVectordr: base.length > 0 ? Math.round((median(gaps) / median(base.map((r) => r.gapMs))) * 100) / 100 : null,
    };
    summary.push(row);
  }
}
console.table(summary);
const out = path.join(
  ROOT,
  'bench',
  'results',
  `${(version.commit ?? 'unknown').slice(0, 7)}${version.dirty === true ? '-dirty' : ''}-failover-drill${args.tag === '' ? '' : `-${String(args.tag)}`}.json`,
);
await fs.mkdir(path.dirname(out), { recursive: true });
await fs.writeFile(
  out,
  JSON.stringify(
    { bench: 'failover-drill', version, trials: TRIALS, writers: WRITERS, routerTuning: ROUTER_TUNING, summary, results },
    null,
    2,
  ),
);
log(`wrote ${path.relative(ROOT, out)}`);
