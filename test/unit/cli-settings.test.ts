/**
 * The CLI's pieces that need no build and no server: the config file (strict, `${ENV}` expansion),
 * where settings come from (flag, env, config), secret redaction, the exit code of each error, and
 * the progress line. The built CLI is tested end to end in test/cli/.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandEnv, parseConfigFile } from '../../src/cli/config-file.js';
import { EXIT_CODES, exitCodeFor } from '../../src/cli/exit-codes.js';
import { Output } from '../../src/cli/output.js';
import { formatBytes, formatDuration, progressLine } from '../../src/cli/progress-bar.js';
import { Secrets } from '../../src/cli/secrets.js';
import { engineSettings, parseRepositoryUrl, repositorySettings } from '../../src/cli/settings.js';
import { handleInterrupts } from '../../src/cli/signals.js';
import {
  AbortedError,
  ConflictError,
  EngineError,
  InvalidInputError,
  NotFoundError,
  PermissionError,
  VectordrError,
} from '../../src/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vectordr-cli-settings-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The message of the error `fn` throws (it must throw a VectordrError of `code`). */
function thrown(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VectordrError);
    expect((err as VectordrError).code).toBe(code);
    return (err as VectordrError).reason;
  }
  throw new Error('expected an error');
}

describe('config file', () => {
  it('reads YAML and JSON, expanding ${NAME} in values after parsing', () => {
    const env = { BUCKET_PATH: 'b/prefix', PW: 'p: with # yaml chars' };
    const yaml = parseConfigFile('repository: s3://${BUCKET_PATH}\npassword: ${PW}\npgvector:\n  url: postgres://x/db\n', 'c.yaml', env);
    expect(yaml).toEqual({ repository: 's3://b/prefix', password: 'p: with # yaml chars', pgvector: { url: 'postgres://x/db' } });
    expect(parseConfigFile('{"engine": "qdrant", "qdrant": {"url": "http://q:6333"}}', 'c.json', {})).toEqual({
      engine: 'qdrant',
      qdrant: { url: 'http://q:6333' },
    });
    expect(parseConfigFile('', 'empty.yaml', {})).toEqual({});
  });

  it('refuses an unknown key with its path and the known keys (a typo must not mean "no password")', () => {
    expect(thrown(() => parseConfigFile('pasword: x\n', 'c.yaml', {}), 'INVALID_OPTIONS')).toMatch(
      /config file c\.yaml: unknown key "pasword" at the top level \(known: repository, password, passwordFile, s3, engine/,
    );
    expect(thrown(() => parseConfigFile('s3:\n  endpiont: http://x\n', 'c.yaml', {}), 'INVALID_OPTIONS')).toMatch(
      /unknown key "endpiont" under s3 \(known: endpoint, forcePathStyle, region/,
    );
    expect(thrown(() => parseConfigFile('engine: redis\n', 'c.yaml', {}), 'INVALID_OPTIONS')).toMatch(/engine: /);
  });

  it('an unset variable is an error, $${ stays literal, and a syntax error does not quote the line (it may hold a secret)', () => {
    expect(thrown(() => expandEnv('${NOPE}', {}, 'password'), 'INVALID_OPTIONS')).toBe('password: ${NOPE} is not set in the environment');
    expect(expandEnv('a$${B}c${C}', { C: '!' }, 'x')).toBe('a${B}c!');
    const message = thrown(() => parseConfigFile('password: "s3cr3t-unclosed\n', 'c.yaml', {}), 'INVALID_OPTIONS');
    expect(message).toMatch(/config file c\.yaml is not valid YAML or JSON \(line \d+, column \d+\)/);
    expect(message).not.toContain('s3cr3t');
  });
});

describe('settings: flag, then environment, then config file', () => {
  it('parses repository locations', () => {
    expect(parseRepositoryUrl('/var/backups')).toEqual({ kind: 'fs', path: '/var/backups' });
    expect(parseRepositoryUrl('fs:relative/dir')).toEqual({ kind: 'fs', path: 'relative/dir' });
    expect(parseRepositoryUrl('s3://bucket/a/b/')).toEqual({ kind: 's3', bucket: 'bucket', prefix: 'a/b' });
    expect(parseRepositoryUrl('s3://bucket')).toEqual({ kind: 's3', bucket: 'bucket', prefix: '' });
    expect(thrown(() => parseRepositoryUrl('gs://user:pw@bucket'), 'INVALID_ARGUMENT')).toBe(
      'repository gs://user:***@bucket: unsupported scheme gs:// (use a path, fs:/path or s3://bucket/prefix)',
    );
  });

  it('the repository and its password: flag over env over config; a password file without its line break', async () => {
    const file = path.join(dir, 'pw');
    await writeFile(file, 'from-file\n');
    const secrets = new Secrets();
    const config = { repository: '/from/config', password: 'from-config' };
    expect(await repositorySettings({ progress: true }, {}, config, secrets)).toMatchObject({
      location: { path: '/from/config' },
      password: 'from-config',
    });
    expect(
      await repositorySettings({ progress: true }, { VECTORDR_REPOSITORY: '/env', VECTORDR_PASSWORD: 'from-env' }, config, secrets),
    ).toMatchObject({
      location: { path: '/env' },
      password: 'from-env',
    });
    expect(
      await repositorySettings(
        { progress: true, repo: '/flag', passwordFile: file },
        { VECTORDR_REPOSITORY: '/env', VECTORDR_PASSWORD: 'x' },
        config,
        secrets,
      ),
    ).toMatchObject({ location: { path: '/flag' }, password: 'from-file' });
    const s3 = await repositorySettings({ progress: true, repo: 's3://b/p', s3Endpoint: 'http://minio:9000' }, {}, {}, secrets);
    expect(s3).toEqual({ location: { kind: 's3', bucket: 'b', prefix: 'p', endpoint: 'http://minio:9000' }, label: 's3://b/p' });
    // Every password read is a secret from then on.
    expect(secrets.redact('from-file from-env from-config')).toBe('*** *** ***');
  });

  it('no repository, or an empty password file, is a usage error', async () => {
    await expect(repositorySettings({ progress: true }, {}, {}, new Secrets())).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '\n');
    await expect(repositorySettings({ progress: true, repo: '/r', passwordFile: empty }, {}, {}, new Secrets())).rejects.toThrow(
      /is empty/,
    );
  });

  it('the engine: named, or the one whose settings are given; DATABASE_URL alone means pgvector', async () => {
    const s = new Secrets();
    expect(await engineSettings({ pgUrl: 'postgres://a/b' }, {}, {}, s)).toEqual({ engine: 'pgvector', url: 'postgres://a/b' });
    expect(await engineSettings({}, { DATABASE_URL: 'postgres://u:pw@h/db' }, {}, s)).toEqual({
      engine: 'pgvector',
      url: 'postgres://u:pw@h/db',
    });
    expect(await engineSettings({}, { VECTORDR_QDRANT_URL: 'http://q', VECTORDR_QDRANT_API_KEY: 'k3y-value' }, {}, s)).toEqual({
      engine: 'qdrant',
      url: 'http://q',
      apiKey: 'k3y-value',
    });
    expect(await engineSettings({}, {}, { engine: 'milvus', milvus: { address: 'm:19530', token: 'root:Milvus' } }, s)).toMatchObject({
      engine: 'milvus',
      address: 'm:19530',
      token: 'root:Milvus',
    });
    await expect(engineSettings({}, { VECTORDR_PG_URL: 'postgres://a', VECTORDR_QDRANT_URL: 'http://q' }, {}, s)).rejects.toThrow(
      /pick one with --engine/,
    );
    await expect(engineSettings({}, {}, {}, s)).rejects.toThrow(/needs an engine/);
    await expect(engineSettings({ engine: 'weaviate' }, {}, {}, s)).rejects.toThrow(/weaviate engine needs a URL/);
    expect(s.redact('pw k3y-value root:Milvus')).toBe('*** *** ***');
  });
});

describe('secrets', () => {
  it('masks registered secrets in raw, URL-encoded and JSON-escaped forms, and any URL password', () => {
    const s = new Secrets();
    s.add('p@ss"w/rd');
    s.addUrl('postgres://app:hunter%212@db/x');
    const text = `a p@ss"w/rd b ${encodeURIComponent('p@ss"w/rd')} c ${JSON.stringify('p@ss"w/rd')} hunter!2 hunter%212`;
    expect(s.redact(text)).toBe('a *** b *** c "***" *** ***');
    expect(s.redact('connect to redis://u:other-secret@h:1 failed')).toBe('connect to redis://u:***@h:1 failed');
    expect(Secrets.safeUrl('postgres://postgres@127.0.0.1:5432/db')).toBe('postgres://postgres@127.0.0.1:5432/db');
  });

  it('every line the CLI writes goes through the redaction, JSON lines included', () => {
    const written: string[] = [];
    const stream = { write: (t: string) => written.push(t) };
    const secrets = new Secrets();
    secrets.add('topsecret');
    const out = new Output({ json: true, quiet: false, verbose: true, progress: true, stdout: stream, stderr: stream, secrets });
    out.summary({ note: 'a topsecret b' }, () => []);
    out.error(new EngineError('auth failed for topsecret', 'permanent', { plugin: 'pgvector' }));
    out.logger().info({ url: 'postgres://u:topsecret@h/db' }, 'connecting');
    expect(written.join('')).not.toContain('topsecret');
    expect(JSON.parse(written[0] as string)).toEqual({ message_type: 'summary', note: 'a *** b' });
    expect(JSON.parse(written[1] as string)).toEqual({
      message_type: 'error',
      code: 'ENGINE_ERROR',
      message: '[pgvector] auth failed for ***',
    });
  });
});

describe('exit codes', () => {
  it('are restic’s, by the error’s code, in one place', () => {
    expect(EXIT_CODES).toEqual({
      OK: 0,
      FAILURE: 1,
      USAGE: 2,
      PARTIAL: 3,
      NO_REPOSITORY: 10,
      LOCKED: 11,
      WRONG_PASSWORD: 12,
      INTERRUPTED: 130,
    });
    expect(exitCodeFor(new NotFoundError('REPOSITORY_NOT_FOUND', 'x'))).toBe(10);
    expect(exitCodeFor(new NotFoundError('BUCKET_NOT_FOUND', 'x'))).toBe(10);
    expect(exitCodeFor(new ConflictError('LOCKED', 'x'))).toBe(11);
    for (const code of ['WRONG_KEY', 'KEY_REQUIRED', 'NOT_ENCRYPTED'] as const)
      expect(exitCodeFor(new InvalidInputError(code, 'x'))).toBe(12);
    expect(exitCodeFor(new InvalidInputError('INVALID_OPTIONS', 'x'))).toBe(2);
    expect(exitCodeFor(new AbortedError())).toBe(130);
    expect(exitCodeFor(new NotFoundError('SNAPSHOT_NOT_FOUND', 'x'))).toBe(1);
    expect(exitCodeFor(new PermissionError('ACCESS_DENIED', 'x'))).toBe(1);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
    // A foreign error with a matching `code` field is not a VectordrError.
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'LOCKED' }))).toBe(1);
  });
});

describe('progress line', () => {
  it('shows a bar, rows, bytes, rate and ETA when the total is known; rows and elapsed time otherwise', () => {
    const base = { operation: 'snapshot', phase: 'segment', rows: 25_000, segments: 5, bytes: 3 * 1024 * 1024, elapsedMs: 5_000 } as const;
    expect(progressLine({ ...base, totalRows: 100_000 }, 200)).toBe(
      'snapshot segment  [#####---------------]  25%  25,000/100,000 rows  3.0 MiB  5,000 rows/s  ETA 0:15',
    );
    expect(progressLine(base, 200)).toBe('snapshot segment  25,000 rows  3.0 MiB  5,000 rows/s  0:05');
    expect(progressLine({ ...base, totalRows: 100_000 }, 30)).toHaveLength(29);
    expect([formatBytes(512), formatBytes(1536), formatDuration(3_725)]).toEqual(['512 B', '1.5 KiB', '1:02:05']);
  });
});

describe('signals', () => {
  it('the first SIGINT/SIGTERM aborts the operation; a second exits at once with 130', () => {
    const exits: number[] = [];
    const seen: string[] = [];
    const interrupts = handleInterrupts(
      (sig) => seen.push(sig),
      (code) => exits.push(code),
    );
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(interrupts.signal.aborted).toBe(true);
      expect(interrupts.received).toBe('SIGTERM');
      expect(seen).toEqual(['SIGTERM']);
      expect(exits).toEqual([]);
      process.emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([130]);
    } finally {
      interrupts.dispose();
    }
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});
