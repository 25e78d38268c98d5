/**
 * Peak memory of reading hostile objects (issue 22): a repository whose config, newest manifest or
 * a segment was replaced by a 512 MiB object, opened / listed / verified in a child process, by the
 * code of two trees (main's and this branch's) so the numbers compare in one run.
 *   npx tsx bench/untrusted-objects.ts [--base /work/main] [--mib 512] [--out f.json]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

const TAG = '@@BENCH_CHILD_RESULT ';
const here = fileURLToPath(import.meta.url);
const CASES = ['config', 'manifest', 'segment'] as const;
type Case = (typeof CASES)[number];

async function child(root: string, which: Case, dir: string): Promise<void> {
  const { openRepository } = (await import(
    pathToFileURL(path.join(root, 'src/repository/repository.ts')).href
  )) as typeof import('../src/repository/repository.js');
  const { fsStorage } = (await import(
    pathToFileURL(path.join(root, 'src/storage/fs-storage.ts')).href
  )) as typeof import('../src/storage/fs-storage.js');
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    const repo = await openRepository({ storage: fsStorage({ path: dir }) });
    if (which === 'manifest') outcome = `listed ${(await repo.list()).length}`;
    if (which === 'segment') outcome = `verify ok=${(await repo.verify()).ok}`;
  } catch (err) {
    outcome = (err as { code?: string }).code ?? (err as Error).name;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage();
  console.log(
    `${TAG}${JSON.stringify({ outcome, ms, cpuS: (cpu.user + cpu.system) / 1e6, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}`,
  );
}

function runChild(root: string, which: Case, dir: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', here, 'child', root, which, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith(TAG));
      if (line) resolve(JSON.parse(line.slice(TAG.length)) as Record<string, unknown>);
      else reject(new Error(`child failed: ${out}`));
    });
  });
}

async function prepare(which: Case, mib: number): Promise<string> {
  const { openRepository } = await import('../src/repository/repository.js');
  const { fsStorage } = await import('../src/storage/fs-storage.js');
  const { pgvectorAdapter } = await import('../adapters/pgvector/index.js');
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec(`CREATE EXTENSION vector; CREATE TABLE docs (id int8 PRIMARY KEY, e vector(4));
    INSERT INTO docs SELECT g, ARRAY[g, 1, 2, 3]::real[]::vector FROM generate_series(1, 1000) g;`);
  const dir = await mkdtemp(path.join(tmpdir(), 'vectordr-bench-untrusted-'));
  const repo = await openRepository({ storage: fsStorage({ path: dir, fsync: false }), create: true });
  const id = (await repo.snapshot(pgvectorAdapter({ pglite: db }), 'docs')).manifest.id;
  await db.close();
  const victim =
    which === 'config'
      ? path.join(dir, 'vectordr.json')
      : which === 'manifest'
        ? path.join(dir, 'snapshots', 'docs', `${id}.json`)
        : await (async () => {
            const sub = (await readdir(path.join(dir, 'data')))[0] as string;
            return path.join(dir, 'data', sub, (await readdir(path.join(dir, 'data', sub)))[0] as string);
          })();
  await writeFile(victim, '');
  await truncate(victim, mib * 1024 * 1024); // sparse: no disk, but a whole read still costs the memory
  return dir;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'child') return child(args[1] as string, args[2] as Case, args[3] as string);
  const opt = (name: string, d: string): string => {
    const i = args.indexOf(name);
    return i >= 0 ? (args[i + 1] as string) : d;
  };
  const base = opt('--base', '/work/main');
  const mib = Number(opt('--mib', '512'));
  const branch = path.resolve(path.dirname(here), '..');
  const results: Record<string, unknown>[] = [];
  for (const which of CASES) {
    const dir = await prepare(which, mib);
    for (const [tree, root] of [
      ['base', base],
      ['branch', branch],
    ] as const) {
      const r = await runChild(root, which, dir);
      results.push({ case: which, tree, ...r });
      console.error(`${which} ${tree}: ${JSON.stringify(r)}`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  const out = opt('--out', '');
  if (out) await writeFile(out, `${JSON.stringify({ mib, base, results }, null, 2)}\n`);
}

await main();
