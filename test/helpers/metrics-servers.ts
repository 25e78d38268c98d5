/**
 * The Pushgateway started by scripts/pushgateway.sh (VECTORDR_PUSHGATEWAY_URL) and the Prometheus
 * started by scripts/prometheus.sh (VECTORDR_PROMETHEUS_URL, and VECTORDR_PROMTOOL from the same
 * package), for test/metrics/. Each is a required suite in scripts/test-all.sh (VECTORDR_REQUIRE_ENGINES).
 */
import { execFile } from 'node:child_process';
import { engineAvailable } from './engines.js';

export const pushgatewayUrl = process.env.VECTORDR_PUSHGATEWAY_URL;
export const prometheusUrl = process.env.VECTORDR_PROMETHEUS_URL;
export const promtoolPath = process.env.VECTORDR_PROMTOOL;

export const pushgatewayAvailable = engineAvailable('pushgateway', pushgatewayUrl !== undefined);
/** Prometheus and its promtool: one package, one script, one requirement. */
export const prometheusAvailable = engineAvailable('prometheus', prometheusUrl !== undefined && promtoolPath !== undefined);

/** Runs promtool with `args` (and `stdin`); resolves with its exit code and output, never rejects on a non-zero exit. */
export function promtool(args: string[], stdin?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(promtoolPath as string, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      if (code === -1) reject(err);
      else resolve({ code, output: `${stdout}${stderr}` });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** A Pushgateway group as its JSON API (`GET /api/v1/metrics`) gives it: labels, and each metric family's samples. */
export interface PushedGroup {
  labels: Record<string, string>;
  families: Map<string, { labels: Record<string, string>; value: string }[]>;
}

/** The groups now held by the gateway. */
export async function pushedGroups(): Promise<PushedGroup[]> {
  const res = await fetch(`${pushgatewayUrl}/api/v1/metrics`);
  if (!res.ok) throw new Error(`GET /api/v1/metrics: HTTP ${res.status}`);
  const body = (await res.json()) as { data: Record<string, unknown>[] };
  return body.data.map((g) => {
    const families = new Map<string, { labels: Record<string, string>; value: string }[]>();
    for (const [key, v] of Object.entries(g)) {
      if (key === 'labels' || typeof v !== 'object' || v === null || !('metrics' in v)) continue;
      families.set(key, (v as { metrics: { labels: Record<string, string>; value: string }[] }).metrics);
    }
    return { labels: g.labels as Record<string, string>, families };
  });
}

/** Deletes a group (`DELETE /metrics/job/<job>`; the gateway answers 202 whether it existed or not). */
export async function deleteGroup(job: string): Promise<void> {
  const res = await fetch(`${pushgatewayUrl}/metrics/job/${encodeURIComponent(job)}`, { method: 'DELETE' });
  if (res.status !== 202) throw new Error(`DELETE group ${job}: HTTP ${res.status}`);
}
