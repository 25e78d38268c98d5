import { describe, expect, it } from 'vitest';
import { PendingWrites } from '../../adapters/weaviate/weaviate-pending-writes.js';

/** A request the test answers by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('PendingWrites (weaviate write pipeline)', () => {
  it('keeps at most `limit` requests in flight and returns once a request is sent', async () => {
    const p = new PendingWrites(2);
    const reqs = [deferred(), deferred(), deferred()];
    let sent = 0;
    await p.add(['a'], () => (sent++, (reqs[0] as ReturnType<typeof deferred>).promise));
    await p.add(['b'], () => (sent++, (reqs[1] as ReturnType<typeof deferred>).promise));
    const third = p.add(['c'], () => (sent++, (reqs[2] as ReturnType<typeof deferred>).promise));
    await tick();
    expect(sent).toBe(2);
    reqs[0]?.resolve();
    await third;
    expect(sent).toBe(3);
    reqs[1]?.resolve();
    reqs[2]?.resolve();
    await p.settle();
    expect(p.sending).toBe(false);
  });

  it('writes a marker only after every request sent before it was answered, in order', async () => {
    const p = new PendingWrites(4);
    const r1 = deferred();
    const r2 = deferred();
    const written: string[] = [];
    await p.add(['a'], () => r1.promise);
    p.queueMarker(async () => void written.push('m1'));
    await p.add(['b'], () => r2.promise);
    p.queueMarker(async () => void written.push('m2'));
    r2.resolve();
    await tick();
    expect(written).toEqual([]); // m1 waits for r1; m2 waits behind m1
    r1.resolve();
    await p.settle();
    expect(written).toEqual(['m1', 'm2']);
  });

  it('sends a write of an id still in flight only after that request was answered', async () => {
    const p = new PendingWrites(4);
    const r1 = deferred();
    const order: string[] = [];
    await p.add(['x', 'y'], async () => {
      await r1.promise;
      order.push('first');
    });
    const second = p.add(['y'], async () => void order.push('second'));
    await tick();
    expect(order).toEqual([]);
    r1.resolve();
    await second;
    await p.settle();
    expect(order).toEqual(['first', 'second']);
  });

  it('throws a failed request once, from the next call, and writes no marker behind it', async () => {
    const p = new PendingWrites(4);
    const r1 = deferred();
    const written: string[] = [];
    await p.add(['a'], () => r1.promise);
    p.queueMarker(async () => void written.push('m1'));
    r1.reject(new Error('refused'));
    await tick();
    await expect(p.add(['b'], async () => undefined)).rejects.toThrow('refused');
    await p.settle(); // reported once
    expect(written).toEqual([]);
  });

  it('reports a failed marker write from settle', async () => {
    const p = new PendingWrites(4);
    p.queueMarker(() => Promise.reject(new Error('marker down')));
    await expect(p.settle()).rejects.toThrow('marker down');
  });
});
