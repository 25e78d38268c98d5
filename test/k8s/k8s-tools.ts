/**
 * What the Kubernetes example tests run on: the OpenAPI documents of two Kubernetes releases and
 * kube-render (YAML as kubectl reads it, Blueprint templates as Kanister renders them), both from
 * scripts/k8s-tools.sh, which fetches and builds them once into the cache. Without Go the suites
 * skip locally; in CI (`CI=true`, or `k8s` in VECTORDR_REQUIRE_ENGINES) they fail instead.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { engineAvailable } from '../helpers/engines.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLES = `${REPO_ROOT}examples/kubernetes`;

export interface K8sTools {
  /** One folder of OpenAPI v3 documents per Kubernetes release, oldest first. */
  readonly openapiDirs: readonly string[];
  /** The kube-render binary. */
  readonly kubeRender: string;
}

/**
 * `available` unless it is missing where it must not be: in CI (`CI=true`) or when `name` is in
 * VECTORDR_REQUIRE_ENGINES, a missing requirement throws (the suite fails) instead of skipping.
 */
export function requiredInCi(name: string, available: boolean, why: string): boolean {
  if (!available && process.env.CI === 'true') throw new Error(`${name} is required in CI (CI=true), but ${why}`);
  if (!available) console.warn(`[test/k8s] skipping the ${name} suites: ${why}`);
  return engineAvailable(name, available);
}

let tools: K8sTools | string | undefined;

/** The tools, or why they are missing (scripts/k8s-tools.sh failed: no Go, no network). */
export function k8sTools(): K8sTools | string {
  if (tools !== undefined) return tools;
  try {
    const out = execFileSync('bash', [`${REPO_ROOT}scripts/k8s-tools.sh`, 'env'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const vars = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s, 2) as [string, string]),
    );
    const dirs = vars.VECTORDR_K8S_OPENAPI;
    const kubeRender = vars.VECTORDR_KUBE_RENDER;
    if (!dirs || !kubeRender) throw new Error(`scripts/k8s-tools.sh env printed ${JSON.stringify(out)}`);
    tools = { openapiDirs: dirs.split(','), kubeRender };
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    tools = `scripts/k8s-tools.sh env failed: ${stderr || (err as Error).message}`;
  }
  return tools;
}

/** The tools of a suite that checked `requiredInCi('k8s', ...)` first. */
export function requireTools(): K8sTools {
  const t = k8sTools();
  if (typeof t === 'string') throw new Error(t);
  return t;
}

/** Runs kube-render; a failure throws kube-render's own message. */
function kubeRenderRun(kubeRender: string, command: string, input: string): string {
  try {
    return execFileSync(kubeRender, [command], { input, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(stderr || (err as Error).message, { cause: err });
  }
}

/** The documents of a YAML file as kubectl reads them (YAML 1.1 scalars; a duplicated key fails). */
export function readYaml(kubeRender: string, yaml: string): Record<string, unknown>[] {
  return JSON.parse(kubeRenderRun(kubeRender, 'yaml', yaml)) as Record<string, unknown>[];
}

/** The documents of examples/kubernetes/<file>. */
export function readExample(kubeRender: string, file: string): Record<string, unknown>[] {
  return readYaml(kubeRender, readFileSync(`${EXAMPLES}/${file}`, 'utf8'));
}

/**
 * Renders every string in `args` as a Kanister template against `params` (Kanister's
 * TemplateParams: Object, Profile, Options, ArtifactsIn, Phases, ...). Throws with kube-render's
 * message when a template fails (a missing key, a sprig `fail`).
 */
export function renderTemplates<T>(kubeRender: string, args: T, params: object): T {
  return JSON.parse(kubeRenderRun(kubeRender, 'template', JSON.stringify({ args, params }))) as T;
}
