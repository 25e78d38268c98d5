/**
 * One hostile-repository case in a process of its own, started with a small heap
 * (`--max-old-space-size`): opens the repository described by argv[2] (JSON), runs `verify` or a
 * `restore` into PGlite, and prints one JSON line: the outcome (report or typed error) and the peak
 * RSS. A crash (out of memory) shows as a non-zero exit without that line.
 */
import { openRepository } from '../../src/repository/repository.js';
import { fsStorage } from '../../src/storage/fs-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { s3TestStorage } from '../helpers/s3.js';

export interface ChildCase {
  /** S3: the test server of VECTORDR_S3_* (its credentials never on a command line), under `prefix`. */
  storage: { kind: 'fs'; path: string } | { kind: 's3'; prefix: string };
  /** Hex of a 32-byte key for an encrypted repository. */
  key?: string;
  op: 'verify' | 'restore';
  collection: string;
}

export interface ChildOutcome {
  ok?: boolean;
  problems?: { code: string; segment?: string }[];
  error?: { name: string; code?: string; message: string };
  peakRssMb: number;
  /** Peak RSS before the operation began (after PGlite started, for a restore). */
  baseRssMb: number;
}

async function main(): Promise<void> {
  const c = JSON.parse(process.argv[2] as string) as ChildCase;
  const storage: Storage =
    c.storage.kind === 'fs' ? fsStorage({ path: c.storage.path, fsync: false }) : s3TestStorage({ prefix: c.storage.prefix });
  const rssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);
  const out: ChildOutcome = { peakRssMb: 0, baseRssMb: 0 };
  try {
    const repo = await openRepository({ storage, ...(c.key ? { encryption: { key: Buffer.from(c.key, 'hex') } } : {}) });
    if (c.op === 'verify') {
      out.baseRssMb = rssMb();
      const report = await repo.verify({ collection: c.collection });
      out.ok = report.ok;
      out.problems = report.snapshots.flatMap((s) =>
        s.problems.map((p) => ({ code: p.code, ...(p.segment ? { segment: p.segment } : {}) })),
      );
    } else {
      const { openPglite } = await import('../helpers/pglite.js');
      const { db, adapter } = await openPglite('CREATE EXTENSION vector');
      out.baseRssMb = rssMb();
      try {
        await repo.restore(adapter, { collection: c.collection, target: 'restored' });
        out.ok = true;
      } finally {
        await db.close();
      }
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    out.error = { name: e.name, ...(e.code !== undefined ? { code: e.code } : {}), message: e.message.slice(0, 500) };
  }
  out.peakRssMb = rssMb();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
