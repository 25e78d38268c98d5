import { z } from 'zod';
import { InvalidInputError } from './errors.js';
import type { Logger } from './logger.js';
import type { ProgressCallback } from './progress.js';

/** The options of every long operation, declared once: spread into each operation's strict schema. */
export const operationOptions = {
  /** Aborts the operation between steps; it ends with ABORTED and nothing half-visible. */
  signal: z.instanceof(AbortSignal).optional(),
  /** Called with a `ProgressEvent` as the operation advances. */
  onProgress: z.custom<ProgressCallback>((v) => typeof v === 'function', 'a function').optional(),
};

/** Only `signal`, for operations that report no progress. */
export const signalOption = { signal: operationOptions.signal };

/**
 * Former option names still accepted for one minor version (0.4.x), each with the name that
 * replaced it. Using one logs a warning on the options' own `logger`; giving both is refused.
 */
export type RenamedOptions = Readonly<Record<string, string>>;

/**
 * Parses plugin options with their (strict) zod schema, or throws INVALID_OPTIONS. An unknown key
 * is named, with the known key it most likely meant (`schemaNme` → "did you mean schema?"): a typo
 * in an option must not silently fall back to the default (a snapshot of the wrong schema).
 */
export function parseOptions<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
  plugin?: string,
  renamed: RenamedOptions = {},
): z.output<T> {
  const parsed = schema.safeParse(applyRenames(value, what, plugin, renamed));
  if (parsed.success) return parsed.data;
  const known = knownKeys(schema);
  const hints: string[] = [];
  for (const issue of parsed.error.issues) {
    if (issue.code !== 'unrecognized_keys' || issue.path.length > 0) continue;
    for (const key of issue.keys) {
      const near = closest(key, known);
      hints.push(`unknown option ${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean ${near}?)`}`);
    }
  }
  const detail = hints.length > 0 ? `${hints.join('; ')}. Known options: ${known.join(', ')}.` : z.prettifyError(parsed.error);
  throw new InvalidInputError('INVALID_OPTIONS', `Invalid ${what} options: ${detail}`, plugin === undefined ? {} : { plugin });
}

function applyRenames(value: unknown, what: string, plugin: string | undefined, renamed: RenamedOptions): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const used = Object.keys(renamed).filter((old) => Object.hasOwn(value, old));
  if (used.length === 0) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const logger = out.logger as Logger | undefined;
  for (const old of used) {
    const name = renamed[old] as string;
    if (Object.hasOwn(out, name)) {
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        `Invalid ${what} options: pass ${name} only (${old} is its former name, still read until 0.5).`,
        plugin === undefined ? {} : { plugin },
      );
    }
    out[name] = out[old];
    delete out[old];
    if (typeof logger?.warn === 'function')
      logger.warn({ option: old, replacement: name }, `${what} option ${old} is deprecated; use ${name} (the old name is read until 0.5)`);
  }
  return out;
}

function knownKeys(schema: z.ZodType): string[] {
  const shape = (schema as { shape?: unknown }).shape;
  return typeof shape === 'object' && shape !== null ? Object.keys(shape) : [];
}

/** The known key within a small edit distance (a third of its length, at least 1) or that the key starts with, if any. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))) return best;
  // `schemaName` for `schema`: a known key the unknown one starts with.
  return known.find((k) => k.length >= 3 && key.toLowerCase().startsWith(k.toLowerCase()));
}

/** Damerau-Levenshtein distance (optimal string alignment): a swap of two letters counts one. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
