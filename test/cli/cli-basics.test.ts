/**
 * The built `vectordr` CLI without an engine: help, usage errors (exit 2), a missing repository
 * (10), init twice (1), a wrong or missing password (12), a locked repository (11) and unlock, the
 * config file, and --json errors. Every case spawns dist/cli.js; no server is needed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import { type CliResult, runCli, shown } from '../helpers/cli.js';

const PASSWORD = 'correct-Horse-7-battery';
let dir: string;
/** Every output of this file, checked for the password at the end. */
const outputs: CliResult[] = [];

async function vectordr(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(args, { env });
  outputs.push(r);
  return r;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vectordr-cli-basics-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vectordr (built CLI): usage', () => {
  it('--help lists every verb and the exit codes; --version prints the package version', async () => {
    const help = await vectordr(['--help']);
    expect(help.code, shown(help)).toBe(0);
    for (const verb of ['init', 'snapshot', 'snapshots', 'restore', 'verify', 'diff', 'forget', 'prune', 'stats', 'unlock', 'quickstart']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    }
    expect(help.stdout).toContain('10 no repository, 11 locked, 12 wrong password, 130 interrupted');
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect((await vectordr(['--version'])).stdout.trim()).toBe(version);
  });

  it('bad flags and arguments exit 2, as a JSON error line with --json', async () => {
    const cases: string[][] = [
      ['snapshots', '--bogus'],
      ['forget', '--keep-last', 'many'],
      ['restore'],
      ['restore', 'docs', '--if-exists', 'overwrite'],
      ['verify', '--k', '0'],
      ['diff', 'a'],
      ['nonsense'],
      ['snapshots'], // no repository given
    ];
    for (const args of cases) {
      const r = await vectordr(args);
      expect(r.code, `${args.join(' ')}: ${shown(r)}`).toBe(2);
      expect(r.stderr).toMatch(/error|vectordr:/);
    }
    const json = await vectordr(['snapshots', '--json', '--bogus']);
    expect(json.code).toBe(2);
    expect(json.json).toEqual([{ message_type: 'error', code: 'INVALID_ARGUMENT', message: "unknown option '--bogus'" }]);
    const noRepo = await vectordr(['snapshots', '--json']);
    expect(noRepo.json).toEqual([expect.objectContaining({ message_type: 'error', code: 'INVALID_ARGUMENT' })]);
  });

  it('a location without a repository exits 10 and says to run init', async () => {
    const r = await vectordr(['snapshots', '-r', path.join(dir, 'nothing-here')]);
    expect(r.code, shown(r)).toBe(10);
    expect(r.stderr).toContain('vectordr: No vectordr repository at');
    expect(r.stderr).toContain('vectordr init');
    const json = await vectordr(['stats', '--json'], { VECTORDR_REPOSITORY: path.join(dir, 'nothing-here') });
    expect(json.code).toBe(10);
    expect(json.json).toEqual([expect.objectContaining({ message_type: 'error', code: 'REPOSITORY_NOT_FOUND' })]);
  });
});

describe('vectordr (built CLI): quickstart', () => {
  it('runs the embedded PGlite demo end to end: snapshot, disaster, restore, verify', async () => {
    const repo = path.join(dir, 'quickstart');
    const r = await vectordr(['quickstart', '--rows', '300', '-r', repo]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout).toContain('disaster: DROP TABLE documents');
    expect(r.stdout).toContain('quickstart OK: snapshot -> disaster -> restore -> verify');
    const list = await vectordr(['snapshots', '-r', repo, '--json']);
    expect(list.json).toEqual([expect.objectContaining({ collection: 'documents', records: 300, tags: { trigger: 'quickstart' } })]);
  });
});

describe('vectordr (built CLI): repository, password, locks', () => {
  let repo: string;

  beforeAll(async () => {
    repo = path.join(dir, 'encrypted');
    const r = await vectordr(['init', '-r', repo, '--json'], { VECTORDR_PASSWORD: PASSWORD });
    expect(r.code, shown(r)).toBe(0);
    expect(r.json).toEqual([expect.objectContaining({ message_type: 'summary', encrypted: true, location: repo })]);
  });

  it('init on an existing repository exits 1 and changes nothing', async () => {
    const r = await vectordr(['init', '-r', repo], { VECTORDR_PASSWORD: PASSWORD });
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr).toContain('already exists');
    // Also when the password given does not open it: it is there all the same.
    expect((await vectordr(['init', '-r', repo])).code).toBe(1);
  });

  it('a wrong password exits 12; so does none for an encrypted repository, or one for an unencrypted one', async () => {
    const wrong = await vectordr(['snapshots', '-r', repo], { VECTORDR_PASSWORD: 'not-the-password' });
    expect(wrong.code, shown(wrong)).toBe(12);
    expect(wrong.stderr).toMatch(/passphrase does not open/);
    const none = await vectordr(['snapshots', '-r', repo, '--json']);
    expect(none.code).toBe(12);
    expect(none.json).toEqual([expect.objectContaining({ message_type: 'error', code: 'KEY_REQUIRED' })]);
    expect(none.json[0]?.message).toMatch(/--password-file|VECTORDR_PASSWORD/);
    const plain = path.join(dir, 'plain');
    expect((await vectordr(['init', '-r', plain])).code).toBe(0);
    expect((await vectordr(['snapshots', '-r', plain], { VECTORDR_PASSWORD: PASSWORD })).code).toBe(12);
  });

  it('the password from --password-file, VECTORDR_PASSWORD_FILE or the config file opens it', async () => {
    const file = path.join(dir, 'password');
    await writeFile(file, `${PASSWORD}\n`);
    const runs = [
      await vectordr(['snapshots', '-r', repo, '--password-file', file]),
      await vectordr(['snapshots', '-r', repo], { VECTORDR_PASSWORD_FILE: file }),
    ];
    const config = path.join(dir, 'vectordr.yaml');
    await writeFile(config, 'repository: ${REPO_DIR}/encrypted\npasswordFile: ${REPO_DIR}/password\n');
    runs.push(await vectordr(['snapshots', '-c', config], { REPO_DIR: dir }));
    for (const r of runs) {
      expect(r.code, shown(r)).toBe(0);
      expect(r.stdout).toContain('0 snapshots');
    }
  });

  it('a config file with an unknown key, or an unset ${VAR}, exits 2 naming it', async () => {
    const typo = path.join(dir, 'typo.yaml');
    await writeFile(typo, `repository: ${repo}\npasword: x\n`);
    const r = await vectordr(['snapshots', '-c', typo]);
    expect(r.code, shown(r)).toBe(2);
    expect(r.stderr).toContain('unknown key "pasword" at the top level');
    const unset = path.join(dir, 'unset.yaml');
    await writeFile(unset, 'repository: ${NOT_SET_ANYWHERE}\n');
    const u = await vectordr(['snapshots', '-c', unset]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('${NOT_SET_ANYWHERE} is not set');
  });

  it('a repository locked by another process exits 11; unlock keeps a live lock, --remove-all removes it', async () => {
    const held = await openRepository({ storage: fsStorage({ path: repo }), encryption: { passphrase: PASSWORD } });
    const lock = await held.lock({ exclusive: true, operation: 'prune in another pod' });
    try {
      const env = { VECTORDR_PASSWORD: PASSWORD };
      const r = await vectordr(['prune', '-r', repo], env);
      expect(r.code, shown(r)).toBe(11);
      expect(r.stderr).toContain('prune in another pod');
      expect(r.stderr).toContain('vectordr unlock');
      const json = await vectordr(['forget', '-r', repo, '--keep-last', '1', '--json'], env);
      expect(json.code).toBe(11);
      expect(json.json).toEqual([expect.objectContaining({ message_type: 'error', code: 'LOCKED' })]);

      const kept = await vectordr(['unlock', '-r', repo, '--json'], env);
      expect(kept.code, shown(kept)).toBe(0);
      expect(kept.json).toEqual([{ message_type: 'summary', removed: [], kept: 1 }]);
      const removed = await vectordr(['unlock', '-r', repo, '--remove-all'], env);
      expect(removed.code, shown(removed)).toBe(0);
      expect(removed.stdout).toContain('removed live lock of "prune in another pod"');
      expect(await held.locks()).toEqual([]);
      expect((await vectordr(['prune', '-r', repo, '--dry-run'], env)).code).toBe(0);
    } finally {
      await lock.release();
    }
  });

  it('a suspicious (oversized) lock object exits 11 with LOCK_SUSPICIOUS naming it; unlock --force removes it', async () => {
    const env = { VECTORDR_PASSWORD: PASSWORD };
    const key = 'locks/01J00000000000000000000009.json';
    await fsStorage({ path: repo }).put(key, new Uint8Array(100 * 1024));
    const r = await vectordr(['prune', '-r', repo, '--json'], env);
    expect(r.code, shown(r)).toBe(11);
    expect(r.json).toEqual([expect.objectContaining({ message_type: 'error', code: 'LOCK_SUSPICIOUS' })]);
    expect(r.stdout + r.stderr).toContain(key);
    const kept = await vectordr(['unlock', '-r', repo], env);
    expect(kept.code, shown(kept)).toBe(0);
    const forced = await vectordr(['unlock', '-r', repo, '--force'], env);
    expect(forced.code, shown(forced)).toBe(0);
    expect(forced.stdout).toContain(`removed suspicious (oversized) lock object ${key}`);
    expect((await vectordr(['prune', '-r', repo, '--dry-run'], env)).code).toBe(0);
  });

  it('forget refuses an empty policy (it would remove every snapshot): exit 2', async () => {
    const r = await vectordr(['forget', '-r', repo], { VECTORDR_PASSWORD: PASSWORD });
    expect(r.code, shown(r)).toBe(2);
    expect(r.stderr).toContain('must keep something');
  });

  it('forget <id>... needs --collection and no --keep-* (exit 2); an unknown id is exit 1 and removes nothing', async () => {
    const env = { VECTORDR_PASSWORD: PASSWORD };
    const noCollection = await vectordr(['forget', '-r', repo, '01ABC'], env);
    expect(noCollection.code, shown(noCollection)).toBe(2);
    expect(noCollection.stderr).toContain('give --collection');
    const mixed = await vectordr(['forget', '-r', repo, '--collection', 'docs', '--keep-last', '1', '01ABC'], env);
    expect(mixed.code, shown(mixed)).toBe(2);
    const unknown = await vectordr(['forget', '-r', repo, '--collection', 'docs', '01NOSUCHSNAPSHOT', '--json'], env);
    expect(unknown.code, shown(unknown)).not.toBe(0);
    expect(unknown.json).toEqual([expect.objectContaining({ message_type: 'error', code: 'SNAPSHOT_NOT_FOUND' })]);
  });

  it('the password never appears in any output, --verbose and --json included', async () => {
    const verbose = await vectordr(['stats', '-r', repo, '-v'], { VECTORDR_PASSWORD: PASSWORD });
    expect(verbose.code, shown(verbose)).toBe(0);
    expect(verbose.stderr).toContain('(encrypted, id');
    expect(outputs.length).toBeGreaterThan(20);
    for (const r of outputs) expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
  });
});
