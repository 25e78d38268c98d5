/**
 * The RouterDriver conformance suite: every engine's `RouterDriver` (src/router/router.ts) runs
 * exactly these cases, and so does the engine's router over it when the harness offers one. What a
 * case expects is decided by the declared capabilities, never by the driver's name.
 *
 * The suite only reads: it probes and opens sessions. It never promotes, kills or rebuilds a node
 * (those are the engine's own router tests), and fences only a primary the harness declares the
 * suite's own (`mayFence`). A dead endpoint is a closed loopback port; a silent one and one that
 * speaks another protocol are loopback listeners the suite opens (`LoopbackFixtures`).
 *
 *   testRouterDriver({ name: 'fake cluster', capabilities: { fence: true, detectsForeignProtocol: true }, create: async (fixtures) => harness })
 */
import { type Server, type Socket, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverRouter, ProbeError } from '../../src/index.js';
import type { EndpointObservation, RouterDriver } from '../../src/index.js';
import { until } from '../helpers/wait.js';

/** What a driver implements beyond the required methods, and what it can tell apart. */
export interface RouterDriverCapabilities {
  /** `fence` and `unfence` are implemented (they come together). */
  fence: boolean;
  /** A listener that speaks another protocol fails a probe as `misconfigured` (else any `ProbeError` kind). */
  detectsForeignProtocol: boolean;
}

export interface LoopbackAddress {
  host: string;
  port: number;
}

/** Loopback endpoints the suite opens for the failure cases; a harness turns them into its own endpoint addresses. */
export interface LoopbackFixtures {
  /** Nothing listens there (a port the suite opened and closed again). */
  dead: LoopbackAddress;
  /** Accepts connections and never sends a byte. */
  silent: LoopbackAddress;
  /** Answers whatever it is sent with an HTTP 400, then closes: another protocol. */
  foreign: LoopbackAddress;
}

/** Endpoint names the harness's drivers know, by what is there. */
export interface RouterDriverEndpoints {
  /** The cluster's primary, accepting writes. */
  primary: string;
  /** A standby streaming from `primary`. */
  standby: string;
  /** `LoopbackFixtures.dead`. */
  dead: string;
  /** `LoopbackFixtures.silent`. */
  silent: string;
  /** `LoopbackFixtures.foreign`. */
  foreign: string;
  /** The primary, seen by a client it refuses writes to (PostgreSQL: default_transaction_read_only for the session). */
  readOnlyPrimary?: string;
  /** A member of another cluster. */
  otherCluster?: string;
}

/**
 * The endpoints named after what is there ('primary', 'read-only-primary', ...), for a harness whose
 * driver finds each address by that name; with `otherCluster` when the harness has such a member.
 */
export function endpointsByRole(otherCluster: boolean): RouterDriverEndpoints {
  return {
    primary: 'primary',
    standby: 'standby',
    dead: 'dead',
    silent: 'silent',
    foreign: 'foreign',
    readOnlyPrimary: 'read-only-primary',
    ...(otherCluster ? { otherCluster: 'other-cluster' } : {}),
  };
}

export type ReportedRole = EndpointObservation['role'];

/** The engine's router over its driver (pgRouter, ...), reduced to where work runs. */
export interface RoutedWork {
  readonly core: FailoverRouter;
  /** Starts the router; resolves with the primary's endpoint name. */
  start(): Promise<string>;
  /** One statement through the write path; the role the endpoint that ran it reports for itself. */
  write(): Promise<ReportedRole>;
  /** A session (connection) acquired for the primary, one statement on it, released; the role it reports. */
  session(): Promise<ReportedRole>;
  /** One statement through the read path, preferring a standby; the role it reports. */
  readPreferStandby(): Promise<ReportedRole>;
  close(): Promise<void>;
}

export interface RouterDriverHarness {
  endpoints: RouterDriverEndpoints;
  /** A new driver over every endpoint above; the suite closes each one it makes. */
  driver(): RouterDriver;
  /** Moves the primary's replication position forward without touching application data. */
  advance(): Promise<void>;
  /** The engine's router over a new driver, for the named endpoints (from `endpoints`). */
  route?(endpoints: string[]): RoutedWork;
  cleanup(): Promise<void>;
}

export interface RouterDriverSuiteOptions {
  name: string;
  capabilities: RouterDriverCapabilities;
  create(fixtures: LoopbackFixtures): Promise<RouterDriverHarness>;
  /**
   * The harness's primary belongs to the suite: it may be fenced and unfenced. Never on shared
   * servers (a fence ends every other session there).
   * @default false
   */
  mayFence?: boolean;
  /** The probe timeout the cases give. @default 1000 */
  probeTimeoutMs?: number;
}

/** What "within the probe timeout" allows for timers and a busy event loop. */
const slackMs = (timeoutMs: number): number => Math.max(250, timeoutMs / 2);

async function listen(server: Server): Promise<LoopbackAddress> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('a loopback listener has no port');
  return { host: '127.0.0.1', port: a.port };
}

async function openFixtures(): Promise<{ fixtures: LoopbackFixtures; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (sock: Socket): void => {
    sockets.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
  };
  const closed = createServer();
  const dead = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const silent = createServer(track);
  const foreign = createServer((sock) => {
    track(sock);
    sock.once('data', () => sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
  });
  const fixtures = { dead, silent: await listen(silent), foreign: await listen(foreign) };
  return {
    fixtures,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([silent, foreign].map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
    },
  };
}

/** The probe's error, and how long it took to settle. */
async function failedProbe(d: RouterDriver, endpoint: string, timeoutMs: number): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  const err = await d.probe(endpoint, timeoutMs).then(
    (obs) => new Error(`the probe of "${endpoint}" succeeded: ${JSON.stringify({ ...obs, position: String(obs.position) })}`),
    (e: unknown) => e,
  );
  return { err, ms: performance.now() - t0 };
}

/** A driver that refuses to promote or fence (the suite never does either on a shared cluster), and counts attempts. */
function readOnlyDriver(inner: RouterDriver): RouterDriver & { attempts: string[] } {
  const attempts: string[] = [];
  const refuse = (what: string) => async (endpoint: string) => {
    attempts.push(`${what} ${endpoint}`);
    throw new Error(`the conformance suite does not ${what}`);
  };
  return {
    engine: inner.engine,
    attempts,
    probe: (endpoint, timeoutMs) => inner.probe(endpoint, timeoutMs),
    promote: refuse('promote'),
    ...(inner.fence !== undefined ? { fence: refuse('fence') } : {}),
    ...(inner.unfence !== undefined ? { unfence: refuse('unfence') } : {}),
    close: () => inner.close(),
  };
}

export function testRouterDriver(options: RouterDriverSuiteOptions): void {
  const caps = options.capabilities;
  const timeout = options.probeTimeoutMs ?? 1000;

  describe(`router driver conformance: ${options.name}`, () => {
    let fixtures: Awaited<ReturnType<typeof openFixtures>> | undefined;
    let h: RouterDriverHarness;
    let e: RouterDriverEndpoints;
    let d: RouterDriver;
    const open = new Set<RouterDriver>();
    const newDriver = (): RouterDriver => {
      const driver = h.driver();
      open.add(driver);
      return driver;
    };

    beforeAll(async () => {
      fixtures = await openFixtures();
      h = await options.create(fixtures.fixtures);
      e = h.endpoints;
      d = newDriver();
    });
    afterAll(async () => {
      await Promise.allSettled([...open].map((driver) => driver.close()));
      await h?.cleanup();
      await fixtures?.close();
    });

    it('declares what it implements: an engine name, and fence with unfence as the capabilities say', () => {
      expect(typeof d.engine).toBe('string');
      expect(d.engine.length).toBeGreaterThan(0);
      expect(typeof d.promote).toBe('function');
      expect(typeof d.fence === 'function').toBe(caps.fence);
      expect(typeof d.unfence === 'function').toBe(caps.fence);
    });

    it('a probe of the primary reports its role, cluster, epoch, position and version', async () => {
      const p = await d.probe(e.primary, timeout);
      expect(p.role).toBe('primary');
      expect(typeof p.clusterId).toBe('string');
      expect(p.clusterId.length).toBeGreaterThan(0);
      expect(Number.isInteger(p.epoch) && p.epoch >= 0).toBe(true);
      expect(typeof p.position).toBe('bigint');
      expect(p.position >= 0n).toBe(true);
      expect(p.readOnly).toBe(false);
      expect(p.replayLagMs).toBeUndefined(); // a standby's measure
      expect(typeof p.version).toBe('string');
      expect(p.version.length).toBeGreaterThan(0);
    });

    it("a probe of a standby reports the primary's cluster and epoch, and a position not ahead of the primary's", async () => {
      const s = await d.probe(e.standby, timeout);
      const p = await d.probe(e.primary, timeout); // after the standby's: the primary's position can only be further
      expect(s.role).toBe('standby');
      expect(s.clusterId).toBe(p.clusterId);
      expect(s.epoch).toBe(p.epoch);
      expect(typeof s.position).toBe('bigint');
      expect(s.position <= p.position).toBe(true);
      if (s.replayLagMs !== undefined) expect(Number.isInteger(s.replayLagMs) && s.replayLagMs >= 0).toBe(true);
      expect(typeof s.readOnly).toBe('boolean');
    });

    it('repeated probes: the cluster and epoch hold, and no position goes back', async () => {
      for (const endpoint of [e.primary, e.standby]) {
        const seen: EndpointObservation[] = [];
        for (let i = 0; i < 3; i++) seen.push(await d.probe(endpoint, timeout));
        expect(new Set(seen.map((o) => o.clusterId)).size).toBe(1);
        expect(new Set(seen.map((o) => o.epoch)).size).toBe(1);
        expect(new Set(seen.map((o) => o.role)).size).toBe(1);
        for (let i = 1; i < seen.length; i++)
          expect((seen[i] as EndpointObservation).position >= (seen[i - 1] as EndpointObservation).position).toBe(true);
      }
    });

    it('the position moves forward with the primary, and the standby follows to it', async () => {
      /** The endpoint's position once it is past `than` (or the last one seen, after 15 s). */
      const past = async (endpoint: string, than: bigint, orEqual: boolean): Promise<bigint> => {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const at = (await d.probe(endpoint, timeout)).position;
          if (at > than || (orEqual && at === than) || Date.now() > deadline) return at;
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const before = (await d.probe(e.primary, timeout)).position;
      await h.advance();
      const after = await past(e.primary, before, false);
      expect(after > before).toBe(true);
      expect((await past(e.standby, after, true)) >= after).toBe(true);
    });

    it('a primary that refuses writes is reported read-only (the core never elects it)', async (ctx) => {
      if (e.readOnlyPrimary === undefined) ctx.skip();
      const ro = await d.probe(e.readOnlyPrimary as string, timeout);
      const p = await d.probe(e.primary, timeout);
      expect(ro.role).toBe('primary');
      expect(ro.readOnly).toBe(true);
      expect(ro.clusterId).toBe(p.clusterId);
    });

    it('a member of another cluster reports another cluster id (the core marks it misconfigured)', async (ctx) => {
      if (e.otherCluster === undefined) ctx.skip();
      const other = await d.probe(e.otherCluster as string, timeout);
      const p = await d.probe(e.primary, timeout);
      expect(other.clusterId).not.toBe(p.clusterId);
    });

    it('a dead endpoint (a closed loopback port) fails fast, as unreachable', async () => {
      const { err, ms } = await failedProbe(d, e.dead, timeout);
      expect(err).toBeInstanceOf(ProbeError);
      expect((err as ProbeError).kind).toBe('unreachable');
      expect(ms).toBeLessThanOrEqual(timeout + slackMs(timeout));
    });

    it('an endpoint that never answers fails as a timeout, within the probe timeout', async () => {
      const { err, ms } = await failedProbe(d, e.silent, timeout);
      expect(err).toBeInstanceOf(ProbeError);
      expect((err as ProbeError).kind).toBe('timeout');
      expect(ms).toBeLessThanOrEqual(timeout + slackMs(timeout));
    });

    it('an endpoint that speaks another protocol fails (as misconfigured, where the driver can tell)', async () => {
      const { err, ms } = await failedProbe(d, e.foreign, timeout);
      expect(err).toBeInstanceOf(ProbeError);
      if (caps.detectsForeignProtocol) expect((err as ProbeError).kind).toBe('misconfigured');
      expect(ms).toBeLessThanOrEqual(timeout + slackMs(timeout));
    });

    it('every endpoint probed at once (as the core does): each settles within the probe timeout, and the live ones still answer after', async () => {
      const fresh = newDriver();
      const names = [e.primary, e.standby, e.dead, e.silent, e.foreign];
      const t0 = performance.now();
      const results = await Promise.allSettled(names.map((n) => fresh.probe(n, timeout)));
      expect(performance.now() - t0).toBeLessThanOrEqual(timeout + slackMs(timeout));
      const [primary, standby, ...failed] = results;
      expect(primary).toMatchObject({ status: 'fulfilled', value: { role: 'primary' } });
      expect(standby).toMatchObject({ status: 'fulfilled', value: { role: 'standby' } });
      for (const r of failed) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ProbeError);
      }
      expect((await fresh.probe(e.primary, timeout)).role).toBe('primary');
      expect((await fresh.probe(e.standby, timeout)).role).toBe('standby');
    });

    // Only on a primary the harness owns: a fence ends every other session on the endpoint.
    it.skipIf(!caps.fence || options.mayFence !== true)(
      'fence makes the primary refuse writes (reported read-only); unfence undoes it',
      async () => {
        await d.fence?.(e.primary);
        try {
          expect(await d.probe(e.primary, timeout)).toMatchObject({ role: 'primary', readOnly: true });
        } finally {
          await d.unfence?.(e.primary);
        }
        expect(await d.probe(e.primary, timeout)).toMatchObject({ role: 'primary', readOnly: false });
      },
    );

    it('FailoverRouter over the driver (follow mode): elects the primary, reads from the standby, marks the dead endpoint down', async () => {
      const inner = newDriver();
      const driver = readOnlyDriver(inner);
      const names = [e.primary, e.standby, e.dead, ...(e.readOnlyPrimary !== undefined ? [e.readOnlyPrimary] : [])];
      const core = new FailoverRouter(driver, names, {
        mode: 'follow',
        fence: 'route',
        probeIntervalMs: Math.max(200, timeout),
        fastProbeIntervalMs: 50,
        probeTimeoutMs: timeout,
        failThreshold: 2,
        startTimeoutMs: 15_000,
      });
      try {
        expect(await core.start()).toBe(e.primary);
        await until(() => core.readableStandbys().includes(e.standby), 15_000, 'the standby readable');
        await until(() => core.status().endpoints.find((x) => x.name === e.dead)?.health === 'down', 15_000, 'the dead endpoint down');
        const st = core.status();
        expect(st.primary).toBe(e.primary);
        expect(st.endpoints.find((x) => x.name === e.dead)?.lastError).toMatch(/^unreachable: /);
        expect(st.endpoints.find((x) => x.name === e.standby)).toMatchObject({ role: 'standby', health: 'up' });
        expect(driver.attempts).toEqual([]); // never a promotion or a fence
      } finally {
        await core.close(); // closes the driver
        open.delete(inner);
      }
    });

    it("work through the engine's router: writes and sessions run on the primary, standby-preferring reads on the standby", async (ctx) => {
      if (h.route === undefined) ctx.skip();
      const w = (h.route as NonNullable<RouterDriverHarness['route']>)([e.primary, e.standby]);
      try {
        expect(await w.start()).toBe(e.primary);
        expect(await w.write()).toBe('primary');
        expect(await w.session()).toBe('primary');
        await until(() => w.core.readableStandbys().includes(e.standby), 15_000, 'the standby readable');
        expect(await w.readPreferStandby()).toBe('standby');
      } finally {
        await w.close();
      }
    });

    it('close() settles promptly, after probes of live and failing endpoints', async () => {
      const t0 = performance.now();
      await d.close();
      open.delete(d);
      expect(performance.now() - t0).toBeLessThan(timeout + slackMs(timeout));
    });
  });
}
