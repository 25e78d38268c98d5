/**
 * The built `vectordr` CLI against a real PostgreSQL + pgvector (PG_URL), with an encrypted
 * filesystem repository and a MinIO (S3) one: every verb round trip, JSON lines, --if-target-missing
 * twice, a locked repository, problems found by verify (exit 3), SIGTERM during a snapshot (130, lock
 * released, nothing committed), and no secret in any output. Skips without PG_URL, fails in CI
 * (VECTORDR_REQUIRE_ENGINES).
 */
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { type CliOptions, type CliResult, runCli, shown } from '../helpers/cli.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { deleteGroup, pushedGroups, pushgatewayAvailable, pushgatewayUrl } from '../helpers/metrics-servers.js';
import { pgvectorPool } from '../helpers/pg.js';
import { tempDir } from '../helpers/repository.js';
import { s3Available, s3Config } from '../helpers/s3.js';

const PG_URL = process.env.PG_URL;
const available = engineAvailable('pgvector', PG_URL !== undefined);
const PASSWORD = 'Pg-cli-pass-4-e2e';
/** A connection URL with a password, for a failing run: its password must never be printed. */
const SECRET_URL = 'postgres://postgres:Sup3r-Secret-Pg-pw@127.0.0.1:1/postgres';

let pool: pg.Pool;
let dir: string;
const table = randomName('cli_docs');
const big = randomName('cli_big');
const created: string[] = [table, big];
const outputs: CliResult[] = [];

async function vectordr(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  onStdout?: CliOptions['onStdout'],
): Promise<CliResult> {
  const r = await runCli(args, {
    env: { VECTORDR_PG_URL: PG_URL, VECTORDR_PASSWORD: PASSWORD, ...env },
    ...(onStdout ? { onStdout } : {}),
  });
  outputs.push(r);
  return r;
}

const summaryOf = (r: CliResult): Record<string, unknown> => {
  const s = r.json.filter((m) => m.message_type === 'summary');
  expect(s, shown(r)).toHaveLength(1);
  return s[0] as Record<string, unknown>;
};

describe.skipIf(!available)('vectordr (built CLI) on PostgreSQL + pgvector', () => {
  let repo: string;

  beforeAll(async () => {
    pool = await pgvectorPool(PG_URL);
    await pool.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, embedding vector(16) NOT NULL, title text, tags text[])`);
    await pool.query(
      `INSERT INTO ${table} SELECT g, (SELECT array_agg(sin(g * 0.1 + d))::real[] FROM generate_series(1, 16) d)::vector, 'doc ' || g, ARRAY['t' || (g % 5)]
       FROM generate_series(1, 3000) g`,
    );
    await pool.query(`CREATE INDEX ON ${table} USING hnsw (embedding vector_cosine_ops)`);
    // Big enough that a snapshot is still running when SIGTERM arrives.
    await pool.query(`CREATE TABLE ${big} (id bigint PRIMARY KEY, embedding vector(64) NOT NULL)`);
    await pool.query(`INSERT INTO ${big} SELECT g, array_fill((g % 997)::real, ARRAY[64])::vector FROM generate_series(1, 120000) g`);
    dir = await tempDir('vectordr-cli-pg-');
    repo = path.join(dir, 'repo');
    const init = await vectordr(['init', '-r', repo]);
    expect(init.code, shown(init)).toBe(0);
  });

  afterAll(async () => {
    for (const t of created) await pool?.query(`DROP TABLE IF EXISTS ${t}`);
    await pool?.end();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The round trip's two snapshots: before and after an edit, a delete and an insert. */
  let a: string;
  let b: string;

  it('snapshot: JSON lines of status messages and one summary; a second snapshot after changes', async () => {
    const first = await vectordr(['snapshot', table, '-r', repo, '--tag', 'trigger=cron', '--tag', 'env=test', '--json']);
    expect(first.code, shown(first)).toBe(0);
    expect(first.json.length).toBeGreaterThan(1);
    for (const m of first.json) expect(['status', 'summary']).toContain(m.message_type);
    expect(first.json.find((m) => m.message_type === 'status')).toMatchObject({
      operation: 'snapshot',
      phase: 'start',
      rows: 0,
      total_rows: 3000,
    });
    const summary = summaryOf(first) as { manifest: { id: string; rows: { upserts: number }; tags: Record<string, string> }; kind: string };
    expect(summary).toMatchObject({ kind: 'full', manifest: { rows: { upserts: 3000 }, tags: { trigger: 'cron', env: 'test' } } });
    a = summary.manifest.id;

    await pool.query(
      `UPDATE ${table} SET title = 'edited' WHERE id = 10; DELETE FROM ${table} WHERE id = 11; INSERT INTO ${table} VALUES (5000, array_fill(1, ARRAY[16])::vector, 'new', NULL)`,
    );
    const second = await vectordr(['snapshot', table, '-r', repo]);
    expect(second.code, shown(second)).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^snapshot (\\w+) of ${table} saved \\(full\\): 3,000 rows`, 'm'));
    b = (/^snapshot (\w+) /.exec(second.stdout) as RegExpExecArray)[1] as string;
  });

  it('snapshots lists them oldest first (a summary line each with --json), filtered by tag', async () => {
    const list = await vectordr(['snapshots', '-r', repo, '--json']);
    expect(list.code, shown(list)).toBe(0);
    expect(list.json.map((s) => [s.message_type, s.id, s.collection, s.records])).toEqual([
      ['summary', a, table, 3000],
      ['summary', b, table, 3000],
    ]);
    const tagged = await vectordr(['snapshots', '-r', repo, '--tag', 'trigger=cron']);
    expect(tagged.stdout).toContain(a);
    expect(tagged.stdout).not.toContain(b);
    expect(tagged.stdout).toContain('1 snapshot\n');
  });

  it('diff names the ids added, removed and changed between them; against the live table, none', async () => {
    const diff = await vectordr(['diff', a, b, '-r', repo, '--collection', table]);
    expect(diff.code, shown(diff)).toBe(0);
    expect(diff.stdout).toContain('+ 5000\n- 11\nM 10\n1 added, 1 removed, 1 changed');
    const live = await vectordr(['diff', 'latest', '--live', '-r', repo, '--collection', table, '--json']);
    expect(summaryOf(live)).toMatchObject({ ok: true, snapshot: b });
  });

  it('restore into another table; again into the same one fails (exit 1) saying which flag to pass', async () => {
    const target = `${table}_restored`;
    created.push(target);
    const restore = await vectordr(['restore', table, '-r', repo, '--snapshot', a, '--target', target, '--json']);
    expect(restore.code, shown(restore)).toBe(0);
    expect(summaryOf(restore)).toMatchObject({ snapshot: a, target, rows: 3000 });
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${target}`)).rows[0]).toEqual({ n: 3000 });
    const again = await vectordr(['restore', table, '-r', repo, '--target', target]);
    expect(again.code, shown(again)).toBe(1);
    expect(again.stderr).toContain('--if-exists replace');
  });

  it('verify: integrity, parity and recall@k, all OK (exit 0)', async () => {
    const verify = await vectordr(['verify', '-r', repo, '--collection', table, '--parity', '--recall', '--k', '5', '--json']);
    expect(verify.code, shown(verify)).toBe(0);
    expect(summaryOf(verify)).toMatchObject({ ok: true, integrity: { ok: true }, parity: [{ ok: true }], recall: [{ ok: true, k: 5 }] });
  });

  it('stats, forget (dry run, then with --prune), prune, unlock', async () => {
    const stats = await vectordr(['stats', '-r', repo, '--json']);
    expect(summaryOf(stats)).toMatchObject({
      snapshots: 2,
      collections: [{ collection: table, snapshots: 2, latest: { id: b, records: 3000 } }],
    });
    const dry = await vectordr(['forget', '-r', repo, '--keep-last', '1', '--dry-run']);
    expect(dry.code, shown(dry)).toBe(0);
    expect(dry.stdout).toContain(`remove ${a}`);
    expect(dry.stdout).toContain('dry run: nothing removed');
    const forget = await vectordr(['forget', '-r', repo, '--keep-last', '1', '--prune', '--json']);
    expect(summaryOf(forget)).toMatchObject({ dryRun: false, removed: 1, prune: { dryRun: false, snapshots: 1 } });
    const prune = await vectordr(['prune', '-r', repo]);
    expect(prune.code, shown(prune)).toBe(0);
    expect(prune.stdout).toMatch(/^1 snapshot references 1 segment /m);
    const unlock = await vectordr(['unlock', '-r', repo]);
    expect(unlock.stdout).toContain('0 locks removed');
  });

  it('restore --if-target-missing: the first restores, the second is a no-op that exits 0', async () => {
    const target = `${table}_pod`;
    created.push(target);
    const args = ['restore', table, '-r', repo, '--target', target, '--if-target-missing', '--json'];
    const first = await vectordr(args);
    expect(first.code, shown(first)).toBe(0);
    expect(summaryOf(first)).toMatchObject({ target, rows: 3000 });
    await pool.query(`INSERT INTO ${target} VALUES (9999, array_fill(2, ARRAY[16])::vector, 'written after start-up', NULL)`);
    const second = await vectordr(args);
    expect(second.code, shown(second)).toBe(0);
    expect(summaryOf(second)).toEqual({
      message_type: 'summary',
      skipped: true,
      target,
      reason: 'the target exists (--if-target-missing)',
    });
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${target}`)).rows[0]).toEqual({ n: 3001 });
  });

  it('a snapshot of a locked repository exits 11', async () => {
    const held = await openRepository({ storage: fsStorage({ path: repo }), encryption: { passphrase: PASSWORD } });
    const lock = await held.lock({ exclusive: true, operation: 'prune elsewhere' });
    try {
      const r = await vectordr(['snapshot', table, '-r', repo, '--json']);
      expect(r.code, shown(r)).toBe(11);
      expect(r.json.at(-1)).toMatchObject({ message_type: 'error', code: 'LOCKED' });
    } finally {
      await lock.release();
    }
  });

  it('SIGTERM during a snapshot: exit 130, the lock released, no snapshot committed', async () => {
    const before = (await openRepository({ storage: fsStorage({ path: repo }), encryption: { passphrase: PASSWORD } })).list();
    let sent = false;
    const r = await vectordr(['snapshot', big, '-r', repo, '--json'], {}, (chunk, child) => {
      if (!sent && chunk.includes('"phase":"start"')) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    expect(sent, shown(r)).toBe(true);
    expect(r.code, shown(r)).toBe(130);
    expect(r.json.at(-1)).toMatchObject({ message_type: 'error', code: 'ABORTED' });
    expect(r.json.at(-1)?.message).toMatch(/^Interrupted by SIGTERM/);
    expect(r.json.some((m) => m.message_type === 'summary')).toBe(false);
    const after = await openRepository({ storage: fsStorage({ path: repo }), encryption: { passphrase: PASSWORD } });
    expect(await after.locks()).toEqual([]);
    expect(await after.list()).toEqual(await before);
    expect(await after.list({ collection: big })).toEqual([]);
  });

  it('verify finds a damaged segment: exit 3 with the problem in the report', async () => {
    const copy = path.join(dir, 'damaged');
    const init = await vectordr(['init', '-r', copy]);
    expect(init.code, shown(init)).toBe(0);
    expect((await vectordr(['snapshot', table, '-r', copy, '-q'])).code).toBe(0);
    const data = path.join(copy, 'data');
    const [sub] = await readdir(data);
    const [file] = await readdir(path.join(data, sub as string));
    await writeFile(path.join(data, sub as string, file as string), 'not a segment');
    const r = await vectordr(['verify', '-r', copy, '--json']);
    expect(r.code, shown(r)).toBe(3);
    expect(summaryOf(r)).toMatchObject({ ok: false, integrity: { ok: false } });
    const human = await vectordr(['verify', '-r', copy, '-q']);
    expect(human.code).toBe(3);
    expect(human.stdout).toContain('verify: PROBLEMS FOUND');
  });

  it('an engine that cannot be reached fails (exit 1) without printing its URL password, --verbose and --json alike', async () => {
    for (const extra of [['-v'], ['--json']]) {
      const r = await vectordr(['snapshot', table, '-r', repo, '--pg-url', SECRET_URL, ...extra]);
      expect(r.code, shown(r)).toBe(1);
      expect(`${r.stdout}${r.stderr}`).toContain('ECONNREFUSED');
    }
    const verbose = outputs.at(-2) as CliResult;
    expect(verbose.stderr).toContain('engine pgvector at postgres://postgres:***@127.0.0.1:1/postgres');
  });

  it('--metrics-textfile: a snapshot writes its status and rows; a failed one its error code, keeping the last success', async () => {
    const file = path.join(dir, 'vectordr-docs.prom');
    const ok = await vectordr(['snapshot', table, '-r', repo, '-q', '--metrics-textfile', file]);
    expect(ok.code, shown(ok)).toBe(0);
    const first = await readFile(file, 'utf8');
    const labels = `collection="${table}",engine="pgvector",op="snapshot"`;
    expect(first).toContain(`vectordr_backup_last_status{repository="file://${repo}",${labels}} 1`);
    expect(first).toMatch(new RegExp(`vectordr_backup_last_rows\\{[^}]*${labels}\\} 3000`));
    const success = /vectordr_backup_last_successful_timestamp\{[^}]*op="snapshot"\} (\S+)/.exec(first)?.[1];
    expect(Number(success)).toBeGreaterThan(0);

    const failed = await vectordr(['snapshot', `${table}_missing`, '-r', repo, '-q', '--metrics-textfile', file]);
    expect(failed.code, shown(failed)).toBe(1);
    const second = await readFile(file, 'utf8');
    expect(second).toMatch(/vectordr_backup_failures_total\{[^}]*op="snapshot",code="COLLECTION_NOT_FOUND"\} 1/);
    expect(second).toMatch(new RegExp(`vectordr_backup_last_status\\{[^}]*collection="${table}_missing"[^}]*\\} 0`));
    // Read back from the repository (refresh()): the last success of the collection still stands.
    expect(second).toContain(`vectordr_backup_last_successful_timestamp{repository="file://${repo}",${labels}} ${success}`);
  });

  describe.runIf(pushgatewayAvailable)('with a Pushgateway', () => {
    it("--metrics-push: the run replaces its job's group with what it says", async () => {
      const job = randomName('vectordr_cli');
      try {
        const r = await vectordr(['snapshot', table, '-r', repo, '-q', '--metrics-push', pushgatewayUrl as string, '--metrics-job', job]);
        expect(r.code, shown(r)).toBe(0);
        const group = (await pushedGroups()).find((g) => g.labels.job === job);
        const status = group?.families.get('vectordr_backup_last_status')?.find((x) => x.labels.collection === table);
        expect(status?.value).toBe('1');
      } finally {
        await deleteGroup(job);
      }
    });
  });

  describe.skipIf(!s3Available)('with a MinIO (S3) repository', () => {
    it('init, snapshot, snapshots, restore, verify through s3://bucket/prefix with AWS_* credentials', async () => {
      const c = s3Config();
      if (!c) throw new Error('unreachable: s3Available');
      const env = {
        AWS_ACCESS_KEY_ID: c.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: c.credentials.secretAccessKey,
        AWS_REGION: c.region,
        VECTORDR_S3_ENDPOINT: c.endpoint,
        VECTORDR_REPOSITORY: `s3://${c.bucket}/${randomName('cli')}`,
      };
      expect((await vectordr(['init', '-v'], env)).code).toBe(0);
      const snap = await vectordr(['snapshot', table, '--json', '-v'], env);
      expect(snap.code, shown(snap)).toBe(0);
      const id = (summaryOf(snap) as { manifest: { id: string } }).manifest.id;
      const list = await vectordr(['snapshots', '--json'], env);
      expect(list.json.map((s) => s.id)).toEqual([id]);
      const target = `${table}_s3`;
      created.push(target);
      const restore = await vectordr(['restore', table, '--target', target], env);
      expect(restore.code, shown(restore)).toBe(0);
      expect(restore.stdout).toContain(`into ${target}: 3,000 rows`);
      const verify = await vectordr(['verify', '--parity', '--collection', table, '--json'], env);
      expect(summaryOf(verify)).toMatchObject({ ok: true });
      for (const r of outputs) expect(`${r.stdout}${r.stderr}`).not.toContain(c.credentials.secretAccessKey);
    });
  });

  it('snapshot split over workers: the Indexed Job form (--job-index 0 coordinates 1 and 2) commits one snapshot', async () => {
    const job = (i: number): Promise<CliResult> =>
      vectordr(['snapshot', table, '-r', repo, '--workers', '2', '--plan', 'cli-job-1', '--job-index', String(i), '--json']);
    // Workers first: they wait for the plan their coordinator writes.
    const [w1, w2, coordinator] = await Promise.all([job(1), job(2), job(0)]);
    for (const r of [w1, w2, coordinator]) expect(r.code, shown(r)).toBe(0);
    const parts = [w1, w2].map((r) => summaryOf(r) as { index: number; part: { rows: number } });
    expect(parts.map((p) => p.index)).toEqual([0, 1]);
    const summary = summaryOf(coordinator) as { plan: string; manifest: { rows: { upserts: number } } };
    const live = Number((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n);
    expect(summary.plan).toBe('cli-job-1');
    expect(summary.manifest.rows.upserts).toBe(live);
    expect(parts[0]!.part.rows + parts[1]!.part.rows).toBe(live);
    const verify = await vectordr(['verify', '-r', repo, '--collection', table, '--parity', '--json']);
    expect(verify.code, shown(verify)).toBe(0);
    expect(summaryOf(verify)).toMatchObject({ ok: true, parity: [{ ok: true }] });
    // A worker needs the plan's id; --part and --job-index exclude each other.
    expect((await vectordr(['snapshot', table, '-r', repo, '--part', '0'])).code).toBe(2);
    expect((await vectordr(['snapshot', table, '-r', repo, '--plan', 'x', '--part', '0', '--job-index', '1'])).code).toBe(2);
  });

  it('restore split over workers: the Indexed Job form swaps in the same rows; a rerun of the Job is a no-op', async () => {
    const target = `${table}_job`;
    created.push(target);
    const job = (i: number): Promise<CliResult> =>
      vectordr([
        'restore',
        table,
        '-r',
        repo,
        '--target',
        target,
        '--if-target-missing',
        '--workers',
        '2',
        '--plan',
        'cli-restore-1',
        '--job-index',
        String(i),
        '--json',
      ]);
    // Workers first: they wait for the plan their coordinator writes.
    const [w1, w2, coordinator] = await Promise.all([job(1), job(2), job(0)]);
    for (const r of [w1, w2, coordinator]) expect(r.code, shown(r)).toBe(0);
    const parts = [w1, w2].map((r) => summaryOf(r) as { index: number; part: { rows: number; done: boolean } });
    expect(parts.map((p) => [p.index, p.part.done])).toEqual([
      [0, true],
      [1, true],
    ]);
    const summary = summaryOf(coordinator) as { plan: string; target: string; rows: number };
    expect(summary).toMatchObject({ plan: 'cli-restore-1', target });
    expect(parts[0]!.part.rows + parts[1]!.part.rows).toBe(summary.rows);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${target}`)).rows[0]).toEqual({ n: summary.rows });
    // The Job run again (a pod rescheduled): every index finds the target and does nothing.
    for (const r of await Promise.all([job(1), job(0)])) {
      expect(r.code, shown(r)).toBe(0);
      expect(summaryOf(r)).toMatchObject({ skipped: true, target });
    }
    expect((await vectordr(['restore', table, '-r', repo, '--part', '0'])).code).toBe(2);
  });

  it('no output of this file holds a secret: the repository password, the URL password', () => {
    expect(outputs.length).toBeGreaterThan(20);
    for (const r of outputs) {
      const text = `${r.stdout}${r.stderr}`;
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain('Sup3r-Secret-Pg-pw');
    }
  });
});
