/**
 * The restore marker of a Milvus collection: a collection property (`vectordr.restore.marker`).
 * Milvus cannot commit it with the rows (capability `atomicMarker: false`): the core writes it after.
 */
import type { MilvusContext } from './milvus-client.js';
import { describeRaw } from './milvus-describe.js';
import { milvusCall } from './milvus-errors.js';
import { MARKER_PROPERTY } from './milvus-types.js';

/** The marker, or undefined when there is none (an empty value is none: see `writeMarker`). */
export async function readMarker(ctx: MilvusContext, collection: string): Promise<string | undefined> {
  return (await describeRaw(ctx.client, collection)).properties[MARKER_PROPERTY] || undefined;
}

/** Sets the marker, or clears it when `marker` is undefined. */
export async function writeMarker(ctx: MilvusContext, collection: string, marker: string | undefined): Promise<void> {
  const { client } = ctx;
  if (marker === undefined) {
    if ((await readMarker(ctx, collection)) === undefined) return;
    // dropCollectionProperties exists from Milvus 2.5; before, an empty value reads as no marker.
    if ((await ctx.server()).dropProperties) {
      await milvusCall('dropCollectionProperties', collection, () =>
        client.dropCollectionProperties({ collection_name: collection, properties: [MARKER_PROPERTY] } as never),
      );
    } else {
      await milvusCall('alterCollectionProperties', collection, () =>
        client.alterCollectionProperties({ collection_name: collection, properties: { [MARKER_PROPERTY]: '' } } as never),
      );
    }
    return;
  }
  await milvusCall('alterCollectionProperties', collection, () =>
    client.alterCollectionProperties({ collection_name: collection, properties: { [MARKER_PROPERTY]: marker } } as never),
  );
}
