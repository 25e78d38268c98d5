/** Checks on incremental links (docs/format.md, "Chains"). */
import { expect } from 'vitest';
import type { Manifest } from '../../src/format/manifest.js';

/**
 * A link's `rows` are the changes made since its parent: exactly, except that a timestamp feed
 * re-sends objects updated within its skew before the parent started (docs/format.md, "Capture
 * modes"; unchanged rows, the folded state stays exact), so there upserts may be more, never fewer.
 */
export function expectLinkRows(link: Manifest, rows: { upserts: number; deletes: number }, what?: string): void {
  if (link.capture?.mode !== 'timestamp') {
    expect(link.rows, what).toEqual(rows);
    return;
  }
  expect(link.rows.deletes, what).toBe(rows.deletes);
  expect(link.rows.upserts, what).toBeGreaterThanOrEqual(rows.upserts);
}
