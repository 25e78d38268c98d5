/**
 * examples/kubernetes run against the test servers (PostgreSQL with pgvector, MinIO), with the
 * built CLI (dist/cli.js) standing in for the image's `vectordr`:
 * - the Kanister Blueprint: each phase rendered as Kanister renders it (kube-render), its pod built
 *   as KubeTask builds it, its command run with the pod's environment, `kando output` collected as
 *   the phase output and rendered into the artifact that restore and delete read;
 * - the CronJobs and the restore Job: their container run as the kubelet would run it (pod-runner.ts),
 *   with the ConfigMap and Secret of config.yaml holding the test servers' settings.
 * Without dist/cli.js (`npm run build`) the suite skips; in CI (CI=true) it fails instead.
 * VECTORDR_CLI=<path to cli.js> runs another build (an installed package's, another checkout's).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository/repository.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { engineAvailable, randomName } from '../helpers/engines.js';
import { pgClient } from '../helpers/pg.js';
import { s3Available, s3Config } from '../helpers/s3.js';
import { REPO_ROOT, k8sTools, readExample, requireTools, requiredInCi } from './k8s-tools.js';
import {
  type Artifact,
  type Blueprint,
  type TemplateParams,
  kandoStub,
  kubeTaskPod,
  phaseOutput,
  renderArtifacts,
  renderPhase,
} from './kanister.js';
import { type ContainerRun, type PodSpecLike, runContainer } from './pod-runner.js';

const CLI = process.env.VECTORDR_CLI ?? join(REPO_ROOT, 'dist/cli.js');
const tools = k8sTools();
const toolsAvailable = requiredInCi('k8s', typeof tools !== 'string', typeof tools === 'string' ? tools : '');
const cliAvailable = requiredInCi('vectordr-cli', existsSync(CLI), `${CLI} does not exist: build the CLI first (npm run build)`);
const pgAvailable = engineAvailable('pgvector', process.env.PG_URL !== undefined);
const available = toolsAvailable && cliAvailable && pgAvailable && s3Available;

const ROWS = 300;

/** Row count and a digest of every row: equal digests, equal tables. */
async function fingerprint(url: string, table: string): Promise<{ rows: number; digest: string }> {
  const c = pgClient(url);
  await c.connect();
  try {
    const r = await c.query<{ rows: number; digest: string }>(
      `SELECT count(*)::int AS rows, md5(string_agg(id || ':' || embedding::text || ':' || coalesce(title, ''), ',' ORDER BY id)) AS digest FROM ${table}`,
    );
    return r.rows[0]!;
  } finally {
    await c.end();
  }
}

async function sql(url: string, text: string): Promise<void> {
  const c = pgClient(url);
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** A database of its own on the test server (the examples name their table `docs`), with a `docs` table of ROWS rows. */
async function createDatabase(): Promise<{ name: string; url: string }> {
  const name = randomName('k8s');
  await sql(process.env.PG_URL!, `CREATE DATABASE ${name}`);
  const url = new URL(process.env.PG_URL!);
  url.pathname = `/${name}`;
  await sql(
    url.toString(),
    `CREATE EXTENSION IF NOT EXISTS vector;
     CREATE TABLE docs (id int8 PRIMARY KEY, embedding vector(8) NOT NULL, title text);
     INSERT INTO docs SELECT i, ('[' || array_to_string(ARRAY(SELECT round(sin(i * j)::numeric, 4) FROM generate_series(1, 8) j), ',') || ']')::vector,
       'doc ' || i FROM generate_series(1, ${ROWS}) i;
     CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops);`,
  );
  return { name, url: url.toString() };
}

function bucketAt(prefix: string): S3Storage {
  const c = s3Config()!;
  return new S3Storage({ endpoint: c.endpoint, bucket: c.bucket, region: c.region, credentials: c.credentials, prefix });
}

/** The snapshots of `collection` in the repository at `prefix` of the test bucket, read with the library. */
async function snapshotIds(prefix: string, password: string, collection: string): Promise<string[]> {
  const storage = bucketAt(prefix);
  try {
    const repo = await Repository.open({ storage, encryption: { passphrase: password } });
    return (await repo.list({ collection })).map((s) => s.id);
  } finally {
    await storage.close();
  }
}

/** A folder standing in for the image: `vectordr` (the built CLI) and `kando` (a stub of `kando output`). */
function imageBin(root: string): string {
  const dir = join(root, 'image-bin');
  mkdirSync(dir);
  writeFileSync(join(dir, 'vectordr'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'kando'), kandoStub(process.execPath), { mode: 0o755 });
  return `${dir}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`;
}

/** Nothing secret in what a run printed (the pod log Kanister copies into its own log). */
function expectNoSecrets(run: ContainerRun, secrets: string[]): void {
  for (const s of secrets) {
    expect(run.stdout, 'stdout').not.toContain(s);
    expect(run.stderr, 'stderr').not.toContain(s);
  }
}

const explain = (run: ContainerRun): string => `exit ${run.code ?? run.signal}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

describe.skipIf(!available)('examples/kubernetes against PostgreSQL and MinIO, with the built CLI', () => {
  let root: string;
  let path: string;
  let kubeRender: string;
  const databases: string[] = [];
  /** Key prefixes of the test bucket the runs wrote under, deleted after. */
  const prefixes: string[] = [];
  const password = `pw-${randomName('k8s')}-secret`;

  beforeAll(() => {
    kubeRender = requireTools().kubeRender;
    root = mkdtempSync(join(tmpdir(), 'vectordr-k8s-'));
    path = imageBin(root);
  });

  afterAll(async () => {
    for (const db of databases) await sql(process.env.PG_URL!, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    for (const prefix of prefixes) {
      const storage = bucketAt(prefix);
      for await (const o of storage.list('')) await storage.delete(o.key);
      await storage.close();
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  describe('the Kanister Blueprint: backup, restore, delete', () => {
    let bp: Blueprint;
    let db: { name: string; url: string };
    const prefix = `k8s-test/${randomName('kanister')}`;
    prefixes.push(prefix);
    const s3 = s3Config()!;
    const profile: TemplateParams['Profile'] = {
      Location: { type: 's3Compliant', bucket: s3?.bucket, endpoint: s3?.endpoint, prefix, region: s3?.region },
      Credential: { Type: 'keyPair', KeyPair: { ID: s3?.credentials.accessKeyId, Secret: s3?.credentials.secretAccessKey } },
      SkipSSLVerify: false,
    };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'docs-api', namespace: 'search', uid: 'c0ffee00-0000-4000-8000-000000000001' },
    };
    const deploymentParams = {
      Object: deployment,
      Deployment: { Name: 'docs-api', Namespace: 'search', Pods: ['docs-api-0'], Containers: [['api']], PersistentVolumeClaims: {} },
      Profile: profile,
      Time: new Date().toISOString(),
    };
    const repository = `s3://${s3?.bucket}/${prefix}/vectordr/search/docs-api`;
    const repoPrefix = `${prefix}/vectordr/search/docs-api`;
    let first: Record<string, Artifact>;
    let original: { rows: number; digest: string };

    /** Renders and runs the single phase of `action`; returns the run and the phase output. */
    const runAction = async (action: string, params: TemplateParams): Promise<{ run: ContainerRun; output: Record<string, string> }> => {
      const args = renderPhase(kubeRender, bp.actions[action]!.phases[0]!, params);
      const pod = kubeTaskPod(args);
      const secrets = { vectordr: { 'pg-url': db.url, 'repository-password': password } };
      const run = await runContainer(pod.spec as PodSpecLike, { secrets, root: mkdtempSync(join(root, `${action}-`)), path });
      expectNoSecrets(run, [password, s3.credentials.secretAccessKey]);
      return { run, output: phaseOutput(`${run.stdout}\n${run.stderr}`) };
    };

    const backup = async (): Promise<Record<string, Artifact>> => {
      const params = { ...deploymentParams, Options: { collection: 'docs' } };
      const { run, output } = await runAction('backup', params);
      expect(run.code, explain(run)).toBe(0);
      expect(output).toEqual({ snapshotId: expect.any(String), collection: 'docs', repository });
      return renderArtifacts(kubeRender, bp.actions.backup!, params, { snapshot: output });
    };

    beforeAll(async () => {
      bp = readExample(kubeRender, 'blueprint.yaml')[0] as unknown as Blueprint;
      db = await createDatabase();
      databases.push(db.name);
      original = await fingerprint(db.url, 'docs');
    });

    it('backup creates the repository in the Profile location and a snapshot there, and outputs its id as the artifact', async () => {
      first = await backup();
      const id = first.vectordrSnapshot!.keyValue.snapshotId!;
      expect(await snapshotIds(repoPrefix, password, 'docs')).toEqual([id]);
    });

    it('restore (from the artifact) brings the rows back over a damaged table', async () => {
      expect(first, 'the backup ran').toBeDefined();
      await sql(db.url, `DELETE FROM docs WHERE id % 3 = 0; UPDATE docs SET title = 'damaged' WHERE id % 5 = 0`);
      expect((await fingerprint(db.url, 'docs')).rows).toBeLessThan(ROWS);
      const { run } = await runAction('restore', { ...deploymentParams, ArtifactsIn: first });
      expect(run.code, explain(run)).toBe(0);
      expect(await fingerprint(db.url, 'docs')).toEqual(original);
    });

    it('delete (from the artifact, on the namespace) forgets that snapshot and keeps a later one', async () => {
      expect(first, 'the backup ran').toBeDefined();
      await sql(db.url, `INSERT INTO docs VALUES (100000, '[1,0,0,0,0,0,0,0]', 'later')`);
      const second = await backup();
      const ids = [first.vectordrSnapshot!.keyValue.snapshotId!, second.vectordrSnapshot!.keyValue.snapshotId!];
      expect(await snapshotIds(repoPrefix, password, 'docs')).toEqual(ids);
      const { run } = await runAction('delete', {
        Object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'search' } },
        Namespace: { Name: 'search', Namespace: 'search' },
        Profile: profile,
        ArtifactsIn: first,
        Time: new Date().toISOString(),
      });
      expect(run.code, explain(run)).toBe(0);
      expect(await snapshotIds(repoPrefix, password, 'docs')).toEqual([ids[1]]);
    });
  });

  describe('the CronJobs and the restore Job, run as the kubelet would run their container', () => {
    let db: { name: string; url: string };
    let pods: Record<string, PodSpecLike>;
    let secrets: Record<string, Record<string, string>>;
    let configMaps: Record<string, Record<string, string>>;
    const prefix = `k8s-test/${randomName('jobs')}`;
    prefixes.push(prefix);

    const run = async (name: string, args?: string[]): Promise<ContainerRun> => {
      const r = await runContainer(pods[name]!, { secrets, configMaps, args, root: mkdtempSync(join(root, `${name}-`)), path });
      expectNoSecrets(r, [password, s3Config()!.credentials.secretAccessKey]);
      return r;
    };

    beforeAll(async () => {
      db = await createDatabase();
      databases.push(db.name);
      const objects = ['config.yaml', 'cronjob.yaml', 'restore-job.yaml'].flatMap((f) => readExample(kubeRender, f)) as {
        kind: string;
        metadata: { name: string };
        data?: Record<string, string>;
        stringData?: Record<string, string>;
        spec: { jobTemplate?: { spec: { template: { spec: PodSpecLike } } }; template?: { spec: PodSpecLike } };
      }[];
      pods = Object.fromEntries(
        objects
          .filter((o) => o.kind === 'CronJob' || o.kind === 'Job')
          .map((o) => [o.metadata.name, (o.spec.jobTemplate?.spec ?? o.spec).template!.spec]),
      );
      // config.yaml's ConfigMap and Secret, each key given the test servers' value.
      const s3 = s3Config()!;
      const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
      const secret = objects.find((o) => o.kind === 'Secret')!;
      const settings: Record<string, string> = {
        VECTORDR_REPOSITORY: `s3://${s3.bucket}/${prefix}`,
        AWS_REGION: s3.region,
        'pg-url': db.url,
        'repository-password': password,
        'aws-access-key-id': s3.credentials.accessKeyId,
        'aws-secret-access-key': s3.credentials.secretAccessKey,
      };
      const fill = (keys: string[]): Record<string, string> => Object.fromEntries(keys.map((k) => [k, settings[k]!]));
      configMaps = { [configMap.metadata.name]: { ...fill(Object.keys(configMap.data!)), VECTORDR_S3_ENDPOINT: s3.endpoint } };
      secrets = { [secret.metadata.name]: fill(Object.keys(secret.stringData!)) };
    });

    it('the snapshot CronJob snapshots docs (after a one-off init), the forget CronJob keeps it', async () => {
      const init = await run('vectordr-snapshot', ['init', '--json']);
      expect(init.code, explain(init)).toBe(0);
      const snap = await run('vectordr-snapshot');
      expect(snap.code, explain(snap)).toBe(0);
      const lines = snap.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { message_type: string });
      expect(lines.filter((l) => l.message_type === 'summary')).toHaveLength(1);
      const ids = await snapshotIds(prefix, password, 'docs');
      expect(ids).toHaveLength(1);
      const forget = await run('vectordr-forget');
      expect(forget.code, explain(forget)).toBe(0);
      expect(await snapshotIds(prefix, password, 'docs')).toEqual(ids);
    });

    it('the restore Job leaves an existing collection alone and restores a missing one', async () => {
      const snapshotted = await fingerprint(db.url, 'docs');
      await sql(db.url, `INSERT INTO docs VALUES (100000, '[1,0,0,0,0,0,0,0]', 'after the snapshot')`);
      const changed = await fingerprint(db.url, 'docs');
      const skip = await run('vectordr-restore-docs');
      expect(skip.code, explain(skip)).toBe(0);
      expect(await fingerprint(db.url, 'docs')).toEqual(changed);
      await sql(db.url, 'DROP TABLE docs');
      const restore = await run('vectordr-restore-docs');
      expect(restore.code, explain(restore)).toBe(0);
      expect(await fingerprint(db.url, 'docs')).toEqual(snapshotted);
    });
  });
});
