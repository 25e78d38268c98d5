/**
 * Runs one container of a pod spec as a local process, doing for it what the kubelet would: the
 * environment from `env` (literal values with `$(VAR)` references, secretKeyRef, configMapKeyRef)
 * and `envFrom`, the command and args with `$(VAR)` expanded, and the Secret, ConfigMap and
 * emptyDir volumes written under a root folder that stands in for the container's file system
 * (a path under a mount point in an env value or an argument is moved under the root with it).
 * The image is stood in for by `path`: the folder(s) the command's programs are found in.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string }; prefix?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number };
  configMap?: { name: string; items?: { key: string; path: string }[]; defaultMode?: number };
  emptyDir?: object;
}

export interface PodSpecLike {
  containers: unknown[];
  volumes?: unknown[];
}

export interface RunContainerOptions {
  /** The container to run. @default the first */
  container?: string;
  /** Override the container's args (as `kubectl run ... -- <args>` or a Job copy would). */
  args?: string[];
  /** Secret data by Secret name (the values, not base64). */
  secrets: Record<string, Record<string, string>>;
  configMaps?: Record<string, Record<string, string>>;
  /** Stands in for the container's root file system: mounted volumes are written under it. */
  root: string;
  /** PATH inside the container: where its programs (the image's contents) are found. */
  path: string;
  /** Killed (SIGKILL) after this long. @default 120_000 */
  timeoutMs?: number;
}

export interface ContainerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The environment the container got (for checks on what it was given). */
  env: Record<string, string>;
}

/** `$(VAR)` references expanded from `vars` (an unknown one stays as written; `$$(VAR)` is a literal `$(VAR)`), as the kubelet does. */
export function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    name === undefined ? '$' : (vars[name] ?? m),
  );
}

function lookup(
  store: Record<string, Record<string, string>>,
  kind: string,
  name: string,
  key: string,
  optional?: boolean,
): string | undefined {
  const value = store[name]?.[key];
  if (value === undefined && !optional) {
    // The kubelet does not start the container: CreateContainerConfigError.
    throw new Error(`CreateContainerConfigError: ${kind} "${name}" has no key "${key}"`);
  }
  return value;
}

/** Runs the container to completion. */
export async function runContainer(spec: PodSpecLike, o: RunContainerOptions): Promise<ContainerRun> {
  const containers = spec.containers as Container[];
  const c = o.container === undefined ? containers[0] : containers.find((x) => x.name === o.container);
  if (!c) throw new Error(`no container ${o.container ?? ''}`);
  const configMaps = o.configMaps ?? {};
  const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
  const inRoot = (s: string): string => {
    const m = mounts.find((p) => s === p || s.startsWith(`${p}/`));
    return m === undefined ? s : join(o.root, s);
  };

  for (const vm of c.volumeMounts ?? []) {
    const v = (spec.volumes as Volume[] | undefined)?.find((x) => x.name === vm.name);
    if (!v) throw new Error(`container ${c.name} mounts volume ${vm.name}, which the pod does not define`);
    const dir = join(o.root, vm.mountPath);
    mkdirSync(dir, { recursive: true });
    const source = v.secret
      ? { data: o.secrets[v.secret.secretName], ...v.secret, kind: `Secret ${v.secret.secretName}` }
      : v.configMap
        ? { data: configMaps[v.configMap.name], ...v.configMap, kind: `ConfigMap ${v.configMap.name}` }
        : undefined;
    if (!source) continue; // emptyDir: the folder is all
    if (!source.data) throw new Error(`volume ${v.name}: ${source.kind} does not exist`);
    const items = source.items ?? Object.keys(source.data).map((key) => ({ key, path: key }));
    for (const item of items) {
      const value = source.data[item.key];
      if (value === undefined) throw new Error(`volume ${v.name}: ${source.kind} has no key ${item.key}`);
      const file = join(dir, item.path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, value);
      chmodSync(file, source.defaultMode ?? 0o644);
    }
  }

  const env: Record<string, string> = { PATH: o.path, HOME: join(o.root, 'home') };
  mkdirSync(env.HOME!, { recursive: true });
  if (mounts.includes('/tmp')) env.TMPDIR = join(o.root, 'tmp');
  for (const from of c.envFrom ?? []) {
    const data = from.configMapRef ? configMaps[from.configMapRef.name] : from.secretRef ? o.secrets[from.secretRef.name] : undefined;
    if (!data) throw new Error(`CreateContainerConfigError: envFrom ${JSON.stringify(from)} does not exist`);
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom;
    const value = ref?.secretKeyRef
      ? lookup(o.secrets, 'Secret', ref.secretKeyRef.name, ref.secretKeyRef.key, ref.secretKeyRef.optional)
      : ref?.configMapKeyRef
        ? lookup(configMaps, 'ConfigMap', ref.configMapKeyRef.name, ref.configMapKeyRef.key, ref.configMapKeyRef.optional)
        : expandVars(e.value ?? '', env);
    if (value !== undefined) env[e.name] = inRoot(value);
  }

  const argv = [...(c.command ?? []), ...(o.args ?? c.args ?? [])].map((a) => inRoot(expandVars(a, env)));
  if (argv.length === 0) throw new Error(`container ${c.name} has no command (the test has no image entrypoint)`);
  const child = spawn(argv[0]!, argv.slice(1), { env, cwd: o.root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve([code, signal]));
  });
  clearTimeout(timer);
  return { code, signal, stdout, stderr, env };
}
