/**
 * The built `vectordr` CLI against a real Qdrant (QDRANT_URL), the engine beside PostgreSQL: a
 * collection snapshotted, lost, restored and verified from the command line, with the engine
 * picked from its environment variables alone. Skips without QDRANT_URL, fails in CI
 * (VECTORDR_REQUIRE_ENGINES=...,qdrant-real).
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli, shown } from '../helpers/cli.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { tempDir } from '../helpers/repository.js';

const QDRANT_URL = process.env.QDRANT_URL;
const available = engineAvailable('qdrant-real', QDRANT_URL !== undefined);
const API_KEY = process.env.QDRANT_API_KEY;
const collection = randomName('cli_qdrant');
let dir: string;

/** A Qdrant REST call; throws on a non-2xx answer. */
async function qdrant(method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${QDRANT_URL}${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...(API_KEY ? { 'api-key': API_KEY } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
  return res.json();
}

describe.skipIf(!available)('vectordr (built CLI) on a real Qdrant', () => {
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    dir = await tempDir('vectordr-cli-qdrant-');
    await qdrant('PUT', `/collections/${collection}`, { vectors: { size: 8, distance: 'Cosine' } });
    const points = Array.from({ length: 300 }, (_, i) => ({
      id: i + 1,
      vector: Array.from({ length: 8 }, (_, d) => Math.sin((i + 1) * 0.3 + d)),
      payload: { title: `point ${i + 1}`, group: i % 4 },
    }));
    await qdrant('PUT', `/collections/${collection}/points?wait=true`, { points });
    // The engine comes from its variable alone (no --engine); the API key, when the server has one, from the environment.
    env = { VECTORDR_REPOSITORY: path.join(dir, 'repo'), VECTORDR_QDRANT_URL: QDRANT_URL, VECTORDR_QDRANT_API_KEY: API_KEY };
  });

  afterAll(async () => {
    await qdrant('DELETE', `/collections/${collection}`).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('snapshot, lose the collection, restore it, verify parity; diff against the live collection', async () => {
    const run = async (args: string[]): Promise<CliResult> => {
      const r = await runCli(args, { env });
      expect(r.code, `${args.join(' ')}: ${shown(r)}`).toBe(0);
      return r;
    };
    await run(['init']);
    const snap = await run(['snapshot', collection, '--json']);
    const summary = snap.json.find((m) => m.message_type === 'summary') as {
      manifest: { id: string; rows: { upserts: number }; source: { engine: string } };
    };
    expect(summary.manifest).toMatchObject({ rows: { upserts: 300 }, source: { engine: 'qdrant' } });

    await qdrant('DELETE', `/collections/${collection}`);
    const restore = await run(['restore', collection, '--if-target-missing']);
    expect(restore.stdout).toContain(`restored snapshot ${summary.manifest.id} into ${collection}: 300 rows`);
    expect((await qdrant('POST', `/collections/${collection}/points/count`, { exact: true })) as object).toMatchObject({
      result: { count: 300 },
    });

    const verify = await run(['verify', '--collection', collection, '--parity', '--json']);
    expect(verify.json.find((m) => m.message_type === 'summary')).toMatchObject({
      ok: true,
      parity: [{ ok: true, rows: { live: 300, snapshot: 300 } }],
    });

    await qdrant('POST', `/collections/${collection}/points/delete?wait=true`, { points: [7] });
    const diff = await run(['diff', 'latest', '--live', '--collection', collection]);
    expect(diff.stdout).toContain('- 7\n0 added, 1 removed, 0 changed');
  });

  it('an API key from --qdrant-api-key-file is never printed', async () => {
    const keyFile = path.join(dir, 'qdrant-key');
    // A key the server may not require is still sent; a server without keys ignores it.
    await writeFile(keyFile, `${API_KEY ?? 'qdrant-key-Never-Shown'}\n`);
    const r = await runCli(
      ['diff', 'latest', '--live', '--collection', collection, '-v', '--engine', 'qdrant', '--qdrant-api-key-file', keyFile],
      { env },
    );
    expect(r.code, shown(r)).toBe(0);
    expect(r.stderr).toContain(`engine qdrant at ${QDRANT_URL}`);
    expect(`${r.stdout}${r.stderr}`).not.toContain(API_KEY ?? 'qdrant-key-Never-Shown');
  });
});
