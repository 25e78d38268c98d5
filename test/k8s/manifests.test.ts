/**
 * The CronJobs, the restore Job and their ServiceAccount, ConfigMap and Secret in
 * examples/kubernetes, validated as the API server of the oldest and the newest Kubernetes release
 * the examples claim would decode them with fieldValidation=Strict (their OpenAPI documents, from
 * the k8s.io/kubernetes module), plus the operational choices the README promises (deadlines,
 * SIGTERM, secrets, non-root). Deliberately broken copies must be rejected, or the check proves
 * nothing.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, k8sTools, readExample, readYaml, requireTools, requiredInCi } from './k8s-tools.js';
import { KubernetesSchemas } from './kubernetes-openapi.js';

const tools = k8sTools();
const available = requiredInCi('k8s', typeof tools !== 'string', typeof tools === 'string' ? tools : '');

/** The manifests Kubernetes itself validates (blueprint.yaml is a Kanister resource: blueprint.test.ts). */
const FILES = ['config.yaml', 'cronjob.yaml', 'restore-job.yaml', 'distributed-snapshot-job.yaml', 'distributed-restore-job.yaml'];

// What the objects look like, as far as these checks read them.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] } }[];
}
interface JobSpec {
  activeDeadlineSeconds?: number;
  backoffLimit?: number;
  podFailurePolicy?: { rules: { action: string; onExitCodes?: { containerName?: string; values: number[] } }[] };
  template: { spec: PodSpec };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
}

/** Exit codes of the CLI (docs/cli.md, src/cli/exit-codes.ts) after which a retry cannot succeed. */
const NOT_RETRYABLE = [2, 10, 12];

/** Seconds between two runs of a schedule the examples use: `M * * * *` (hourly) or `M H * * *` (daily). */
function scheduleInterval(schedule: string): number {
  if (/^\d+ \* \* \* \*$/.test(schedule)) return 3600;
  if (/^\d+ \d+ \* \* \*$/.test(schedule)) return 86_400;
  throw new Error(`schedule ${schedule}: the test knows hourly and daily schedules only`);
}

/** GiB of a memory quantity such as 512Mi or 2Gi. */
function mebibytes(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`memory ${q}: the test reads Mi and Gi only`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

describe.skipIf(!available)('examples/kubernetes manifests', () => {
  let objects: K8sObject[];
  let jobs: { name: string; job: JobSpec; schedule?: string; spec: Record<string, unknown> }[];

  beforeAll(() => {
    const { kubeRender } = requireTools();
    objects = FILES.flatMap((f) => readExample(kubeRender, f)) as unknown as K8sObject[];
    jobs = objects.flatMap((o) => {
      if (o.kind === 'CronJob') {
        const spec = o.spec as { schedule: string; jobTemplate: { spec: JobSpec } };
        return [{ name: o.metadata.name, job: spec.jobTemplate.spec, schedule: spec.schedule, spec: o.spec! }];
      }
      if (o.kind === 'Job') return [{ name: o.metadata.name, job: o.spec as unknown as JobSpec, spec: o.spec! }];
      return [];
    });
  });

  it('holds a ServiceAccount, a ConfigMap, a Secret, the snapshot and forget CronJobs, a restore Job and the distributed snapshot and restore Jobs', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/vectordr',
      'CronJob/vectordr-forget',
      'CronJob/vectordr-snapshot',
      'Job/vectordr-restore-distributed',
      'Job/vectordr-restore-docs',
      'Job/vectordr-snapshot-distributed',
      'Secret/vectordr',
      'ServiceAccount/vectordr',
    ]);
  });

  for (const [i, dir] of (typeof tools === 'string' ? [] : tools.openapiDirs).entries()) {
    describe(`against the OpenAPI documents of Kubernetes ${dir.replace(/.*k8s-openapi-/, '')}`, () => {
      let schemas: KubernetesSchemas;
      let kubeRender: string;
      beforeAll(() => {
        schemas = new KubernetesSchemas(dir);
        kubeRender = requireTools().kubeRender;
      });

      it('every object decodes strictly', () => {
        for (const o of objects) expect(schemas.validate(o), `${o.kind}/${o.metadata.name}`).toBeUndefined();
      });

      /** The first document of `file` with `from` replaced by `to` in its YAML, and what validating it says. */
      const broken = (file: string, from: string | RegExp, to: string): string | undefined => {
        const yaml = readFileSync(`${EXAMPLES}/${file}`, 'utf8');
        const changed = yaml.replace(from, to);
        expect(changed, `${String(from)} occurs in ${file}`).not.toBe(yaml);
        return schemas.validate(readYaml(kubeRender, changed)[0]);
      };

      it.each([
        [
          'a misspelled CronJob field',
          'concurrencyPolicy: Forbid',
          'concurrencyPolcy: Forbid',
          /additional properties \(concurrencyPolcy\)/,
        ],
        ['a misspelled container field', 'imagePullPolicy: IfNotPresent', 'imagePullPolcy: IfNotPresent', /imagePullPolcy/],
        [
          'a field at the wrong level',
          /(\n\s+)restartPolicy: Never/,
          '$1restartPolicy: Never$1backoffLimit: 2',
          /additional properties \(backoffLimit\)/,
        ],
        ['a quoted number', 'backoffLimit: 2', 'backoffLimit: "2"', /backoffLimit must be integer/],
        [
          'an int32 overflow',
          'failedJobsHistoryLimit: 5',
          'failedJobsHistoryLimit: 4294967296',
          /failedJobsHistoryLimit must match format "int32"/,
        ],
        ['a YAML 1.1 boolean where a string is meant', 'value: --max-old-space-size=768', 'value: on', /value must be string/],
        ['a malformed quantity', 'memory: 1Gi', 'memory: 1GiB', /memory must match pattern/],
        ['a string where a list is meant', 'drop: [ALL]', 'drop: ALL', /drop must be array/],
      ])('rejects %s', (_what, from, to, error) => {
        expect(broken('cronjob.yaml', from, to)).toMatch(error);
      });

      it('rejects a quoted port number where IntOrString means a port name', () => {
        const job = structuredClone(objects.find((o) => o.kind === 'Job')!) as unknown as { spec: JobSpec };
        const c = job.spec.template.spec.containers[0] as Container & { readinessProbe?: unknown };
        c.readinessProbe = { httpGet: { path: '/', port: '8080' } };
        expect(schemas.validate(job)).toMatch(/port must match format "int-or-string"/);
        c.readinessProbe = { httpGet: { path: '/', port: 8080 } };
        expect(schemas.validate(job)).toBeUndefined();
      });

      if (i === 0) {
        it('rejects a duplicated field (kubectl and the API server refuse it too)', () => {
          const yaml = readFileSync(`${EXAMPLES}/cronjob.yaml`, 'utf8').replace(
            'backoffLimit: 2',
            'backoffLimit: 2\n      backoffLimit: 3',
          );
          expect(() => readYaml(kubeRender, yaml)).toThrow(/already set in map/);
        });
      }
    });
  }

  it('CronJobs: Forbid, a starting deadline, history limits, and a run that ends (with its grace period) before the next', () => {
    for (const { name, job, schedule, spec } of jobs.filter((j) => j.schedule !== undefined)) {
      expect(name.length, `${name}: CronJob names over 52 characters are refused`).toBeLessThanOrEqual(52);
      expect(spec).toMatchObject({ concurrencyPolicy: 'Forbid', timeZone: 'Etc/UTC' });
      expect(spec.startingDeadlineSeconds).toBeGreaterThan(0);
      expect(spec.successfulJobsHistoryLimit).toBeGreaterThan(0);
      expect(spec.failedJobsHistoryLimit).toBeGreaterThan(0);
      const pod = job.template.spec;
      expect(job.activeDeadlineSeconds! + pod.terminationGracePeriodSeconds!, name).toBeLessThan(scheduleInterval(schedule!));
    }
  });

  it('Jobs: bounded retries, no retry after an error a retry cannot fix, SIGTERM reaching vectordr as PID 1', () => {
    for (const { name, job } of jobs) {
      const pod = job.template.spec;
      expect(job.backoffLimit, name).toBeGreaterThan(0);
      expect(job.activeDeadlineSeconds, name).toBeGreaterThan(0);
      // podFailurePolicy requires restartPolicy Never (the API server's validation, not the schema's).
      expect(pod.restartPolicy, name).toBe('Never');
      const failJob = job.podFailurePolicy?.rules.find((r) => r.action === 'FailJob');
      expect(failJob?.onExitCodes, name).toEqual({ containerName: 'vectordr', operator: 'In', values: NOT_RETRYABLE });
      // A clean abort needs time: the upload in flight, the lock release.
      expect(pod.terminationGracePeriodSeconds, name).toBeGreaterThanOrEqual(60);
      expect(pod.containers).toHaveLength(1);
      // Exec form with vectordr itself: a shell as PID 1 would not pass SIGTERM on.
      expect(pod.containers[0]!.command, name).toEqual(['vectordr']);
    }
  });

  it('Jobs: non-root, read-only root, no privilege escalation, no capabilities, no API token', () => {
    for (const { name, job } of jobs) {
      const pod = job.template.spec;
      expect(pod.securityContext, name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext!.runAsUser, name).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken, name).toBe(false);
      expect(pod.serviceAccountName, name).toBe('vectordr');
      const c = pod.containers[0]!;
      expect(c.securityContext, name).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('Jobs: resources requested, memory limited, and the V8 heap below the limit', () => {
    for (const { name, job } of jobs) {
      const c = job.template.spec.containers[0]!;
      expect(Object.keys(c.resources?.requests ?? {}).sort(), name).toEqual(['cpu', 'memory']);
      const limit = mebibytes(c.resources!.limits!.memory!);
      const heap = Number(/--max-old-space-size=(\d+)/.exec(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
      expect(heap, name).toBeGreaterThan(0);
      expect(heap, `${name}: heap ${heap} MiB leaves room below the ${limit} MiB limit`).toBeLessThanOrEqual(limit * 0.8);
    }
  });

  it('Jobs: secrets from the Secret (env secretKeyRef, the password as a mounted file), all of which config.yaml defines', () => {
    const secret = objects.find((o) => o.kind === 'Secret')!;
    const secretKeys = Object.keys({ ...secret.data, ...secret.stringData });
    const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
    for (const { name, job } of jobs) {
      const pod = job.template.spec;
      const c = pod.containers[0]!;
      const env = new Map((c.env ?? []).map((e) => [e.name, e]));
      // Nothing secret is a literal value in the manifest.
      for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'VECTORDR_PG_URL', 'VECTORDR_PASSWORD']) {
        if (env.has(key)) expect(env.get(key)!.valueFrom?.secretKeyRef, `${name} ${key}`).toBeDefined();
      }
      expect(env.get('AWS_SECRET_ACCESS_KEY')?.valueFrom?.secretKeyRef, name).toEqual({
        name: secret.metadata.name,
        key: 'aws-secret-access-key',
      });
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) expect(secretKeys, `${name}: ${e.name} reads key ${ref.key}`).toContain(ref.key);
      }
      for (const from of c.envFrom ?? []) expect(from.configMapRef?.name, name).toBe(configMap.metadata.name);
      // The repository password: a file from the Secret, mounted read-only, named by VECTORDR_PASSWORD_FILE.
      expect(env.has('VECTORDR_PASSWORD'), name).toBe(false);
      const file = env.get('VECTORDR_PASSWORD_FILE')?.value ?? '';
      const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
      expect(mount?.readOnly, `${name}: ${file} on a read-only mount`).toBe(true);
      const volume = pod.volumes?.find((v) => v.name === mount!.name);
      expect(volume?.secret?.secretName, name).toBe(secret.metadata.name);
      const item = volume!.secret!.items?.find((it) => `${mount!.mountPath}/${it.path}` === file);
      expect(item?.key, name).toBe('repository-password');
      expect(secretKeys).toContain(item!.key);
    }
  });

  it('the snapshot and forget CronJobs run snapshot and forget --prune; the restore Job restores only a missing collection', () => {
    const args = Object.fromEntries(jobs.map(({ name, job }) => [name, job.template.spec.containers[0]!.args]));
    expect(args['vectordr-snapshot']).toEqual(['snapshot', 'docs', '--engine', 'pgvector', '--json']);
    expect(args['vectordr-forget']).toEqual(expect.arrayContaining(['forget', '--keep-daily', '--prune', '--json']));
    // Indexed: index 0 coordinates the workers 1..4, all under the Job's uid as the plan id.
    expect(args['vectordr-snapshot-distributed']).toEqual([
      'snapshot',
      'docs',
      '--engine',
      'pgvector',
      '--workers',
      '4',
      '--plan',
      '$(PLAN_ID)',
      '--job-index',
      '$(JOB_COMPLETION_INDEX)',
      '--json',
    ]);
    const distributed = jobs.find((j) => j.name === 'vectordr-snapshot-distributed')!.spec;
    expect(distributed).toMatchObject({ completionMode: 'Indexed', completions: 5, parallelism: 5 });
    // The same form for a restore; every index does nothing once the collection exists.
    expect(args['vectordr-restore-distributed']).toEqual([
      'restore',
      'docs',
      '--engine',
      'pgvector',
      '--if-target-missing',
      '--workers',
      '4',
      '--plan',
      '$(PLAN_ID)',
      '--job-index',
      '$(JOB_COMPLETION_INDEX)',
      '--json',
    ]);
    expect(jobs.find((j) => j.name === 'vectordr-restore-distributed')!.spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 5,
      parallelism: 5,
    });
    expect(args['vectordr-restore-docs']).toEqual([
      'restore',
      'docs',
      '--engine',
      'pgvector',
      '--snapshot',
      'latest',
      '--if-target-missing',
      '--json',
    ]);
  });
});
