/**
 * A RAG service's vector store behind the failover-aware pool: documents are upserted and searched
 * while the primary is SIGKILLed; the router promotes the standby and the service carries on.
 *
 *   scripts/pg-replica.sh reset && VECTORDR_PG_SYNC=1 scripts/pg-replica.sh start
 *   npx tsx examples/failover-pool.ts
 *
 * (Against your own cluster: set PG_EAST / PG_WEST, and KILL_CMD to something that kills the
 * primary, or leave it unset and kill it yourself while this runs.)
 */
import { exec } from 'node:child_process';
import pg from 'pg';
import { pgRouter } from '../adapters/pgvector/index.js';
import { memoryLease } from '../src/index.js';

const EAST = process.env.PG_EAST ?? 'postgres://postgres@127.0.0.1:54341/postgres';
const WEST = process.env.PG_WEST ?? 'postgres://postgres@127.0.0.1:54342/postgres';
const KILL_CMD = process.env.KILL_CMD ?? (process.env.PG_EAST === undefined ? 'bash scripts/pg-replica.sh kill a' : undefined);
const DIMS = 16;

const say = (msg: string): void => {
  process.stdout.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
};

function embed(text: string): number[] {
  // A stand-in for an embedding model: deterministic, unit length.
  const v = Array.from({ length: DIMS }, (_, i) => Math.sin((text.length + 1) * (i + 1) + text.charCodeAt(i % text.length)));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const router = pgRouter({
  pg,
  endpoints: [
    { name: 'east', connectionString: EAST },
    { name: 'west', connectionString: WEST },
  ],
  mode: 'promote',
  lease: memoryLease(), // one process; many instances share pgLease({ pool }) on a witness database
  acquireTimeoutMs: 10_000,
});
router.on((e) => {
  if (e.type === 'primary-changed' || e.type === 'promoted' || e.type === 'fenced' || e.type === 'endpoint-health')
    say(`event ${JSON.stringify(e)}`);
});

say(`primary: ${await router.start()}`);
await router.write((c) => c.query(`CREATE TABLE IF NOT EXISTS rag_docs (id bigint PRIMARY KEY, body text, embedding vector(${DIMS}))`));

let written = 0;
let failed = 0;
let searches = 0;
const upsert = (id: number): Promise<unknown> =>
  router.write(
    (c) =>
      c.query(
        'INSERT INTO rag_docs (id, body, embedding) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE ' +
          'SET body = EXCLUDED.body, embedding = EXCLUDED.embedding',
        [id, `doc ${id}`, JSON.stringify(embed(`doc ${id}`))],
      ),
    { idempotent: true, retry: { attempts: 20, deadlineMs: 20_000 } },
  );
const search = (q: string): Promise<unknown> =>
  router.read((c) => c.query('SELECT id FROM rag_docs ORDER BY embedding <=> $1 LIMIT 5', [JSON.stringify(embed(q))]), {
    policy: 'prefer-standby',
  });

const started = performance.now();
let killed = false;
for (let id = 0; performance.now() - started < 4000; id++) {
  if (!killed && performance.now() - started > 1500 && KILL_CMD !== undefined) {
    killed = true;
    say(`killing the primary (${KILL_CMD})`);
    exec(KILL_CMD);
  }
  try {
    await upsert(id);
    written++;
    if (id % 10 === 0) {
      await search(`doc ${id}`);
      searches++;
    }
  } catch (err) {
    failed++;
    say(`write failed: ${(err as Error).message}`);
  }
}
const st = router.status();
say(
  `done: ${written} upserts, ${searches} searches, ${failed} failed; primary ${st.primary} ` +
    `(timeline ${st.epoch}), failovers ${st.failovers}, ${st.noPrimaryMs} ms without a primary`,
);
await router.close();
// Run by `npm run test:all` as a check: with the kill, exactly one failover and no failed call.
if (failed > 0 || (killed && st.failovers !== 1)) process.exit(1);
