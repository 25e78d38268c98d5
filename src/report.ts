/**
 * The JSON form every report shares. Reports hold ids as `bigint` (integer keys) or `string`, and
 * `JSON.stringify` throws on a bigint; so every report the `Repository` returns carries a
 * `toJSON()` that turns each bigint into its decimal string. Ids are `bigint | string`, so in JSON
 * every id is a string (`1n` -> `"1"`, exact beyond 2^53), and everything else is unchanged.
 */

/** `T` as `JSON.parse(JSON.stringify(report))` gives it back: bigints (and so ids) as strings. */
export type JsonForm<T> = T extends bigint
  ? string
  : T extends (...args: never[]) => unknown
    ? never
    : T extends readonly (infer U)[]
      ? JsonForm<U>[]
      : T extends object
        ? { [K in keyof T as K extends 'toJSON' ? never : K]: JsonForm<T[K]> }
        : T;

/** A report with its JSON form: `JSON.stringify(report)` works and writes ids as strings. */
export type Report<T> = T & { toJSON(): JsonForm<T> };

/** A deep copy of `value` with every bigint as its decimal string (other JSON values as they are). */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(jsonSafe);
  const nested = (value as { toJSON?: unknown }).toJSON;
  if (typeof nested === 'function') return jsonSafe((nested as () => unknown).call(value));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
  return out;
}

/**
 * Gives `report` its JSON form, as a non-enumerable `toJSON` (so the report's own fields, equality
 * checks and spreads are unchanged). The one place reports get it: every `Repository` entry point.
 */
export function withJsonForm<T extends object>(report: T): Report<T> {
  const toJSON = function (this: T): JsonForm<T> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) out[k] = jsonSafe(v);
    return out as JsonForm<T>;
  };
  Object.defineProperty(report, 'toJSON', { value: toJSON, enumerable: false, configurable: true, writable: true });
  return report as Report<T>;
}
