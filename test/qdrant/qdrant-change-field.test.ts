/**
 * Qdrant change capture on the real server (QDRANT_URL): the shared change-field chain (an integer
 * payload key with a payload index, on a collection vectordr created), then a datetime key without
 * an index on a collection vectordr did not create (type found by sampling, payload kept whole).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qdrantAdapter, type QdrantAdapter } from '../../adapters/qdrant/index.js';
import { dump, testChangeField } from '../conformance/change-field-suite.js';
import { createdNames, engineAvailable } from '../helpers/engines.js';
import { memoryRepository } from '../helpers/repository.js';

const url = process.env.QDRANT_URL;
const real = engineAvailable('qdrant-real', url !== undefined);
const apiKey = process.env.QDRANT_API_KEY;

describe.runIf(real)('qdrant change capture (real server at QDRANT_URL)', () => {
  testChangeField({ name: 'qdrant', engine: 'qdrant', adapter: (options) => qdrantAdapter({ url: url as string, apiKey, ...options }) });

  describe('a datetime payload key without a payload index, on a collection vectordr did not create', () => {
    const { name, created } = createdNames();
    let a: QdrantAdapter;
    let collection: string;
    const call = async (method: string, path: string, body?: unknown): Promise<void> => {
      const res = await fetch(`${url as string}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(apiKey ? { 'api-key': apiKey } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    };
    let t = Date.parse('2026-01-01T00:00:00Z');
    const point = (id: number, x: number) => ({ id, vector: [x, 1 - x], payload: { ts: new Date((t += 1000)).toISOString(), x } });
    const put = (points: unknown[]): Promise<void> => call('PUT', `/collections/${collection}/points?wait=true`, { points });

    beforeAll(async () => {
      a = qdrantAdapter({ url: url as string, apiKey, changeField: 'ts' });
      collection = name('cfdt');
      await call('PUT', `/collections/${collection}`, { vectors: { size: 2, distance: 'Dot' } });
      await put(Array.from({ length: 50 }, (_, i) => point(i + 1, i / 50)));
    });
    afterAll(async () => {
      for (const c of created) await a.drop(c).catch(() => undefined);
    });

    it('follows the key as a datetime (found by sampling), with deletes from the ids-only scroll', async () => {
      expect(await a.planCapture(collection)).toEqual({ mode: 'timestamp' });
      const repo = await memoryRepository();
      const full = await repo.snapshot(a, collection, { incremental: true });
      expect(full.manifest.checkpoint?.value).toEqual({ field: 'ts', type: 'datetime', since: new Date(t).toISOString() });
      t += 60_000; // beyond the lag: only what the link changes is re-read
      await put([point(3, 0.5), point(99, 0.25)]);
      await call('POST', `/collections/${collection}/points/delete?wait=true`, { points: [4, 5] });
      const link = await repo.snapshot(a, collection, { incremental: true });
      expect(link.manifest.capture).toEqual({ mode: 'timestamp', exact: false });
      expect(link.manifest.rows).toEqual({ upserts: 2, deletes: 2 });
      const target = name('cfdtpitr');
      await repo.restore(a, { collection, snapshot: link.manifest.id, target });
      expect(await dump(a, target)).toEqual(await dump(a, collection));
    });

    it('a point written without the key makes the plan a fingerprint diff that says so', async () => {
      await put([{ id: 500, vector: [0, 1], payload: { x: 1 } }]);
      const plan = await a.planCapture(collection);
      expect(plan.mode).toBe('digest');
      expect(plan.reason).toMatch(/1 point\(s\) have no value in payload key "ts"/);
    });
  });
});
