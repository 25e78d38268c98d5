/**
 * Metrics of a job that exits before any scrape (a cron job, a Kubernetes Job), as a file for
 * node-exporter's textfile collector: written to a temporary file beside the target, flushed, then
 * renamed over it, so the collector reads the old file or the new one, never half of one (the
 * collector's own advice: "write to a temporary file, then move it").
 *
 * @example
 * ```ts
 * await writeTextfile(registry, '/var/lib/node_exporter/textfile_collector/vectordr.prom');
 * ```
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InvalidInputError, VectordrError } from '../errors.js';
import type { MetricsRegistryLike } from './prom-client-like.js';

/** The registry's text in the Prometheus text format (0.0.4), which node-exporter and the Pushgateway read; refuses OpenMetrics. */
export async function exposition(registry: MetricsRegistryLike, what: string): Promise<string> {
  if (registry.contentType?.startsWith('application/openmetrics-text') === true) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `${what} needs the Prometheus text format; this registry writes OpenMetrics. Use a registry made with ` +
        `new prom.Registry() (or setContentType(prom.Registry.PROMETHEUS_CONTENT_TYPE)).`,
      { plugin: 'metrics' },
    );
  }
  return registry.metrics();
}

/**
 * Writes the registry's metrics to `path` atomically (temporary file in the same directory, fsync,
 * rename). The name must end in `.prom`: the textfile collector reads nothing else, and the
 * temporary name (`.<name>.<random>.tmp`) does not, so it is never read half-written.
 */
export async function writeTextfile(registry: MetricsRegistryLike, path: string): Promise<void> {
  if (typeof path !== 'string' || !path.endsWith('.prom')) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `Metrics textfile ${JSON.stringify(String(path))} does not end in .prom; node-exporter's textfile collector reads ` +
        `only *.prom files in its --collector.textfile.directory.`,
      { plugin: 'metrics' },
    );
  }
  const text = await exposition(registry, 'A metrics textfile');
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(tmp, 'wx', 0o644);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? `the directory ${dirname(path)} does not exist (create it, or point at node-exporter's textfile directory)`
        : code === 'EACCES' || code === 'EPERM'
          ? `no permission to write in ${dirname(path)}`
          : ((err as Error).message ?? String(err));
    throw new VectordrError('METRICS_EXPORT_FAILED', 'permanent', `Could not write the metrics textfile ${path}: ${hint}.`, {
      plugin: 'metrics',
      cause: err,
    });
  }
}
