/**
 * The CLI's metrics hook (src/cli/metrics-hook.ts) on vectordr/metrics, as two cron runs use it: a
 * tracked snapshot that succeeds, then a run that fails before any operation; each a new registry
 * (a new process) writing a node-exporter textfile after reading the repository. The Pushgateway
 * side is vectordr/metrics' own (test/metrics/), and the CLI's end to end in test/cli/.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { createMetricsHook } from '../../src/cli/metrics-hook.js';
import { NotFoundError } from '../../src/errors.js';
import { type Repository, openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { openPglite } from '../helpers/pglite.js';

let dir: string;
let db: PGlite;
let adapter: PgvectorAdapter;
let repo: Repository;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vectordr-cli-metrics-'));
  ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4));
    INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector FROM generate_series(1, 200) g;`));
  repo = await openRepository({ storage: fsStorage({ path: path.join(dir, 'repo') }), create: true });
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The value of the sample of `name` whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): string | undefined {
  for (const line of text.split('\n')) {
    const m = new RegExp(`^vectordr_backup_${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (m && Object.entries(labels).every(([k, v]) => (m[1] as string).includes(`${k}="${v}"`))) return m[2];
  }
  return undefined;
}

describe('CLI metrics hook: textfile of a cron job', () => {
  it('a tracked snapshot, then a run failing before it: status, failures by code, and the last success read from the repository', async () => {
    const file = path.join(dir, 'vectordr-docs.prom');
    const label = (): string => 'file:///backups';
    const docs = { collection: 'docs', op: 'snapshot' };

    const first = await createMetricsHook(label);
    await first.track('snapshot', { collection: 'docs', engine: adapter.engine }, () => repo.snapshot(adapter, 'docs'));
    expect(await first.flush({ textfile: file, job: 'vectordr' }, repo)).toEqual({});
    const one = await readFile(file, 'utf8');
    expect(sample(one, 'last_status', { ...docs, repository: 'file:///backups', engine: 'pgvector' })).toBe('1');
    expect(sample(one, 'last_rows', docs)).toBe('200');
    const success = sample(one, 'last_successful_timestamp', docs);
    expect(Number(success)).toBeGreaterThan(0);
    expect(sample(one, 'newest_snapshot_timestamp', { collection: 'docs' })).toBeDefined();

    // The next run cannot even start its snapshot; the same error reported twice counts once.
    const second = await createMetricsHook(label);
    const gone = new NotFoundError('COLLECTION_NOT_FOUND', 'gone');
    await expect(second.track('snapshot', { collection: 'docs' }, () => Promise.reject(gone))).rejects.toBe(gone);
    second.recordFailure('snapshot', { collection: 'docs' }, gone);
    second.recordFailure('snapshot', { collection: 'docs' }, new Error('the repository could not be opened'));
    await second.flush({ textfile: file, job: 'vectordr' }, repo);
    const two = await readFile(file, 'utf8');
    expect(sample(two, 'last_status', docs)).toBe('0');
    expect(sample(two, 'failures_total', { ...docs, code: 'COLLECTION_NOT_FOUND' })).toBe('1');
    expect(sample(two, 'failures_total', { ...docs, code: 'UNKNOWN' })).toBe('1');
    // refresh() read the repository: the last success is the snapshot's completion, whatever this run did.
    expect(Number(sample(two, 'last_successful_timestamp', docs))).toBeCloseTo(Number(success), 0);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a repository that cannot be read leaves the run’s own metrics to be written, and says why', async () => {
    const file = path.join(dir, 'unreadable.prom');
    const hook = await createMetricsHook(() => 'file:///elsewhere');
    hook.recordFailure('prune', {}, new NotFoundError('REPOSITORY_NOT_FOUND', 'none'));
    const broken = {
      storage: repo.storage,
      list: () => Promise.reject(new Error('storage down')),
      readManifest: repo.readManifest.bind(repo),
    };
    const { refreshError } = await hook.flush({ textfile: file, job: 'vectordr' }, broken);
    expect(String(refreshError)).toContain('storage down');
    expect(sample(await readFile(file, 'utf8'), 'failures_total', { op: 'prune', code: 'REPOSITORY_NOT_FOUND' })).toBe('1');
  });
});
