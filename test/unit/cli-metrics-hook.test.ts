/**
 * The CLI's metrics hook (src/cli/metrics-hook.ts) writing a node-exporter textfile: atomically,
 * with the last success carried over a failed run (a cron job's failure must not reset the age the
 * alert measures). The Pushgateway side is tested with the backup metrics against a real gateway.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsHook } from '../../src/cli/metrics-hook.js';
import { NotFoundError } from '../../src/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vectordr-cli-metrics-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sample = (text: string, name: string): string | undefined => new RegExp(`^vectordr_cli_${name}\\{([^\\n]*)$`, 'm').exec(text)?.[1];

describe('CLI metrics hook: textfile', () => {
  it('a success writes its time, rows and bytes; a later failure keeps that success time and names the error code', async () => {
    const file = path.join(dir, 'vectordr.prom');
    const ok = await createMetricsHook();
    ok.recordOutcome({
      verb: 'snapshot',
      collection: 'docs',
      result: { manifest: { rows: { upserts: 1200 }, segments: [{ bytes: 1000 }, { bytes: 24 }] } },
      durationMs: 2500,
    });
    await ok.flush({ textfile: file, job: 'vectordr' });
    const first = await readFile(file, 'utf8');
    expect(sample(first, 'last_run_success')).toBe('operation="snapshot",collection="docs"} 1');
    expect(sample(first, 'last_run_rows')).toBe('operation="snapshot",collection="docs"} 1200');
    expect(sample(first, 'last_run_bytes')).toBe('operation="snapshot",collection="docs"} 1024');
    expect(sample(first, 'last_run_duration_seconds')).toBe('operation="snapshot",collection="docs"} 2.5');
    const success = sample(first, 'last_success_timestamp_seconds');
    expect(success).toMatch(/^operation="snapshot",collection="docs"} \d+(\.\d+)?$/);

    const failed = await createMetricsHook();
    failed.recordOutcome({
      verb: 'snapshot',
      collection: 'docs',
      error: new NotFoundError('COLLECTION_NOT_FOUND', 'gone'),
      durationMs: 10,
    });
    await failed.flush({ textfile: file, job: 'vectordr' });
    const second = await readFile(file, 'utf8');
    expect(sample(second, 'last_run_success')).toBe('operation="snapshot",collection="docs"} 0');
    expect(sample(second, 'last_run_error')).toBe('operation="snapshot",collection="docs",code="COLLECTION_NOT_FOUND"} 1');
    expect(sample(second, 'last_success_timestamp_seconds')).toBe(success);
    // Written through a temporary file renamed into place: nothing else is left in the directory.
    expect(await readdir(dir)).toEqual(['vectordr.prom']);
  });
});
