/** Text formatting of the human output: tables, times, counts. */

/** `2026-01-02T03:04:05.678Z` -> `2026-01-02 03:04:05` (UTC, as stored). */
export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

export const count = (n: number): string => n.toLocaleString('en-US');

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Rows of cells as aligned columns (the first row is the header, underlined). */
export function table(rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return [];
  const widths = (rows[0] as readonly string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => cell.padEnd(widths[c] as number))
      .join('  ')
      .trimEnd();
  const [head, ...body] = rows;
  return [line(head as readonly string[]), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

/** `{ a: 'b', c: 'd' }` -> `a=b,c=d`. */
export function formatTags(tags: Readonly<Record<string, string>>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** `1 segment`, `2 segments` (counts with thousands separators). */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
