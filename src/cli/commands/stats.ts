/**
 * `vectordr stats`: per collection, its snapshots, the newest one and its age (the backup's RPO),
 * and the bytes its snapshots store, counting a segment shared by several snapshots once (segments
 * are content-addressed, so an unchanged segment is stored once).
 */
import type { CommandContext, CommandOutcome } from '../context.js';
import { EXIT_CODES } from '../exit-codes.js';
import { count, plural, shortTime, table } from '../format.js';
import { formatBytes, formatDuration } from '../progress-bar.js';

export interface CollectionStats {
  collection: string;
  snapshots: number;
  latest: { id: string; createdAt: string; records: number };
  /** Seconds since the newest snapshot was taken (its watermark for a chain). */
  latestAgeSeconds: number;
  /** Bytes of the distinct segments (and delta indexes) its snapshots reference. */
  storedBytes: number;
  segments: number;
}

export async function statsCommand(ctx: CommandContext, o: { collection?: string }): Promise<CommandOutcome> {
  const repo = await ctx.repository();
  const list = await repo.list({ ...(o.collection === undefined ? {} : { collection: o.collection }), signal: ctx.signal });
  const now = Date.now();
  const all = new Map<string, number>();
  const collections: CollectionStats[] = [];
  for (const name of [...new Set(list.map((s) => s.collection))].sort()) {
    const snaps = list.filter((s) => s.collection === name);
    const own = new Map<string, number>();
    for (const s of snaps) {
      ctx.signal.throwIfAborted();
      const m = await repo.readManifest(name, s.id);
      for (const ref of [...m.segments, ...(m.deltaIndex ?? [])]) {
        own.set(ref.key, ref.bytes);
        all.set(ref.key, ref.bytes);
      }
    }
    const latest = snaps[snaps.length - 1] as (typeof snaps)[number];
    collections.push({
      collection: name,
      snapshots: snaps.length,
      latest: { id: latest.id, createdAt: latest.createdAt, records: latest.records },
      latestAgeSeconds: Math.max(0, Math.round((now - Date.parse(latest.watermark ?? latest.createdAt)) / 1000)),
      storedBytes: [...own.values()].reduce((a, b) => a + b, 0),
      segments: own.size,
    });
  }
  const result = {
    snapshots: list.length,
    storedBytes: [...all.values()].reduce((a, b) => a + b, 0),
    segments: all.size,
    collections,
  };
  ctx.out.listing(result, () => [
    ...table([
      ['Collection', 'Snapshots', 'Latest', 'Age', 'Records', 'Stored'],
      ...collections.map((c) => [
        c.collection,
        String(c.snapshots),
        shortTime(c.latest.createdAt),
        formatDuration(c.latestAgeSeconds),
        count(c.latest.records),
        formatBytes(c.storedBytes),
      ]),
    ]),
    `${plural(result.snapshots, 'snapshot')}, ${plural(result.segments, 'segment')}, ${formatBytes(result.storedBytes)} stored`,
  ]);
  return { exitCode: EXIT_CODES.OK, result };
}
