/**
 * What the Kanister controller does with a Blueprint, as far as the vectordr Blueprint uses it:
 * decode it (unknown fields dropped silently by Go, so {@link blueprintProblems} flags them),
 * render each KubeTask phase's arguments against the ActionSet's TemplateParams (kube-render),
 * build the phase's pod (a default spec with the container `container`, patched with podOverride
 * by a strategic merge), collect `kando output` lines from the pod's log as the phase's output,
 * and render the action's output artifacts from them. From kanisterio/kanister: pkg/param
 * (render.go), pkg/function/kube_task.go, pkg/kube/pod.go, pkg/output; its Go module is not served
 * by the module proxy, so the behaviour is copied, not imported.
 */
import { renderTemplates } from './k8s-tools.js';

export interface Artifact {
  keyValue: Record<string, string>;
}

export interface BlueprintPhase {
  func: string;
  name: string;
  args: Record<string, unknown>;
}

export interface BlueprintAction {
  inputArtifactNames?: string[];
  outputArtifacts?: Record<string, Artifact>;
  phases: BlueprintPhase[];
}

export interface Blueprint {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  actions: Record<string, BlueprintAction>;
}

/** KubeTask's arguments (kube_task.go: Arguments() and RequiredArgs()). */
export interface KubeTaskArgs {
  namespace?: string;
  image: string;
  command: string[];
  podOverride?: Record<string, unknown>;
  podAnnotations?: Record<string, string>;
  podLabels?: Record<string, string>;
}

const KUBE_TASK_ARGS = ['image', 'command', 'namespace', 'podOverride', 'podAnnotations', 'podLabels'];
const KUBE_TASK_REQUIRED = ['image', 'command'];
// The JSON fields of crv1alpha1.Blueprint, BlueprintAction and BlueprintPhase.
const BLUEPRINT_FIELDS = ['apiVersion', 'kind', 'metadata', 'actions'];
const ACTION_FIELDS = ['name', 'kind', 'configMapNames', 'secretNames', 'inputArtifactNames', 'outputArtifacts', 'phases', 'deferPhase'];
const PHASE_FIELDS = ['func', 'name', 'objects', 'args'];
/** `kando output` keys (pkg/output: ValidateKey). */
const OUTPUT_KEY = /^[a-zA-Z0-9_]+$/;
/** The prefix of a `kando output` line in a pod's log (pkg/output: PhaseOpString). */
const PHASE_OUTPUT = '###Phase-output###:';

const unknown = (where: string, obj: object, known: string[]): string[] =>
  Object.keys(obj)
    .filter((k) => !known.includes(k))
    .map((k) => `${where}: unknown field ${k}`);

/**
 * What Kanister would silently ignore or refuse at run time: unknown fields (Go drops them), a
 * KubeTask argument it does not take or a required one missing (its Validate), an artifact read
 * that no inputArtifactNames declares, an output artifact naming a phase or output key that the
 * action does not produce.
 */
export function blueprintProblems(bp: Blueprint): string[] {
  const problems = unknown('Blueprint', bp, BLUEPRINT_FIELDS);
  if (bp.apiVersion !== 'cr.kanister.io/v1alpha1' || bp.kind !== 'Blueprint') problems.push(`not a Blueprint: ${bp.apiVersion} ${bp.kind}`);
  for (const [name, action] of Object.entries(bp.actions)) {
    problems.push(...unknown(`action ${name}`, action, ACTION_FIELDS));
    const outputs = new Map<string, Set<string>>();
    for (const phase of action.phases) {
      const where = `action ${name} phase ${phase.name}`;
      problems.push(...unknown(where, phase, PHASE_FIELDS));
      if (phase.func !== 'KubeTask') problems.push(`${where}: func ${phase.func} (the tests emulate KubeTask only)`);
      problems.push(...unknown(`${where} args`, phase.args, KUBE_TASK_ARGS));
      for (const arg of KUBE_TASK_REQUIRED) if (phase.args[arg] === undefined) problems.push(`${where}: KubeTask needs ${arg}`);
      const text = JSON.stringify(phase.args);
      const keys = new Set([...text.matchAll(/kando output (\S+)/g)].map((m) => m[1]!));
      for (const key of keys) if (!OUTPUT_KEY.test(key)) problems.push(`${where}: kando output key ${key} is not [a-zA-Z0-9_]+`);
      outputs.set(phase.name, keys);
      for (const read of new Set([...text.matchAll(/\.ArtifactsIn\.(\w+)/g)].map((m) => m[1]!))) {
        if (!action.inputArtifactNames?.includes(read)) problems.push(`${where}: reads artifact ${read} not in inputArtifactNames`);
      }
    }
    for (const [artifact, { keyValue }] of Object.entries(action.outputArtifacts ?? {})) {
      for (const [key, template] of Object.entries(keyValue)) {
        for (const m of template.matchAll(/\.Phases\.(\w+)\.Output\.(\w+)/g)) {
          if (!outputs.get(m[1]!)?.has(m[2]!))
            problems.push(`action ${name} artifact ${artifact}.${key}: phase ${m[1]} has no output ${m[2]}`);
        }
      }
    }
  }
  return problems;
}

// List merge keys of the PodSpec and Container fields a podOverride patches (the patchMergeKey tags
// of k8s.io/api/core/v1); every other list is replaced by the patch's.
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A strategic merge patch of `patch` onto `base` (what pkg/kube/pod.go's patchDefaultPodSpecs does). */
export function strategicMerge(base: unknown, patch: unknown, field = ''): unknown {
  const key = MERGE_KEYS[field];
  if (Array.isArray(base) && Array.isArray(patch) && key) {
    const out = base.map((item: unknown) => structuredClone(item));
    for (const item of patch) {
      const i = out.findIndex((b) => isObject(b) && isObject(item) && b[key] === item[key]);
      if (i >= 0) out[i] = strategicMerge(out[i], item);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (isObject(base) && isObject(patch)) {
    const out: Record<string, unknown> = structuredClone(base);
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in out ? strategicMerge(out[k], v, k) : structuredClone(v);
    }
    return out;
  }
  return structuredClone(patch);
}

/** The pod a KubeTask phase runs (pkg/kube/pod.go: GetPodObjectFromPodOptions), from its rendered arguments. */
export function kubeTaskPod(args: KubeTaskArgs): Record<string, unknown> & { spec: { containers: Record<string, unknown>[] } } {
  const spec = {
    containers: [{ name: 'container', image: args.image, command: args.command, imagePullPolicy: 'IfNotPresent' }],
    restartPolicy: 'Never',
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'kanister-job-',
      namespace: args.namespace,
      labels: { createdBy: 'kanister', ...args.podLabels },
      ...(args.podAnnotations ? { annotations: args.podAnnotations } : {}),
    },
    spec: strategicMerge(spec, args.podOverride ?? {}) as { containers: Record<string, unknown>[] },
  };
}

/** Kanister's param.TemplateParams, as kube-render takes it (only the fields set are sent). */
export interface TemplateParams {
  Object: Record<string, unknown>;
  Deployment?: { Name: string; Namespace: string; Pods: string[]; Containers: string[][]; PersistentVolumeClaims: Record<string, never> };
  Namespace?: { Name: string; Namespace: string };
  Profile?: {
    Location: { type: string; bucket: string; endpoint: string; prefix: string; region: string };
    Credential: { Type: string; KeyPair?: { ID: string; Secret: string } };
    SkipSSLVerify: boolean;
  };
  Options?: Record<string, string>;
  ArtifactsIn?: Record<string, Artifact>;
  Phases?: Record<string, { Output: Record<string, string> }>;
  Time: string;
}

/** A KubeTask phase's arguments rendered against `params` (pkg/param: RenderArgs). */
export function renderPhase(kubeRender: string, phase: BlueprintPhase, params: TemplateParams): KubeTaskArgs {
  return renderTemplates(kubeRender, phase.args, params) as unknown as KubeTaskArgs;
}

/** The output of a phase from its pod's log: every `kando output` line (pkg/output: LogAndParse). */
export function phaseOutput(log: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of log.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith(PHASE_OUTPUT)) continue;
    const { key, value } = JSON.parse(line.slice(PHASE_OUTPUT.length)) as { key: string; value: string };
    out[key] = value;
  }
  return out;
}

/** An action's output artifacts, rendered once its phases have run (`.Phases.<name>.Output`). */
export function renderArtifacts(
  kubeRender: string,
  action: BlueprintAction,
  params: TemplateParams,
  outputs: Record<string, Record<string, string>>,
): Record<string, Artifact> {
  const phases = Object.fromEntries(Object.entries(outputs).map(([name, Output]) => [name, { Output }]));
  return renderTemplates(kubeRender, action.outputArtifacts ?? {}, { ...params, Phases: phases });
}

/** The source of a `kando` that does what `kando output <key> <value>` does: print the phase output line. */
export function kandoStub(node: string): string {
  return `#!${node}
const [command, key, value, ...rest] = process.argv.slice(2);
if (command !== 'output' || value === undefined || rest.length > 0) {
  console.error('kando (test stub): only "kando output <key> <value>" is implemented');
  process.exit(2);
}
if (!${OUTPUT_KEY}.test(key)) {
  console.error('Key should contain only alphanumeric characters and underscore');
  process.exit(1);
}
console.log(${JSON.stringify(PHASE_OUTPUT)}, JSON.stringify({ key, value }));
`;
}
