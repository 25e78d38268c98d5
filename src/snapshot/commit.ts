/** The checks every snapshot (full or link) makes just before its manifest commits. */
import { IntegrityError } from '../errors.js';
import type { SegmentRef } from '../format/manifest.js';
import type { RepositoryLock } from '../repository/locks.js';
import type { SnapshotStore } from '../repository/ports.js';

/**
 * The last checks before a manifest names its segments: the lock is still ours (so no prune can
 * have judged it stale), every segment is stored with its size, and the lock is still ours after
 * that (a prune that removed it during the check may have deleted what was just confirmed).
 */
export async function confirmBeforeCommit(
  repo: SnapshotStore,
  lock: RepositoryLock,
  segments: readonly SegmentRef[],
  signal: AbortSignal | undefined,
): Promise<void> {
  await lock.assertHeld();
  const missing = await repo.missingSegment(segments, signal);
  if (missing) {
    await lock.assertHeld(); // a removed lock explains the loss better than the loss itself
    const { ref, found, expected } = missing;
    throw new IntegrityError(
      'SEGMENT_MISSING',
      `Segment ${ref.key} of this snapshot ` +
        `${found === undefined ? 'is gone' : `has ${found} bytes instead of ${expected}`} from ` +
        `${repo.location} although this run stored (or found) it and held its lock throughout: ` +
        `something deleted or replaced it without taking the repository lock. ` +
        `Nothing was committed; rerun (the segment is stored again), and find what deletes data under data/ (a lifecycle rule, another tool).`,
      { details: { key: ref.key } },
    );
  }
  await lock.assertHeld();
}
