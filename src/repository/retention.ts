/**
 * Retention policies (restic's semantics): walking a collection's snapshots newest first,
 * `keepLast: n` keeps the n newest; `keepDaily: n` keeps the newest snapshot of each of the n most
 * recent days that have one; likewise hourly, weekly (ISO weeks), monthly and yearly. `keepWithinMs`
 * keeps everything younger than that. A snapshot is kept if any rule keeps it, and the parents of a
 * kept incremental snapshot are kept with it. Calendar buckets are UTC.
 */
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';

const count = z.number().int().min(0);

export const RetentionPolicySchema = z
  .object({
    keepLast: count.optional(),
    keepHourly: count.optional(),
    keepDaily: count.optional(),
    keepWeekly: count.optional(),
    keepMonthly: count.optional(),
    keepYearly: count.optional(),
    /** Keep every snapshot younger than this (ms before the newest snapshot's time, as restic). */
    keepWithinMs: z.number().int().min(0).optional(),
  })
  .strict();
export type RetentionPolicy = z.input<typeof RetentionPolicySchema>;

export interface RetentionCandidate {
  id: string;
  createdAt: string;
  parent: string | null;
}

export interface RetentionDecision {
  keep: { id: string; createdAt: string; reasons: string[] }[];
  remove: { id: string; createdAt: string }[];
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const BUCKETS: [keyof z.output<typeof RetentionPolicySchema>, string, (d: Date) => string][] = [
  ['keepHourly', 'hourly', (d) => d.toISOString().slice(0, 13)],
  ['keepDaily', 'daily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', 'weekly', isoWeek],
  ['keepMonthly', 'monthly', (d) => d.toISOString().slice(0, 7)],
  ['keepYearly', 'yearly', (d) => d.toISOString().slice(0, 4)],
];

export function parseRetentionPolicy(policy: RetentionPolicy): z.output<typeof RetentionPolicySchema> {
  const parsed = RetentionPolicySchema.safeParse(policy);
  if (!parsed.success) throw new InvalidInputError('INVALID_OPTIONS', `Invalid retention policy: ${z.prettifyError(parsed.error)}`);
  const p = parsed.data;
  const any = Object.values(p).some((v) => v !== undefined && v > 0);
  if (!any) {
    throw new InvalidInputError(
      'INVALID_OPTIONS',
      'A retention policy must keep something: set at least one of keepLast, keepHourly, ' +
        'keepDaily, keepWeekly, keepMonthly, keepYearly or keepWithinMs above 0 (an empty policy ' +
        'would delete every snapshot).',
    );
  }
  return p;
}

/** Applies a policy to one collection's snapshots (any order). */
export function applyRetention(snapshots: RetentionCandidate[], policy: RetentionPolicy): RetentionDecision {
  const p = parseRetentionPolicy(policy);
  const newestFirst = [...snapshots].sort((a, b) =>
    a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1,
  );
  const reasons = new Map<string, string[]>();
  const add = (id: string, why: string): void => {
    const r = reasons.get(id) ?? [];
    r.push(why);
    reasons.set(id, r);
  };
  newestFirst.slice(0, p.keepLast ?? 0).forEach((s, i) => add(s.id, `last ${i + 1}/${p.keepLast}`));
  for (const [rule, label, bucketOf] of BUCKETS) {
    const n = p[rule] ?? 0;
    let kept = 0;
    let last: string | undefined;
    for (const s of newestFirst) {
      if (kept >= n) break;
      const b = bucketOf(new Date(s.createdAt));
      if (b === last) continue;
      last = b;
      kept++;
      add(s.id, `${label} ${b}`);
    }
  }
  if (p.keepWithinMs !== undefined && newestFirst[0]) {
    const newest = Date.parse(newestFirst[0].createdAt);
    for (const s of newestFirst) if (newest - Date.parse(s.createdAt) <= p.keepWithinMs) add(s.id, `within ${p.keepWithinMs} ms`);
  }
  // A kept incremental needs its whole chain.
  const byId = new Map(snapshots.map((s) => [s.id, s]));
  for (const id of [...reasons.keys()]) {
    let parent = byId.get(id)?.parent ?? null;
    while (parent !== null && byId.has(parent)) {
      add(parent, `parent of ${id}`);
      parent = byId.get(parent)?.parent ?? null;
    }
  }
  const keep: RetentionDecision['keep'] = [];
  const remove: RetentionDecision['remove'] = [];
  for (const s of newestFirst) {
    const r = reasons.get(s.id);
    if (r) keep.push({ id: s.id, createdAt: s.createdAt, reasons: r });
    else remove.push({ id: s.id, createdAt: s.createdAt });
  }
  return { keep, remove };
}
