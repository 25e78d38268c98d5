/**
 * The restore marker: a string under `metadata.vectordr_marker` of the collection, beside the
 * neutral schema vectordr keeps under `metadata.vectordr`. Not atomic with the points it vouches for.
 */
import { engineCall } from '../../src/engine-errors.js';
import type { QdrantContext } from './qdrant-client.js';
import { collectionInfo } from './qdrant-describe.js';
import { qdrantErrors } from './qdrant-errors.js';
import { MARKER_KEY } from './qdrant-types.js';

export async function readMarker(ctx: QdrantContext, collection: string): Promise<string | undefined> {
  const info = await collectionInfo(ctx, collection);
  const m = ((info.config ?? {}) as { metadata?: Record<string, unknown> | null }).metadata?.[MARKER_KEY];
  return typeof m === 'string' && m ? m : undefined;
}

/** Sets the marker, or removes it (`undefined`); removing an absent marker writes nothing. */
export async function writeMarker(ctx: QdrantContext, collection: string, marker: string | undefined): Promise<void> {
  if (marker === undefined && (await readMarker(ctx, collection)) === undefined) return;
  // Qdrant merges metadata on update; a null value removes the key.
  await engineCall(qdrantErrors, 'updateCollection', collection, () =>
    ctx.client.updateCollection(collection, { metadata: { [MARKER_KEY]: marker ?? null } }),
  );
}
