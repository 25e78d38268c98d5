/**
 * examples/kubernetes/blueprint.yaml as Kanister reads it: its fields, each phase rendered with
 * Go's text/template and sprig against a realistic ActionSet (a Deployment, an s3Compliant
 * Profile with a keyPair credential, options, the backup's artifact for restore and delete), and
 * the pod each KubeTask phase would create, validated against the Kubernetes OpenAPI documents.
 * Running the rendered phases against PostgreSQL and MinIO is kanister-run.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { k8sTools, readExample, requireTools, requiredInCi } from './k8s-tools.js';
import { type Blueprint, type TemplateParams, blueprintProblems, kubeTaskPod, renderArtifacts, renderPhase } from './kanister.js';
import { KubernetesSchemas } from './kubernetes-openapi.js';

const tools = k8sTools();
const available = requiredInCi('k8s', typeof tools !== 'string', typeof tools === 'string' ? tools : '');

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'docs-api', namespace: 'search', uid: '0c9e3f0e-1b7e-4f57-9d0a-1f3e5d2c7a10', labels: { app: 'docs-api' } },
  spec: { replicas: 2, selector: { matchLabels: { app: 'docs-api' } } },
};

const profile = (over: Partial<NonNullable<TemplateParams['Profile']>['Location']> = {}): NonNullable<TemplateParams['Profile']> => ({
  Location: {
    type: 's3Compliant',
    bucket: 'backups',
    endpoint: 'https://minio.storage.svc:9000',
    prefix: 'clusters/prod/',
    region: 'eu-west-1',
    ...over,
  },
  Credential: { Type: 'keyPair', KeyPair: { ID: 'AKIDEXAMPLE', Secret: 'wJalrXUtnFEMI/K7MDENG' } },
  SkipSSLVerify: false,
});

/** The ActionSet `kanctl create actionset --action backup --deployment search/docs-api --profile ... --options collection=docs` gives. */
const backupParams = (over: Partial<TemplateParams> = {}): TemplateParams => ({
  Object: deployment,
  Deployment: { Name: 'docs-api', Namespace: 'search', Pods: ['docs-api-7d9c-abcde'], Containers: [['api']], PersistentVolumeClaims: {} },
  Profile: profile(),
  Options: { collection: 'docs' },
  Time: '2026-12-03T15:04:05.123456789Z',
  ...over,
});

const artifact = {
  keyValue: { snapshotId: '0195f3c2a1b4', collection: 'docs', repository: 's3://backups/clusters/prod/vectordr/search/docs-api' },
};

const envOf = (pod: ReturnType<typeof kubeTaskPod>): Map<string, { value?: string; valueFrom?: unknown }> =>
  new Map(((pod.spec.containers[0]!.env ?? []) as { name: string; value?: string; valueFrom?: unknown }[]).map((e) => [e.name, e]));

describe.skipIf(!available)('examples/kubernetes/blueprint.yaml', () => {
  let bp: Blueprint;
  let kubeRender: string;
  let schemas: KubernetesSchemas[];

  beforeAll(() => {
    const t = requireTools();
    kubeRender = t.kubeRender;
    schemas = t.openapiDirs.map((d) => new KubernetesSchemas(d));
    const docs = readExample(kubeRender, 'blueprint.yaml');
    expect(docs).toHaveLength(1);
    bp = docs[0] as unknown as Blueprint;
  });

  it('is a Blueprint with backup, restore and delete, each one KubeTask, and nothing Kanister would ignore', () => {
    expect(Object.keys(bp.actions).sort()).toEqual(['backup', 'delete', 'restore']);
    for (const action of Object.values(bp.actions)) expect(action.phases.map((p) => p.func)).toEqual(['KubeTask']);
    expect(blueprintProblems(bp)).toEqual([]);
    expect(bp.actions.backup!.outputArtifacts).toEqual({
      vectordrSnapshot: { keyValue: { snapshotId: expect.any(String), collection: expect.any(String), repository: expect.any(String) } },
    });
    expect(bp.actions.restore!.inputArtifactNames).toEqual(['vectordrSnapshot']);
    expect(bp.actions.delete!.inputArtifactNames).toEqual(['vectordrSnapshot']);
  });

  it('the structural check catches what Kanister would drop or refuse', () => {
    const broken = structuredClone(bp) as unknown as {
      actions: Record<string, Record<string, unknown> & { phases: Record<string, unknown>[] }>;
    };
    broken.actions.restore!.inputArtifactName = ['vectordrSnapshot'];
    delete broken.actions.restore!.inputArtifactNames;
    broken.actions.backup!.phases[0]!.args = { ...(broken.actions.backup!.phases[0]!.args as object), podOverrides: {} };
    (broken.actions.backup!.outputArtifacts as Record<string, { keyValue: Record<string, string> }>).vectordrSnapshot!.keyValue.size =
      '{{ .Phases.snapshot.Output.bytes }}';
    expect(blueprintProblems(broken as unknown as Blueprint)).toEqual([
      'action backup phase snapshot args: unknown field podOverrides',
      'action backup artifact vectordrSnapshot.size: phase snapshot has no output bytes',
      'action restore: unknown field inputArtifactName',
      'action restore phase restore: reads artifact vectordrSnapshot not in inputArtifactNames',
    ]);
  });

  it('scripts are static: templates only fill environment variables, never a command line', () => {
    for (const action of Object.values(bp.actions)) {
      for (const phase of action.phases) expect(JSON.stringify(phase.args.command)).not.toContain('{{');
    }
  });

  it('backup: the pod runs in the object namespace with the Profile location and keys, secrets by reference', () => {
    const args = renderPhase(kubeRender, bp.actions.backup!.phases[0]!, backupParams());
    expect(args.namespace).toBe('search');
    expect(args.image).toBe('registry.example.com/vectordr:0.4.0');
    expect(args.command).toEqual(bp.actions.backup!.phases[0]!.args.command);
    const pod = kubeTaskPod(args);
    for (const s of schemas) expect(s.validate(pod), s.version).toBeUndefined();
    const env = envOf(pod);
    expect(Object.fromEntries([...env].filter(([, e]) => e.value !== undefined).map(([k, e]) => [k, e.value]))).toEqual({
      VECTORDR_COLLECTION: 'docs',
      VECTORDR_REPOSITORY: 's3://backups/clusters/prod/vectordr/search/docs-api',
      VECTORDR_S3_ENDPOINT: 'https://minio.storage.svc:9000',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG',
      NODE_TLS_REJECT_UNAUTHORIZED: '1',
    });
    expect(env.get('VECTORDR_PG_URL')!.valueFrom).toEqual({ secretKeyRef: { name: 'vectordr', key: 'pg-url' } });
    expect(env.get('VECTORDR_PASSWORD')!.valueFrom).toEqual({ secretKeyRef: { name: 'vectordr', key: 'repository-password' } });
    // The podOverride patched Kanister's container `container` instead of adding a second one.
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['container']);
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true },
    });
  });

  it('backup: options and Profile variants (no prefix, an AWS endpoint, a self-signed endpoint, another Secret and image)', () => {
    const params = backupParams({
      Profile: { ...profile({ prefix: '', endpoint: '', region: '' }), SkipSSLVerify: true },
      Options: { collection: 'articles', secret: 'vectordr-articles', image: 'registry.internal/vectordr:0.4.1' },
    });
    const args = renderPhase(kubeRender, bp.actions.backup!.phases[0]!, params);
    expect(args.image).toBe('registry.internal/vectordr:0.4.1');
    const env = envOf(kubeTaskPod(args));
    expect(env.get('VECTORDR_REPOSITORY')!.value).toBe('s3://backups/vectordr/search/docs-api');
    expect(env.get('VECTORDR_COLLECTION')!.value).toBe('articles');
    expect(env.get('VECTORDR_S3_ENDPOINT')!.value).toBe('');
    expect(env.get('AWS_REGION')!.value).toBe('us-east-1');
    expect(env.get('NODE_TLS_REJECT_UNAUTHORIZED')!.value).toBe('0');
    expect(env.get('VECTORDR_PG_URL')!.valueFrom).toEqual({ secretKeyRef: { name: 'vectordr-articles', key: 'pg-url' } });
  });

  it.each([
    ['no collection option', { Options: {} }, /ActionSet option collection is required/],
    ['a GCS Profile', { Profile: profile({ type: 'gcs' }) }, /needs an s3Compliant Profile location/],
    [
      'a Profile with a Secret credential',
      { Profile: { ...profile(), Credential: { Type: 'secret' } } },
      /nil pointer evaluating \*main\.KeyPair\.ID/,
    ],
    ['no Profile', { Profile: undefined }, /nil pointer evaluating \*main\.Profile\.Location/],
  ])('backup fails to render with %s, as the ActionSet would fail', (_what, over, error) => {
    expect(() => renderPhase(kubeRender, bp.actions.backup!.phases[0]!, backupParams(over as Partial<TemplateParams>))).toThrow(error);
  });

  it('backup: the output artifact is rendered from the phase output', () => {
    const output = { snapshotId: '0195f3c2a1b4', collection: 'docs', repository: artifact.keyValue.repository };
    expect(renderArtifacts(kubeRender, bp.actions.backup!, backupParams(), { snapshot: output })).toEqual({ vectordrSnapshot: artifact });
  });

  it('restore: reads the snapshot, collection and repository from the artifact', () => {
    const args = renderPhase(kubeRender, bp.actions.restore!.phases[0]!, backupParams({ ArtifactsIn: { vectordrSnapshot: artifact } }));
    const pod = kubeTaskPod(args);
    for (const s of schemas) expect(s.validate(pod), s.version).toBeUndefined();
    const env = envOf(pod);
    expect(env.get('VECTORDR_SNAPSHOT')!.value).toBe('0195f3c2a1b4');
    expect(env.get('VECTORDR_COLLECTION')!.value).toBe('docs');
    expect(env.get('VECTORDR_REPOSITORY')!.value).toBe(artifact.keyValue.repository);
    expect(args.command.at(-1)).toContain('vectordr restore "$VECTORDR_COLLECTION" --engine pgvector --snapshot "$VECTORDR_SNAPSHOT"');
  });

  it('restore without the backup artifact fails to render', () => {
    expect(() => renderPhase(kubeRender, bp.actions.restore!.phases[0]!, backupParams())).toThrow(
      /map has no entry for key "vectordrSnapshot"/,
    );
  });

  it('delete: targets the namespace (kanctl --namespacetargets) and forgets the one snapshot', () => {
    const params: TemplateParams = {
      Object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'search', uid: '5b1f4d0c-8a4e-4f0e-a7c1-2d9b6e3f8a21' } },
      Namespace: { Name: 'search', Namespace: 'search' },
      Profile: profile(),
      ArtifactsIn: { vectordrSnapshot: artifact },
      Time: '2026-12-03T16:00:00Z',
    };
    const args = renderPhase(kubeRender, bp.actions.delete!.phases[0]!, params);
    expect(args.namespace).toBe('search');
    const pod = kubeTaskPod(args);
    for (const s of schemas) expect(s.validate(pod), s.version).toBeUndefined();
    expect(envOf(pod).get('VECTORDR_SNAPSHOT')!.value).toBe('0195f3c2a1b4');
    expect(envOf(pod).has('VECTORDR_PG_URL')).toBe(false);
    expect(args.command.at(-1)).toContain('vectordr forget --collection "$VECTORDR_COLLECTION" "$VECTORDR_SNAPSHOT" --prune');
  });

  it('a podOverride typo is caught by the Pod schema after the merge', () => {
    const phase = structuredClone(bp.actions.backup!.phases[0]!);
    (phase.args.podOverride as { containers: Record<string, unknown>[] }).containers[0]!.secutiryContext = {};
    const pod = kubeTaskPod(renderPhase(kubeRender, phase, backupParams()));
    for (const s of schemas) expect(s.validate(pod), s.version).toMatch(/additional properties \(secutiryContext\)/);
  });
});
