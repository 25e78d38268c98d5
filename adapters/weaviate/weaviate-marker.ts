/**
 * Restore markers live as objects of one small class, `VectordrRestoreMarkers` (created on first
 * use; no vectors), keyed by a UUIDv5 of the class name. Not in the class description: every
 * schema update makes Weaviate re-apply the vector index config and flip the collection's shards
 * to READONLY for a moment (seen in its log), which would fail an application's concurrent writes.
 */
import { EngineError } from '../../src/errors.js';
import { VECTORDR_ID_NAMESPACE, uuidV5 } from '../../src/id-mapping.js';
import type { WeaviateConnection } from './weaviate-connection.js';
import { httpStatusError } from './weaviate-errors.js';
import { PLUGIN, classNameOf } from './weaviate-types.js';

/** The class holding restore markers. */
const MARKER_CLASS = 'VectordrRestoreMarkers';

/** The REST path of the marker object of a class. */
export function markerPath(className: string): string {
  return `/v1/objects/${MARKER_CLASS}/${uuidV5(`marker:${className}`, VECTORDR_ID_NAMESPACE)}`;
}

export async function readMarker(conn: WeaviateConnection, collection: string): Promise<string | undefined> {
  const className = classNameOf(collection);
  await conn.rest.mustGetClass(className, collection);
  const { status, json } = await conn.rest.request('GET', markerPath(className));
  if (status === 404) return undefined;
  if (status !== 200) throw httpStatusError(`GET ${MARKER_CLASS} object: HTTP ${status}`, status);
  const marker = (json as { properties?: { marker?: unknown } }).properties?.marker;
  return typeof marker === 'string' && marker ? marker : undefined;
}

/** Sets the marker of a collection, or removes it (`undefined`). */
export async function writeMarker(conn: WeaviateConnection, collection: string, marker: string | undefined): Promise<void> {
  const className = classNameOf(collection);
  await conn.rest.mustGetClass(className, collection);
  const path = markerPath(className);
  if (marker === undefined) {
    const { status } = await conn.rest.request('DELETE', path);
    if (status >= 300 && status !== 404) throw httpStatusError(`DELETE ${MARKER_CLASS} object: HTTP ${status}`, status);
    return;
  }
  const body = { class: MARKER_CLASS, id: path.slice(path.lastIndexOf('/') + 1), properties: { collection: className, marker } };
  // REST batch import is an upsert (PUT of a missing object is an error in Weaviate 1.35).
  const upsert = async (): Promise<string | undefined> => {
    const res = (await conn.rest.ok('POST', '/v1/batch/objects', { objects: [body] })) as {
      result?: { errors?: { error?: { message?: string }[] } };
    }[];
    return res[0]?.result?.errors?.error?.map((e) => e.message).join('; ') || undefined;
  };
  let error = await upsert();
  if (error !== undefined && !(await conn.rest.getClass(MARKER_CLASS))) {
    await ensureMarkerClass(conn); // the first marker on this Weaviate
    error = await upsert();
  }
  if (error !== undefined) {
    throw new EngineError(`Writing the restore marker of ${JSON.stringify(collection)} failed: ${error}`, 'transient', { plugin: PLUGIN });
  }
}

async function ensureMarkerClass(conn: WeaviateConnection): Promise<void> {
  if (await conn.rest.getClass(MARKER_CLASS)) return;
  const { status, json } = await conn.rest.request('POST', '/v1/schema', {
    class: MARKER_CLASS,
    description: 'vectordr restore progress markers (one object per collection being restored; safe to delete when no restore runs)',
    vectorizer: 'none',
    vectorIndexConfig: { skip: true },
    properties: [
      { name: 'collection', dataType: ['text'], tokenization: 'field' },
      { name: 'marker', dataType: ['text'], tokenization: 'field', indexSearchable: false },
    ],
  });
  // Another adapter may have created it meanwhile.
  if (status >= 300 && !(await conn.rest.getClass(MARKER_CLASS))) {
    throw new EngineError(`Cannot create ${MARKER_CLASS}: HTTP ${status} ${JSON.stringify(json)?.slice(0, 200)}`, 'permanent', {
      plugin: PLUGIN,
    });
  }
}
