/**
 * The engine-neutral router against a scripted driver: health transitions, election by epoch,
 * fencing, split brain, the promotion lease across many instances, switchover rollback, options.
 */
import { describe, expect, it } from 'vitest';
import { FailoverRouter, RoutingError, isVectordrError, memoryLease, registerRouterMetrics, withRetry } from '../../src/index.js';
import type { Lease, RouterEvent } from '../../src/index.js';
import { FakeCluster } from '../helpers/fake-cluster.js';
import { initialHealth, nextHealth } from '../../src/router/endpoint-health.js';
import * as prom from 'prom-client';
import { until as waitUntil } from '../helpers/wait.js';

const fast = {
  probeIntervalMs: 50,
  fastProbeIntervalMs: 10,
  probeTimeoutMs: 40,
  failThreshold: 2,
  recoverThreshold: 2,
  startTimeoutMs: 1000,
};

/** The scripted cluster answers in a millisecond: wait at most 3 s, polling every 5 ms. */
const until = (cond: () => boolean, ms = 3000): Promise<void> => waitUntil(cond, ms, 'condition', 5);

describe('endpoint health state machine', () => {
  const t = { failThreshold: 3, recoverThreshold: 2 };
  it('goes up, suspect, down, recovering, up', () => {
    let s = nextHealth(initialHealth, true, t);
    expect(s.health).toBe('up');
    s = nextHealth(s, false, t);
    expect(s.health).toBe('suspect');
    s = nextHealth(s, true, t);
    expect(s.health).toBe('up');
    s = nextHealth(nextHealth(nextHealth(s, false, t), false, t), false, t);
    expect(s.health).toBe('down');
    s = nextHealth(s, true, t);
    expect(s.health).toBe('recovering');
    s = nextHealth(s, false, t);
    expect(s.health).toBe('down'); // a flap while recovering starts over
    s = nextHealth(nextHealth(s, true, t), true, t);
    expect(s.health).toBe('up');
  });
  it('an endpoint never reached stays unknown until the threshold, then is down', () => {
    let s = nextHealth(initialHealth, false, t);
    expect(s.health).toBe('unknown');
    s = nextHealth(nextHealth(s, false, t), false, t);
    expect(s.health).toBe('down');
  });
});

describe('FailoverRouter (scripted driver)', () => {
  it('finds the primary, follows an external promotion, fences the returning old primary', async () => {
    const c = FakeCluster.primaryAndStandby(1, 100n, 90n);
    const r = new FailoverRouter(c.driver(), ['a', 'b'], fast);
    const events: RouterEvent[] = [];
    r.on((e) => events.push(e));
    expect(await r.start()).toBe('a');
    c.kill('a');
    await until(() => r.primary === undefined);
    c.set('b', 'primary', 2, 95n); // an operator promoted b
    await until(() => r.primary === 'b');
    c.set('a', 'primary', 1, 120n); // a comes back, on the old timeline, with writes b never saw
    await until(() => r.status().endpoints.find((e) => e.name === 'a')?.fenced === 'older-epoch');
    expect(r.primary).toBe('b');
    expect(events.some((e) => e.type === 'primary-changed' && e.to === 'b' && e.cause === 'followed')).toBe(true);
    expect(r.status().failovers).toBe(1);
    // Rebuilt as a standby of b, it is a member again.
    c.set('a', 'standby', 2, 95n);
    await until(() => r.status().endpoints.find((e) => e.name === 'a')?.fenced === undefined);
    expect(r.readableStandbys()).toEqual(['a']);
    await r.close();
  });

  it('a burst of failure reports cannot make an endpoint down faster than the fast probe interval allows', async () => {
    const c = new FakeCluster();
    c.set('a', 'primary', 1, 100n);
    const r = new FailoverRouter(c.driver(), ['a'], {
      ...fast,
      fastProbeIntervalMs: 50,
      failThreshold: 3,
      probeIntervalMs: 5000,
      probeTimeoutMs: 40,
    });
    let downAt = 0;
    r.on((e) => {
      if (e.type === 'endpoint-health' && e.to === 'down') downAt = performance.now();
    });
    await r.start();
    c.kill('a');
    const t0 = performance.now();
    const burst = setInterval(() => {
      for (let i = 0; i < 20; i++) r.reportFailure('a');
    }, 1);
    await until(() => downAt > 0);
    clearInterval(burst);
    // Three failed probes, at least 50 ms apart: not the 3 ms a burst of immediate re-probes would take.
    expect(downAt - t0).toBeGreaterThanOrEqual(95);
    expect(downAt - t0).toBeLessThan(400);
    await r.close();
  });

  it('never routes to two primaries on the same epoch', async () => {
    const c = FakeCluster.primaryAndStandby(3, 100n, 100n);
    const r = new FailoverRouter(c.driver(), ['a', 'b'], fast);
    const events: RouterEvent[] = [];
    r.on((e) => events.push(e));
    await r.start();
    c.set('b', 'primary', 3, 100n);
    await until(() => events.some((e) => e.type === 'split-brain'));
    expect(r.primary).toBe('a');
    await until(() => r.status().endpoints.find((e) => e.name === 'b')?.fenced === 'split-brain');
    // The current one dies: the other same-epoch primary stays fenced (its writes may have diverged).
    c.kill('a');
    await until(() => r.status().endpoints.find((e) => e.name === 'a')?.health === 'down');
    await new Promise((res) => setTimeout(res, 100));
    expect(r.primary).toBeUndefined();
    r.unfence('b');
    await until(() => r.primary === 'b');
    await r.close();
  });

  it('an endpoint of another cluster is misconfigured, never routed to', async () => {
    const c = new FakeCluster();
    c.set('a', 'primary', 1, 100n);
    c.set('x', 'standby', 1, 100n, 'other');
    const r = new FailoverRouter(c.driver(), ['a', 'x'], fast);
    await r.start();
    await until(() => r.status().endpoints.find((e) => e.name === 'x')?.misconfigured !== undefined);
    expect(r.status().endpoints.find((e) => e.name === 'x')?.misconfigured).toMatch(/another cluster/);
    expect(r.readableStandbys()).toEqual([]);
    await r.close();
  });

  it('five instances sharing a lease promote exactly once, the most advanced standby', async () => {
    const c = new FakeCluster();
    c.set('a', 'primary', 1, 200n);
    c.set('b', 'standby', 1, 150n);
    c.set('c', 'standby', 1, 180n);
    const lease = memoryLease();
    const routers = Array.from(
      { length: 5 },
      (_, i) => new FailoverRouter(c.driver(), ['a', 'b', 'c'], { ...fast, mode: 'promote', lease, instanceId: `app-${i}` }),
    );
    const promoted: string[] = [];
    for (const r of routers) r.on((e) => e.type === 'promoted' && promoted.push(e.endpoint));
    await Promise.all(routers.map((r) => r.start()));
    c.kill('a');
    await until(() => routers.every((r) => r.primary === 'c'));
    await new Promise((res) => setTimeout(res, 200));
    expect(c.promotions).toEqual(['c']);
    expect(promoted).toEqual(['c']);
    expect(routers.every((r) => r.primary === 'c')).toBe(true);
    await Promise.all(routers.map((r) => r.close()));
  });

  it('without a shared lease the instances could promote twice: the lease is what prevents it', async () => {
    const c = new FakeCluster();
    c.set('a', 'primary', 1, 200n);
    c.set('b', 'standby', 1, 150n);
    c.set('c', 'standby', 1, 150n);
    // Both promotions take effect only once both have begun: on a loaded machine one router could
    // otherwise see the other's promotion first and follow it (one promotion, and nothing shown).
    c.promoteBarrier = 2;
    // Each instance gets its own lease and sees a different candidate first (endpoint order).
    const r1 = new FailoverRouter(c.driver(), ['a', 'b', 'c'], { ...fast, mode: 'promote', lease: memoryLease() });
    const r2 = new FailoverRouter(c.driver(), ['a', 'c', 'b'], { ...fast, mode: 'promote', lease: memoryLease() });
    await Promise.all([r1.start(), r2.start()]);
    c.kill('a');
    await until(() => c.promotions.length >= 2 || (r1.primary !== undefined && r2.primary !== undefined));
    await new Promise((res) => setTimeout(res, 200));
    // Two promotions happened, but neither router routes to both: the epochs differ, one is fenced.
    expect(c.promotions.length).toBe(2);
    expect(r1.primary).toBe(r2.primary);
    await Promise.all([r1.close(), r2.close()]);
  });

  it('a lease held by a dead instance expires, then another instance promotes', async () => {
    let now = 1_000_000;
    const lease = memoryLease(() => now);
    expect((await lease.acquire('k', 'dead', 15_000)).acquired).toBe(true);
    expect((await lease.acquire('k', 'me', 15_000)).acquired).toBe(false);
    now += 15_001;
    const g = await lease.acquire('k', 'me', 15_000);
    expect(g).toEqual({ acquired: true, holder: 'me', epoch: 2 });
    await lease.release('k', 'me');
    expect((await lease.acquire('k', 'other', 1000)).epoch).toBe(3);
  });

  it('a failed promotion is reported and retried', async () => {
    const c = FakeCluster.primaryAndStandby(1, 100n, 100n);
    c.promoteFails = true;
    const r = new FailoverRouter(c.driver(), ['a', 'b'], { ...fast, mode: 'promote', lease: memoryLease() });
    const failed: string[] = [];
    r.on((e) => e.type === 'failover-failed' && failed.push(e.error));
    await r.start();
    c.kill('a');
    await until(() => failed.length >= 1);
    c.promoteFails = false;
    await until(() => r.primary === 'b');
    await r.close();
  });

  it('switchover fences, waits for catch-up, promotes; a failed one unfences and keeps the primary', async () => {
    const c = FakeCluster.primaryAndStandby(1, 100n, 100n);
    const r = new FailoverRouter(c.driver(), ['a', 'b'], fast);
    await r.start();
    // b stops replaying below a's final position: the switchover times out and rolls back.
    c.set('b', 'standby', 1, 90n);
    await expect(r.switchover('b', { timeoutMs: 100, maxLagBytes: 1000 })).rejects.toMatchObject({ code: 'SWITCHOVER_REFUSED' });
    expect(c.unfences).toEqual(['a']);
    expect(r.primary).toBe('a');
    c.set('b', 'standby', 1, 100n);
    await r.switchover('b');
    expect(c.fences).toEqual(['a', 'a']);
    expect(r.primary).toBe('b');
    await until(() => r.status().endpoints.find((e) => e.name === 'a')?.fenced !== undefined);
    await expect(r.switchover('b')).rejects.toMatchObject({ code: 'SWITCHOVER_REFUSED' });
    await r.close();
  });

  it('start fails with NO_PRIMARY naming each endpoint; work waits for a primary, then fails retryably', async () => {
    const c = new FakeCluster();
    c.kill('a');
    c.set('b', 'standby', 1, 1n);
    const r = new FailoverRouter(c.driver(), ['a', 'b'], { ...fast, startTimeoutMs: 200 });
    const err = await r.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoutingError);
    expect((err as RoutingError).code).toBe('NO_PRIMARY');
    expect((err as RoutingError).retryable).toBe(true);
    expect((err as Error).message).toMatch(/a: down \(unreachable: ECONNREFUSED\); b: up standby/);
    // Retryable: once a primary exists, start() again (here through withRetry) succeeds.
    setTimeout(() => c.set('a', 'primary', 1, 2n), 300);
    expect(await withRetry(() => r.start(), { attempts: 5, baseDelayMs: 1 })).toBe('a');
    await r.close();

    const c2 = new FakeCluster();
    c2.set('a', 'primary', 1, 1n);
    const r2 = new FailoverRouter(c2.driver(), ['a'], { ...fast, acquireTimeoutMs: 100, errorWaitMs: 100 });
    await r2.start();
    c2.kill('a');
    await until(() => r2.primary === undefined);
    await expect(r2.waitForPrimary()).rejects.toMatchObject({ code: 'NO_PRIMARY', category: 'transient' });
    const named = await r2.failedUnder('a', new Error('Connection terminated'), 'unknown');
    expect(named).toMatchObject({ code: 'PRIMARY_UNAVAILABLE', endpoint: 'a', newPrimary: undefined, outcome: 'unknown' });
    await r2.close();
  });

  it('validates options with messages that say what to change', () => {
    const d = new FakeCluster().driver();
    const msg = (o: object, eps = ['a']): string => {
      try {
        new FailoverRouter(d, eps, o);
      } catch (e) {
        expect(isVectordrError(e, 'INVALID_OPTIONS')).toBe(true);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(msg({ probeIntervalMs: 100, probeTimeoutMs: 500 })).toMatch(/probeTimeoutMs must not exceed probeIntervalMs/);
    expect(msg({ probeTimeoutMs: 1 })).toMatch(/probeTimeoutMs/);
    expect(msg({ mode: 'promote' })).toMatch(/promote mode needs a lease/);
    expect(msg({}, [])).toMatch(/at least one endpoint/);
    expect(msg({}, ['a', 'a'])).toMatch(/unique/);
    expect(msg({ name: 'postgres://u:p@h/db' })).toMatch(/never a URL/);
  });

  it('exports Prometheus metrics without URLs', async () => {
    const c = FakeCluster.primaryAndStandby(1, 5000n, 4000n);
    const r = new FailoverRouter(c.driver(), ['a', 'b'], { ...fast, name: 'rag' });
    const registry = new prom.Registry();
    registerRouterMetrics(r, { prom, registry });
    await r.start();
    await until(() => r.status().endpoints.every((e) => e.health === 'up'));
    c.kill('a');
    await until(() => r.primary === undefined);
    c.set('b', 'primary', 2, 4100n);
    await until(() => r.primary === 'b');
    const text = await registry.metrics();
    expect(text).toMatch(/vectordr_router_endpoint_up\{router="rag",endpoint="b"\} 1/);
    expect(text).toMatch(/vectordr_router_endpoint_role\{router="rag",endpoint="b",role="primary"\} 1/);
    expect(text).toMatch(/vectordr_router_failovers_total\{router="rag",kind="followed"\} 1/);
    expect(text).toMatch(/vectordr_router_primary_present\{router="rag"\} 1/);
    expect(text).toMatch(/vectordr_router_no_primary_seconds_total\{router="rag"\} [0-9.e-]+/);
    await r.close();
  });

  it('withRetry retries retryable errors only', async () => {
    let n = 0;
    const out = await withRetry(
      async () => {
        n++;
        if (n < 3) throw new RoutingError('NO_PRIMARY', 'none yet', { outcome: 'not-applied' });
        return 'done';
      },
      { baseDelayMs: 1 },
    );
    expect([out, n]).toEqual(['done', 3]);
    let m = 0;
    await expect(
      withRetry(async () => {
        m++;
        throw new Error('a bug');
      }),
    ).rejects.toThrow('a bug');
    expect(m).toBe(1);
  });

  it('a lease that throws leaves the router following, and it retries', async () => {
    const c = FakeCluster.primaryAndStandby(1, 100n, 100n);
    let calls = 0;
    const broken: Lease = {
      acquire: async () => {
        calls++;
        throw new Error('witness unreachable');
      },
      release: async () => undefined,
    };
    const r = new FailoverRouter(c.driver(), ['a', 'b'], { ...fast, mode: 'promote', lease: broken });
    await r.start();
    c.kill('a');
    await until(() => calls >= 2);
    expect(c.promotions).toEqual([]);
    expect(r.primary).toBeUndefined();
    await r.close();
  });
});
