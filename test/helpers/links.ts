/** Checks on incremental links (docs/format.md, "Chains"). */
import { expect } from 'vitest';
import type { Manifest } from '../../src/format/manifest.js';

/**
 * A link's `rows` are the changes made since its parent. A timestamp feed re-reads objects updated
 * within its skew before the parent started, and the core drops those whose digest did not change;
 * one that changed back and forth within the window still counts, so there upserts may be more,
 * never fewer.
 */
export function expectLinkRows(link: Manifest, rows: { upserts: number; deletes: number }, what?: string): void {
  if (link.capture?.mode !== 'timestamp') {
    expect(link.rows, what).toEqual(rows);
    return;
  }
  expect(link.rows.deletes, what).toBe(rows.deletes);
  expect(link.rows.upserts, what).toBeGreaterThanOrEqual(rows.upserts);
}
