/** `engineRead`: a read the engine may be asked again is retried on a transient error, and only then. */
import { describe, expect, it } from 'vitest';
import { type EngineErrorClassifier, engineRead } from '../../src/engine-errors.js';
import { EngineError } from '../../src/errors.js';

const classifier: EngineErrorClassifier = {
  classify: (err, what) =>
    new EngineError(
      `${what}: ${String((err as Error).message)}`,
      /fetch failed/.test(String((err as Error).message)) ? 'transient' : 'permanent',
    ),
};

describe('engineRead', () => {
  it('retries a transient failure (a dropped connection) and returns the answer', async () => {
    let calls = 0;
    const got = await engineRead(classifier, 'scroll', 'c', async () => {
      if (++calls < 3) throw new TypeError('fetch failed');
      return 'page';
    });
    expect(got).toBe('page');
    expect(calls).toBe(3);
  });

  it('throws a permanent failure at once, and a transient one after its attempts, typed', async () => {
    let calls = 0;
    await expect(
      engineRead(classifier, 'scroll', 'c', async () => {
        calls++;
        throw new Error('bad request');
      }),
    ).rejects.toMatchObject({ category: 'permanent' });
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      engineRead(
        classifier,
        'scroll',
        'c',
        async () => {
          calls++;
          throw new TypeError('fetch failed');
        },
        { attempts: 2 },
      ),
    ).rejects.toMatchObject({ category: 'transient' });
    expect(calls).toBe(2);
  });

  it('does not retry once aborted (the failure is thrown as it was)', async () => {
    const ac = new AbortController();
    let calls = 0;
    const p = engineRead(
      classifier,
      'scroll',
      'c',
      async () => {
        calls++;
        ac.abort();
        throw new TypeError('fetch failed');
      },
      { signal: ac.signal },
    );
    await expect(p).rejects.toMatchObject({ category: 'transient' });
    expect(calls).toBe(1);
  });
});
