/**
 * A scripted cluster for the engine-neutral router: the test sets each node's role, epoch and
 * position (or kills, stalls or misconfigures it), and every driver made by `driver()` probes it.
 * The router-core tests drive `FailoverRouter` with it; the RouterDriver conformance suite runs it as
 * the reference driver (test/unit/router-driver-fake.test.ts).
 */
import { ProbeError } from '../../src/index.js';
import type { EndpointObservation, RouterDriver } from '../../src/index.js';

type Node = { obs?: EndpointObservation; fail?: ProbeError; readOnly?: boolean; stalled?: boolean };

/** A cluster the test edits; every router's probes read it. */
export class FakeCluster {
  nodes = new Map<string, Node>();
  promotions: string[] = [];
  fences: string[] = [];
  unfences: string[] = [];
  promoteFails = false;
  /**
   * When set, each promotion waits until this many have begun (or 5 s have passed) before it takes
   * effect: racing routers then all decide before any sees another's promotion, whatever the timer skew.
   */
  promoteBarrier?: number;
  #promoting = 0;
  #released: (() => void)[] = [];

  /** The usual start: `a` the primary and `b` its standby, on one epoch, at the given positions. */
  static primaryAndStandby(epoch: number, primaryAt: bigint, standbyAt: bigint): FakeCluster {
    const c = new FakeCluster();
    c.set('a', 'primary', epoch, primaryAt);
    c.set('b', 'standby', epoch, standbyAt);
    return c;
  }

  set(name: string, role: 'primary' | 'standby', epoch: number, position: bigint, clusterId = 'c1'): void {
    this.nodes.set(name, { obs: { role, epoch, position, clusterId, readOnly: false, version: 'fake' } });
  }

  kill(name: string): void {
    this.nodes.set(name, { fail: new ProbeError('unreachable', 'ECONNREFUSED') });
  }

  /** The node accepts connections and never answers: a probe fails with `timeout` once its time is up. */
  stall(name: string): void {
    this.nodes.set(name, { stalled: true });
  }

  /** Something that is not a member of this engine listens there. */
  misconfigure(name: string, reason: string): void {
    this.nodes.set(name, { fail: new ProbeError('misconfigured', reason) });
  }

  async #barrier(count: number): Promise<void> {
    this.#promoting++;
    if (this.#promoting >= count) {
      for (const release of this.#released.splice(0)) release();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.#released.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  driver(): RouterDriver {
    return {
      engine: 'fake',
      probe: async (name, timeoutMs) => {
        await new Promise((r) => setTimeout(r, 1));
        const n = this.nodes.get(name);
        if (n?.stalled === true) {
          await new Promise((r) => setTimeout(r, timeoutMs));
          throw new ProbeError('timeout', `no answer within ${timeoutMs} ms`);
        }
        if (n?.fail !== undefined || n?.obs === undefined) throw n?.fail ?? new ProbeError('unreachable', 'no such node');
        return { ...n.obs, readOnly: n.obs.readOnly || n.readOnly === true };
      },
      promote: async (name) => {
        await new Promise((r) => setTimeout(r, 5));
        if (this.promoteBarrier !== undefined) await this.#barrier(this.promoteBarrier);
        if (this.promoteFails) throw new Error('promote failed');
        const n = this.nodes.get(name);
        if (n?.obs?.role !== 'standby') throw new Error(`${name} is not in recovery`);
        this.promotions.push(name);
        const epoch = Math.max(...[...this.nodes.values()].map((x) => x.obs?.epoch ?? 0)) + 1;
        n.obs = { ...n.obs, role: 'primary', epoch };
      },
      fence: async (name) => {
        this.fences.push(name);
        const n = this.nodes.get(name);
        if (n !== undefined) n.readOnly = true;
      },
      unfence: async (name) => {
        this.unfences.push(name);
        const n = this.nodes.get(name);
        if (n !== undefined) n.readOnly = false;
      },
      close: async () => undefined,
    };
  }
}
