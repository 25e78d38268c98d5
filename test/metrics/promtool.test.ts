/**
 * The example alert rules and the textfile format, checked by Prometheus's own promtool (Debian's
 * prometheus 2.42.0 package, scripts/prometheus.sh): the rules parse (`check rules`), fire and stay
 * quiet when they should (`test rules` with examples/prometheus/vectordr-backup.rules.test.yml), and
 * a textfile written after real runs passes `check metrics` (format and naming lint).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import * as prom from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgvectorAdapter } from '../../adapters/pgvector/index.js';
import { registerBackupMetrics, writeTextfile } from '../../src/metrics/index.js';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { prometheusAvailable, promtool } from '../helpers/metrics-servers.js';
import { openPglite } from '../helpers/pglite.js';

const examples = fileURLToPath(new URL('../../examples/prometheus/', import.meta.url));

describe.runIf(prometheusAvailable)('alert rules and textfiles checked by promtool', () => {
  let db: PGlite;
  let adapter: PgvectorAdapter;
  let dir: string;

  beforeAll(async () => {
    ({ db, adapter } = await openPglite(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4));
      INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector FROM generate_series(1, 300) g;`));
    dir = await mkdtemp(path.join(tmpdir(), 'vectordr-promtool-'));
  });
  afterAll(async () => {
    await db?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('the example rules parse', async () => {
    const r = await promtool(['check', 'rules', path.join(examples, 'vectordr-backup.rules.yml')]);
    expect(r.output).toMatch(/SUCCESS: 4 rules found/);
    expect(r.code, r.output).toBe(0);
  });

  it('the example rules pass their unit tests (RPO, last attempt failed, no success in 26 h, repository growth)', async () => {
    const r = await promtool(['test', 'rules', path.join(examples, 'vectordr-backup.rules.test.yml')]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS/);
  });

  it('a textfile written after real runs passes check metrics, with ages or without', async () => {
    const repo = await openRepository({ storage: fsStorage({ path: path.join(dir, 'repo'), fsync: false }), create: true });
    for (const ages of [false, true]) {
      const registry = new prom.Registry();
      const metrics = registerBackupMetrics({ prom, registry, repository: repo, ages });
      await metrics.track('snapshot', { collection: 'docs', engine: adapter.engine }, () => repo.snapshot(adapter, 'docs'));
      await metrics.track('restore', { collection: 'docs' }, () =>
        repo.restore(adapter, { collection: 'docs', target: 'docs_copy', ifExists: 'replace' }),
      );
      await metrics.track('verify-integrity', { collection: 'docs' }, () => repo.verify()).catch(() => undefined);
      await expect(
        metrics.track('snapshot', { collection: 'gone', engine: adapter.engine }, () => repo.snapshot(adapter, 'gone')),
      ).rejects.toThrow();
      await metrics.refresh();
      const file = path.join(dir, `vectordr-${ages}.prom`);
      await writeTextfile(registry, file);
      const text = await readFile(file, 'utf8');
      expect(text).toMatch(/^vectordr_backup_failures_total\{.*collection="gone".*code="COLLECTION_NOT_FOUND"\} 1$/m);
      const r = await promtool(['check', 'metrics'], text);
      expect(r.code, r.output).toBe(0);
      expect(r.output.trim(), 'lint findings').toBe('');
    }
  });
});
