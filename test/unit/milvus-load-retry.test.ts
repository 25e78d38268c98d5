/**
 * A load that finds no query node to take a replica ("nodes not enough": one restarting, or not yet
 * registered after the server started) is transient and loaded again; any other failure is not.
 */
import { describe, expect, it } from 'vitest';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { MilvusContext } from '../../adapters/milvus/milvus-client.js';
import { loadCollection } from '../../adapters/milvus/milvus-describe.js';
import { isNoQueryNode, milvusErrors } from '../../adapters/milvus/milvus-errors.js';
import type { CollectionSchema } from '../../src/model.js';
import { EngineError } from '../../src/errors.js';

const schema: CollectionSchema = {
  name: 'c',
  idField: 'id',
  idType: 'int64',
  vectors: [{ name: 'v', dims: 3, metric: 'cosine', element: 'float32', nullable: false }],
  payload: [],
  indexes: [],
};

/** A context whose loadCollectionSync answers each of `answers` in turn (an Error is thrown, as the SDK throws a failed load). */
function contextAnswering(answers: (Error | 'ok')[]): { ctx: MilvusContext; calls: () => number; warnings: string[] } {
  let calls = 0;
  const warnings: string[] = [];
  const client = {
    loadCollectionSync: () => {
      const a = answers[Math.min(calls++, answers.length - 1)];
      return a === 'ok' ? Promise.resolve({ error_code: 'Success', reason: '' }) : Promise.reject(a as Error);
    },
  } as unknown as MilvusClient;
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (_o: unknown, m: string) => void warnings.push(m),
    error: () => undefined,
  };
  const ctx = { client, options: {}, logger, server: () => Promise.resolve({}) } as unknown as MilvusContext;
  return { ctx, calls: () => calls, warnings };
}

const NODES = new Error('ErrorCode: UnexpectedError. Reason: nodes not enough');

describe('milvus load: no query node yet', () => {
  it('is a transient EngineError', () => {
    const typed = milvusErrors.classify(NODES, 'loadCollection', 'c');
    expect(typed).toBeInstanceOf(EngineError);
    expect((typed as EngineError).category).toBe('transient');
    expect(isNoQueryNode(typed)).toBe(true);
    const status = (() => {
      try {
        milvusErrors.checkStatus(
          { error_code: 'UnexpectedError', reason: 'failed to spawn replica: nodes not enough' },
          'loadCollection',
          'c',
        );
      } catch (err) {
        return err;
      }
    })();
    expect((status as EngineError).category).toBe('transient');
  });

  it('loads again until a query node takes it', async () => {
    const { ctx, calls, warnings } = contextAnswering([NODES, NODES, 'ok']);
    await loadCollection(ctx, schema);
    expect(calls()).toBe(3);
    expect(warnings).toHaveLength(2);
  });

  it('any other failure is not retried', async () => {
    const { ctx, calls } = contextAnswering([new Error('ErrorCode: UnexpectedError. Reason: index not found')]);
    await expect(loadCollection(ctx, schema)).rejects.toThrow(/index not found/);
    expect(calls()).toBe(1);
  });
});
