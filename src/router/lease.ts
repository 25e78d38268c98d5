/**
 * A lease guards a promotion: many application instances each run a router, and only the one that
 * holds the lease for a cluster may promote a standby. The others keep following and discover the
 * new primary with their next probe. A lease expires on its own (`ttlMs`), so an instance that dies
 * mid-failover does not block the next one for longer than that.
 *
 * Implementations must make `acquire` atomic across every instance that shares the lease (one
 * process: `memoryLease()`; many: `pgLease()` from `vectordr/adapters/pgvector`, or your own over
 * etcd, Consul, Kubernetes Lease objects, DynamoDB conditional writes ...).
 */
export interface LeaseGrant {
  acquired: boolean;
  /** Who holds it now (this holder when acquired). */
  holder: string;
  /** Incremented by every change of holder: a fencing token for the promotion it guards. */
  epoch: number;
}

export interface Lease {
  /** Takes the lease when it is free or expired, or renews it when `holder` already holds it. */
  acquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant>;
  /** Gives it up early when `holder` holds it; a no-op otherwise. */
  release(name: string, holder: string): Promise<void>;
}

/**
 * A lease in this process's memory: for routers that share one process (tests, one app instance
 * with several routers). Pass the same object to every router that must not promote twice.
 */
export function memoryLease(now: () => number = Date.now): Lease {
  const held = new Map<string, { holder: string; epoch: number; expiresAt: number }>();
  return {
    acquire(name, holder, ttlMs) {
      const t = now();
      const cur = held.get(name);
      if (cur !== undefined && cur.expiresAt > t && cur.holder !== holder) {
        return Promise.resolve({ acquired: false, holder: cur.holder, epoch: cur.epoch });
      }
      const epoch = cur === undefined ? 1 : cur.holder === holder ? cur.epoch : cur.epoch + 1;
      held.set(name, { holder, epoch, expiresAt: t + ttlMs });
      return Promise.resolve({ acquired: true, holder, epoch });
    },
    release(name, holder) {
      const cur = held.get(name);
      if (cur?.holder === holder) cur.expiresAt = 0; // the epoch stays: the next holder gets a higher one
      return Promise.resolve();
    },
  };
}
