/**
 * The engine-neutral failover router: probes every endpoint, runs each one's health state machine,
 * decides which endpoint is the one primary, fences stale primaries, promotes a standby (promote
 * mode, under a lease) and answers "where do I send this?". What a probe, a promotion or a fence
 * means for an engine lives in a `RouterDriver` (PostgreSQL: `adapters/pgvector/pgvector-router-driver.ts`).
 *
 * Invariants:
 * - at most one endpoint is the primary at any time, and it is on the highest epoch (PostgreSQL:
 *   timeline) this router has seen;
 * - a primary on an older epoch, or a second primary on the same epoch, is fenced: no work is routed
 *   to it until it comes back as a standby (or `unfence()` is called);
 * - promote mode promotes only when no endpoint that might still be the primary is reachable, only
 *   while holding the cluster's lease, and only a standby of the same cluster (PostgreSQL: system
 *   identifier), the most advanced one.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AbortedError, InvalidInputError, RoutingError, VectordrError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { displayOnly } from '../display.js';
import type { Logger } from '../logger.js';
import { initialHealth, nextHealth } from './endpoint-health.js';
import type { EndpointHealth, HealthState } from './endpoint-health.js';
import { EndpointNameSchema, RouterCoreOptionsSchema } from './router-options.js';
import type { ResolvedRouterCoreOptions, RouterCoreOptions } from './router-options.js';

/** What one successful probe saw. */
export interface EndpointObservation {
  role: 'primary' | 'standby';
  /** Identifies the cluster (PostgreSQL: `system_identifier`); endpoints of another cluster are misconfigured. */
  clusterId: string;
  /** Increases with every promotion (PostgreSQL: the timeline). A standby reports the one it replays. */
  epoch: number;
  /** Replication position (PostgreSQL: current WAL LSN on a primary, replay LSN on a standby). */
  position: bigint;
  /** Time since the last replayed transaction (standbys; grows when the primary is idle). */
  replayLagMs?: number;
  /** A primary that refuses writes (fenced read-only). */
  readOnly: boolean;
  version: string;
}

/** Why a probe failed: `misconfigured` endpoints (not the engine, extension missing, another cluster) are never routed to. */
export type ProbeFailureKind = 'unreachable' | 'timeout' | 'misconfigured';

export class ProbeError extends Error {
  constructor(
    readonly kind: ProbeFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProbeError';
  }
}

/** The engine-specific half of a router. */
export interface RouterDriver {
  readonly engine: string;
  /** Throws `ProbeError`; must settle within `timeoutMs`. */
  probe(endpoint: string, timeoutMs: number): Promise<EndpointObservation>;
  promote(endpoint: string): Promise<void>;
  /** Makes the endpoint refuse writes from every client, and ends other sessions. */
  fence?(endpoint: string): Promise<void>;
  /** Undoes `fence`. */
  unfence?(endpoint: string): Promise<void>;
  close(): Promise<void>;
}

/** Why the primary changed: first found, lost, promoted by this router, switched over, or found elsewhere (an external promotion). */
export type PrimaryChangeCause = 'initial' | 'lost' | 'promoted' | 'switchover' | 'followed';

export type FenceReason = 'older-epoch' | 'split-brain' | 'switchover';

export interface EndpointStatus {
  name: string;
  health: EndpointHealth;
  role: 'primary' | 'standby' | 'unknown';
  epoch?: number;
  position?: bigint;
  /** Bytes behind the primary (standbys, when a primary is known). */
  lagBytes?: number;
  replayLagMs?: number;
  fenced?: FenceReason;
  misconfigured?: string;
  lastError?: string;
  /** Duration of the last probe. */
  probeMs?: number;
}

export interface RouterStatus {
  primary: string | undefined;
  /** Highest epoch (timeline) seen on a primary. */
  epoch: number;
  /** Times the primary changed to a different endpoint (promoted by this router, switched over, or followed). */
  failovers: number;
  /** Since when there has been no primary (epoch ms), if there is none now. */
  noPrimarySince: number | undefined;
  /** Total time without a primary since `start()`, including the current stretch. */
  noPrimaryMs: number;
  endpoints: EndpointStatus[];
}

export type RouterEvent =
  | { type: 'endpoint-health'; endpoint: string; from: EndpointHealth; to: EndpointHealth; error?: string }
  | { type: 'role-changed'; endpoint: string; from: EndpointStatus['role']; to: EndpointStatus['role']; epoch: number }
  | { type: 'primary-changed'; from: string | undefined; to: string | undefined; epoch: number; cause: PrimaryChangeCause }
  | { type: 'fenced'; endpoint: string; reason: FenceReason; epoch: number; primaryEpoch: number }
  | { type: 'unfenced'; endpoint: string }
  | { type: 'misconfigured'; endpoint: string; reason: string }
  | { type: 'split-brain'; endpoints: string[]; epoch: number }
  | { type: 'failover-started'; from: string | undefined }
  | { type: 'failover-deferred'; holder: string }
  | { type: 'promoted'; endpoint: string; epoch: number; lostBytesAtLeast: number | undefined; elapsedMs: number }
  | { type: 'failover-failed'; error: string }
  | { type: 'switchover'; from: string; to: string; elapsedMs: number };

interface EndpointState {
  readonly name: string;
  readonly order: number;
  health: HealthState;
  obs: EndpointObservation | undefined;
  fenced: { reason: FenceReason; epoch: number } | undefined;
  /** `probe`: the probe reported it (cleared by a good probe); `cluster`: another cluster's endpoint (stays). */
  misconfigured: { reason: string; source: 'probe' | 'cluster' } | undefined;
  lastError: string | undefined;
  probeMs: number | undefined;
  timer: NodeJS.Timeout | undefined;
  probing: Promise<void> | undefined;
  reprobe: boolean;
  lastProbeStart: number;
}

interface Waiter {
  exclude: string | undefined;
  resolve: (name: string) => void;
}

export class FailoverRouter {
  readonly options: ResolvedRouterCoreOptions;
  readonly instanceId: string;
  private readonly driver: RouterDriver;
  private readonly logger: Logger;
  private readonly eps: EndpointState[];
  private readonly emitter = new EventEmitter();
  private readonly waiters = new Set<Waiter>();
  private primaryName: string | undefined;
  private lastPrimary: string | undefined;
  /** Set just before a promotion this router made is observed. */
  private nextCause: PrimaryChangeCause | undefined;
  private lastPrimaryPosition: bigint | undefined;
  private maxEpoch = 0;
  private clusterId: string | undefined;
  private failovers = 0;
  private noPrimarySince: number | undefined = Date.now();
  private noPrimaryMsTotal = 0;
  private failoverRunning = false;
  private lastFailoverAttempt = 0;
  private paused = false;
  private started = false;
  private closed = false;

  constructor(driver: RouterDriver, endpoints: readonly string[], options: RouterCoreOptions = {}) {
    const parsed = RouterCoreOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        `Invalid router options: ` + `${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
        { plugin: driver.engine },
      );
    }
    if (endpoints.length === 0)
      throw new InvalidInputError('INVALID_OPTIONS', 'A router needs at least one endpoint.', { plugin: driver.engine });
    for (const name of endpoints) {
      const ok = EndpointNameSchema.safeParse(name);
      if (!ok.success)
        throw new InvalidInputError(
          'INVALID_OPTIONS',
          `Invalid endpoint name ${JSON.stringify(name.slice(0, 80))}: ` + `${ok.error.issues[0]?.message ?? 'invalid'}.`,
          { plugin: driver.engine },
        );
    }
    if (new Set(endpoints).size !== endpoints.length)
      throw new InvalidInputError('INVALID_OPTIONS', `Endpoint names must be unique (got ${endpoints.join(', ')}).`, {
        plugin: driver.engine,
      });
    this.options = parsed.data;
    this.driver = driver;
    displayOnly(this, 'FailoverRouter', () => ({ engine: driver.engine, endpoints: [...endpoints], primary: this.primary }));
    this.logger = parsed.data.logger ?? silentLogger;
    this.instanceId = parsed.data.instanceId ?? randomUUID();
    this.eps = endpoints.map((name, order) => ({
      name,
      order,
      health: initialHealth,
      obs: undefined,
      fenced: undefined,
      misconfigured: undefined,
      lastError: undefined,
      probeMs: undefined,
      timer: undefined,
      probing: undefined,
      reprobe: false,
      lastProbeStart: 0,
    }));
    // Listeners are the application's; an 'error' event name is never emitted.
    this.emitter.setMaxListeners(100);
  }

  /** Subscribes to every state change; returns the unsubscribe function. */
  on(listener: (event: RouterEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /**
   * Probes every endpoint and waits (up to `startTimeoutMs`) for a primary; keeps probing in the
   * background afterwards. Fails with `NO_PRIMARY` (retryable) naming what each endpoint looked
   * like, and stops probing; `start()` may then be called again.
   */
  async start(signal?: AbortSignal): Promise<string> {
    if (this.closed)
      throw new InvalidInputError('INVALID_OPTIONS', 'This router is closed; create a new one.', { plugin: this.driver.engine });
    if (this.started)
      throw new InvalidInputError('INVALID_OPTIONS', 'This router has already been started.', { plugin: this.driver.engine });
    this.started = true;
    this.noPrimarySince = Date.now();
    for (const ep of this.eps) void this.probeNow(ep);
    try {
      return await this.waitForPrimary({ timeoutMs: this.options.startTimeoutMs, signal });
    } catch (err) {
      if (err instanceof RoutingError) {
        const e = new RoutingError(
          'NO_PRIMARY',
          `No primary among ${this.eps.length} endpoint(s) after ${this.options.startTimeoutMs} ms: ` +
            `${this.describeEndpoints()}. Check the endpoints' addresses and that one of them is a ` +
            `primary; call start() again to keep trying (withRetry does), or raise ` +
            `startTimeoutMs${this.anyTimedOut() ? `, or probeTimeoutMs (${this.options.probeTimeoutMs} ms) if the network is slower than that` : ''}.`,
          { outcome: 'not-applied' },
          {
            plugin: this.driver.engine,
            details: {
              endpoints: this.status().endpoints.map((x) => ({
                name: x.name,
                health: x.health,
                role: x.role,
                lastError: x.lastError,
                misconfigured: x.misconfigured,
              })),
            },
          },
        );
        await this.stopProbing();
        throw e;
      }
      await this.stopProbing();
      throw err;
    }
  }

  /** After a failed start: no background probes until start() is called again. */
  private async stopProbing(): Promise<void> {
    this.started = false;
    for (const ep of this.eps) clearTimeout(ep.timer);
    await Promise.allSettled(this.eps.map((e) => e.probing));
    for (const ep of this.eps) clearTimeout(ep.timer);
  }

  /** The endpoint writes go to now, if any. */
  get primary(): string | undefined {
    return this.paused ? undefined : this.primaryName;
  }

  /**
   * Resolves with the primary's name as soon as there is one (other than `exclude`); rejects with
   * a retryable `NO_PRIMARY` after `timeoutMs`.
   */
  waitForPrimary(opts: { timeoutMs?: number; signal?: AbortSignal; exclude?: string } = {}): Promise<string> {
    const cur = this.primary;
    if (cur !== undefined && cur !== opts.exclude) return Promise.resolve(cur);
    if (this.closed)
      return Promise.reject(
        new RoutingError('NO_PRIMARY', 'The router is closed.', { outcome: 'not-applied' }, { plugin: this.driver.engine }),
      );
    const timeoutMs = opts.timeoutMs ?? this.options.acquireTimeoutMs;
    return new Promise<string>((resolve, reject) => {
      const waiter: Waiter = {
        exclude: opts.exclude,
        resolve: (name) => {
          cleanup();
          resolve(name);
        },
      };
      const onAbort = (): void => {
        cleanup();
        reject(new AbortedError(undefined, { cause: opts.signal?.reason }));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new RoutingError(
            'NO_PRIMARY',
            `No primary for ${timeoutMs} ms (${this.describeEndpoints()}); the work was not sent. ` +
              `Retry later, or raise acquireTimeoutMs to wait longer.`,
            { outcome: 'not-applied' },
            { plugin: this.driver.engine },
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /**
   * Work on `endpoint` failed in a way that suggests the endpoint is gone: probe it soon (see
   * `nudge`), and build the retryable error for the caller, naming the new
   * primary if one takes over within `errorWaitMs`.
   */
  async failedUnder(endpoint: string, cause: unknown, outcome: 'not-applied' | 'unknown'): Promise<RoutingError> {
    const ep = this.eps.find((e) => e.name === endpoint);
    if (ep !== undefined) this.nudge(ep);
    let newPrimary: string | undefined;
    try {
      newPrimary = await this.waitForPrimary({ timeoutMs: this.options.errorWaitMs, exclude: endpoint });
    } catch {
      newPrimary = undefined;
    }
    const what =
      outcome === 'unknown' ? 'the work may or may not have been applied (retry it only if it is idempotent)' : 'the work was not applied';
    const where = newPrimary === undefined ? 'no new primary yet' : `the primary is now "${newPrimary}"`;
    return new RoutingError(
      'PRIMARY_UNAVAILABLE',
      `Endpoint "${endpoint}" failed under the work (${errorText(cause)}); ${what}; ${where}.`,
      { endpoint, newPrimary, outcome },
      { plugin: this.driver.engine, cause },
    );
  }

  /** Probe the endpoint soon (work on it just failed, or its connection broke). */
  reportFailure(endpoint: string): void {
    const ep = this.eps.find((e) => e.name === endpoint);
    if (ep !== undefined) this.nudge(ep);
  }

  /**
   * Standbys a read may go to: healthy, same cluster and epoch as the primary, within `maxLagBytes`
   * of it (by the last probes). Least lag first. None while there is no primary (lag unknown).
   */
  readableStandbys(opts: { maxLagBytes?: number } = {}): string[] {
    const maxLag = BigInt(opts.maxLagBytes ?? this.options.maxLagBytes);
    const primary = this.eps.find((e) => e.name === this.primaryName);
    const out: { name: string; lag: bigint }[] = [];
    for (const e of this.eps) {
      if (e.obs?.role !== 'standby' || e.health.health !== 'up' || e.misconfigured !== undefined || e.obs.clusterId !== this.clusterId)
        continue;
      if (primary?.obs === undefined) continue; // no primary: lag unknown, and a standby of a lost primary may be about to be promoted
      if (e.obs.epoch !== primary.obs.epoch) continue;
      const lag = behind(primary.obs.position, e.obs.position);
      if (lag <= maxLag) out.push({ name: e.name, lag });
    }
    out.sort((a, b) => (a.lag < b.lag ? -1 : a.lag > b.lag ? 1 : 0));
    return out.map((o) => o.name);
  }

  /** The last observed position of an endpoint (PostgreSQL: LSN). */
  positionOf(endpoint: string): bigint | undefined {
    return this.eps.find((e) => e.name === endpoint)?.obs?.position;
  }

  status(): RouterStatus {
    const primary = this.eps.find((e) => e.name === this.primaryName);
    return {
      primary: this.primary,
      epoch: this.maxEpoch,
      failovers: this.failovers,
      noPrimarySince: this.primary === undefined ? this.noPrimarySince : undefined,
      noPrimaryMs: this.noPrimaryMsTotal + (this.noPrimarySince !== undefined ? Date.now() - this.noPrimarySince : 0),
      endpoints: this.eps.map((e) => {
        const s: EndpointStatus = {
          name: e.name,
          health: e.health.health,
          role: e.health.health === 'down' ? 'unknown' : (e.obs?.role ?? 'unknown'),
        };
        if (e.obs !== undefined) {
          s.epoch = e.obs.epoch;
          s.position = e.obs.position;
          if (e.obs.replayLagMs !== undefined) s.replayLagMs = e.obs.replayLagMs;
          if (e.obs.role === 'standby' && primary?.obs !== undefined) s.lagBytes = Number(behind(primary.obs.position, e.obs.position));
        }
        if (e.fenced !== undefined) s.fenced = e.fenced.reason;
        if (e.misconfigured !== undefined) s.misconfigured = e.misconfigured.reason;
        if (e.lastError !== undefined) s.lastError = e.lastError;
        if (e.probeMs !== undefined) s.probeMs = e.probeMs;
        return s;
      }),
    };
  }

  /**
   * Planned switchover to `target`, a caught-up standby (failback after a failover, once the old
   * site has been rebuilt as a standby): new work waits; the primary is fenced read-only (its other
   * sessions end); the target replays up to the primary's final position; the target is promoted;
   * the old primary stays fenced until it is rebuilt as a standby. If any step before the promotion
   * fails, the old primary is unfenced and keeps its role.
   */
  async switchover(target: string, opts: { timeoutMs?: number; maxLagBytes?: number } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const started = performance.now();
    const fence = this.driver.fence?.bind(this.driver);
    const unfence = this.driver.unfence?.bind(this.driver);
    if (fence === undefined || unfence === undefined)
      throw new VectordrError(
        'UNSUPPORTED_OPERATION',
        'unsupported',
        `The ${this.driver.engine} router cannot fence a primary, so it cannot switch over safely.`,
        { plugin: this.driver.engine },
      );
    const from = this.primary;
    if (from === undefined)
      throw new VectordrError(
        'SWITCHOVER_REFUSED',
        'conflict',
        'There is no primary to switch over from; wait for one (or let promote mode fail over).',
        { plugin: this.driver.engine },
      );
    const t = this.eps.find((e) => e.name === target);
    if (t === undefined)
      throw new InvalidInputError(
        'INVALID_OPTIONS',
        `Unknown endpoint "${target}" (endpoints: ${this.eps.map((e) => e.name).join(', ')}).`,
        { plugin: this.driver.engine },
      );
    if (t.name === from)
      throw new VectordrError('SWITCHOVER_REFUSED', 'conflict', `"${target}" is already the primary.`, { plugin: this.driver.engine });
    await this.probeNow(t);
    const lagLimit = opts.maxLagBytes ?? this.options.maxLagBytes;
    if (!this.readableStandbys({ maxLagBytes: lagLimit }).includes(target)) {
      const st = this.status().endpoints.find((e) => e.name === target);
      throw new VectordrError(
        'SWITCHOVER_REFUSED',
        'conflict',
        `"${target}" is not a caught-up standby of "${from}" (health ${st?.health}, role ` +
          `${st?.role}${st?.lagBytes !== undefined ? `, ${st.lagBytes} bytes behind` : ''}${st?.misconfigured !== undefined ? `, ${st.misconfigured}` : ''}); ` +
          `rebuild it as a standby of the primary and wait until it streams.`,
        { plugin: this.driver.engine },
      );
    }
    const src = this.eps.find((e) => e.name === from) as EndpointState;
    this.paused = true;
    let promoted = false;
    try {
      await fence(from);
      src.fenced = { reason: 'switchover', epoch: src.obs?.epoch ?? this.maxEpoch };
      this.emit({ type: 'fenced', endpoint: from, reason: 'switchover', epoch: src.fenced.epoch, primaryEpoch: this.maxEpoch });
      const final = await this.driver.probe(from, this.options.probeTimeoutMs);
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const obs = await this.driver.probe(target, this.options.probeTimeoutMs);
        if (obs.role === 'standby' && obs.position >= final.position) break;
        if (performance.now() > deadline)
          throw new VectordrError(
            'SWITCHOVER_REFUSED',
            'transient',
            `"${target}" did not replay up to the primary's final position within ${timeoutMs} ms; ` + `"${from}" stays the primary.`,
            { plugin: this.driver.engine },
          );
        await new Promise((r) => setTimeout(r, 10));
      }
      await this.driver.promote(target);
      promoted = true;
      this.nextCause = 'switchover';
      await this.probeNow(t);
      this.emit({ type: 'switchover', from, to: target, elapsedMs: Math.round(performance.now() - started) });
    } catch (err) {
      if (!promoted) {
        await unfence(from).catch((e: unknown) =>
          this.logger.error({ endpoint: from, err: errorText(e) }, 'vectordr router: could not unfence after a failed switchover'),
        );
        src.fenced = undefined;
        this.emit({ type: 'unfenced', endpoint: from });
        await this.probeNow(src); // its last observation says read-only
      }
      throw err;
    } finally {
      this.paused = false;
      this.elect();
    }
  }

  /** Clears a fence set by this router (after you have checked the endpoint by hand). */
  unfence(endpoint: string): void {
    const ep = this.eps.find((e) => e.name === endpoint);
    if (ep?.fenced === undefined) return;
    ep.fenced = undefined;
    this.emit({ type: 'unfenced', endpoint });
    this.elect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ep of this.eps) clearTimeout(ep.timer);
    await Promise.allSettled(this.eps.map((e) => e.probing));
    await this.driver.close();
  }

  // ---- probing ----

  /** Probes every endpoint now and waits for all of them. */
  async probeAll(): Promise<void> {
    await Promise.all(this.eps.map((e) => this.probeNow(e)));
  }

  private probeNow(ep: EndpointState): Promise<void> {
    clearTimeout(ep.timer);
    ep.timer = undefined;
    if (ep.probing !== undefined) {
      ep.reprobe = true; // the probe in flight may have started before whatever prompted this one
      return ep.probing;
    }
    ep.lastProbeStart = performance.now();
    ep.probing = this.runProbe(ep).finally(() => {
      ep.probing = undefined;
      if (this.closed || !this.started) return;
      const again = ep.reprobe;
      ep.reprobe = false;
      const failing = ep.health.consecutiveFailures > 0;
      const delay = again
        ? failing
          ? this.options.fastProbeIntervalMs
          : 0
        : ep.health.health === 'up'
          ? this.options.probeIntervalMs
          : this.options.fastProbeIntervalMs;
      ep.timer = setTimeout(() => void this.probeNow(ep), delay);
      ep.timer.unref();
    });
    return ep.probing;
  }

  /**
   * Something suggests the endpoint failed (a broken connection, failing work): probe it soon.
   * Such signals come in bursts (every failing call sends one), so while it is failing probes stay
   * `fastProbeIntervalMs` apart: `failThreshold` failures take at least
   * (failThreshold − 1) × fastProbeIntervalMs, and a blip of a few milliseconds cannot make a
   * primary `down` (and, in promote mode, trigger a promotion).
   */
  private nudge(ep: EndpointState): void {
    if (this.closed) return;
    if (ep.probing !== undefined) {
      ep.reprobe = true;
      return;
    }
    const wait = ep.health.consecutiveFailures > 0 ? ep.lastProbeStart + this.options.fastProbeIntervalMs - performance.now() : 0;
    if (wait <= 0) {
      void this.probeNow(ep);
      return;
    }
    clearTimeout(ep.timer);
    ep.timer = setTimeout(() => void this.probeNow(ep), wait);
    ep.timer.unref();
  }

  private async runProbe(ep: EndpointState): Promise<void> {
    const t0 = performance.now();
    let obs: EndpointObservation | undefined;
    let failure: ProbeError | undefined;
    try {
      obs = await this.driver.probe(ep.name, this.options.probeTimeoutMs);
    } catch (err) {
      failure = err instanceof ProbeError ? err : new ProbeError('unreachable', errorText(err), { cause: err });
    }
    ep.probeMs = Math.round(performance.now() - t0);
    if (this.closed) return;
    const before = ep.health.health;
    ep.health = nextHealth(ep.health, obs !== undefined, this.options);
    if (obs !== undefined) {
      const prevRole = ep.health.health === 'down' ? 'unknown' : (ep.obs?.role ?? 'unknown');
      ep.obs = obs;
      ep.lastError = undefined;
      if (ep.misconfigured?.source === 'probe') ep.misconfigured = undefined;
      if (prevRole !== obs.role) this.emit({ type: 'role-changed', endpoint: ep.name, from: prevRole, to: obs.role, epoch: obs.epoch });
    } else if (failure !== undefined) {
      ep.lastError = `${failure.kind}: ${failure.message}`;
      if (failure.kind === 'misconfigured' && ep.misconfigured?.reason !== failure.message)
        this.markMisconfigured(ep, failure.message, 'probe');
    }
    const after = ep.health.health;
    if (before !== after) {
      this.emit({
        type: 'endpoint-health',
        endpoint: ep.name,
        from: before,
        to: after,
        ...(ep.lastError !== undefined ? { error: ep.lastError } : {}),
      });
      this.logger.info({ endpoint: ep.name, from: before, to: after, error: ep.lastError }, 'vectordr router: endpoint health changed');
    }
    this.elect();
  }

  // ---- election ----

  private elect(): void {
    if (this.closed) return;
    const live = this.eps.filter((e) => e.obs !== undefined && e.health.health !== 'down' && e.misconfigured === undefined);
    if (this.clusterId === undefined) {
      const firstPrimary = live.filter((e) => e.obs?.role === 'primary').sort((a, b) => (b.obs?.epoch ?? 0) - (a.obs?.epoch ?? 0))[0];
      this.clusterId = (firstPrimary ?? live[0])?.obs?.clusterId;
    }
    for (const e of live) {
      if (e.obs !== undefined && this.clusterId !== undefined && e.obs.clusterId !== this.clusterId) {
        this.markMisconfigured(e, `belongs to another cluster (identifier ${e.obs.clusterId}, the others ${this.clusterId})`, 'cluster');
      }
    }
    const members = live.filter((e) => e.misconfigured === undefined);
    const primaries = members.filter((e) => e.obs?.role === 'primary');
    for (const p of primaries) this.maxEpoch = Math.max(this.maxEpoch, p.obs?.epoch ?? 0);

    // A fenced endpoint that came back as a standby (rebuilt), or was promoted past the epoch it was
    // fenced at and is now the newest, is a normal member again. Split-brain fences stay until unfence().
    for (const e of members) {
      if (e.fenced === undefined || e.obs === undefined) continue;
      const cleared =
        e.obs.role === 'standby' || (e.fenced.reason !== 'split-brain' && e.obs.epoch > e.fenced.epoch && e.obs.epoch >= this.maxEpoch);
      if (cleared) {
        e.fenced = undefined;
        this.emit({ type: 'unfenced', endpoint: e.name });
      }
    }
    for (const p of primaries) {
      if ((p.obs?.epoch ?? 0) < this.maxEpoch && p.fenced === undefined) this.fence(p, 'older-epoch');
    }
    const top = primaries.filter(
      (p) =>
        p.fenced === undefined &&
        p.obs?.epoch === this.maxEpoch &&
        p.obs.readOnly === false &&
        (p.health.health === 'up' || p.health.health === 'suspect'),
    );
    let next: EndpointState | undefined;
    if (top.length <= 1) {
      next = top[0];
    } else {
      const current = top.find((p) => p.name === this.primaryName);
      this.emit({ type: 'split-brain', endpoints: top.map((p) => p.name), epoch: this.maxEpoch });
      this.logger.error(
        { endpoints: top.map((p) => p.name), epoch: this.maxEpoch },
        'vectordr router: two primaries on the same epoch; writing to neither but the current one',
      );
      for (const p of top) if (p !== current) this.fence(p, 'split-brain');
      next = current;
    }
    this.setPrimary(next);
    if (next === undefined) this.maybeFailover();
  }

  private markMisconfigured(ep: EndpointState, reason: string, source: 'probe' | 'cluster'): void {
    ep.misconfigured = { reason, source };
    this.emit({ type: 'misconfigured', endpoint: ep.name, reason });
    this.logger.error({ endpoint: ep.name, reason }, 'vectordr router: endpoint misconfigured; never routed to');
  }

  private fence(ep: EndpointState, reason: FenceReason): void {
    ep.fenced = { reason, epoch: ep.obs?.epoch ?? 0 };
    this.emit({ type: 'fenced', endpoint: ep.name, reason, epoch: ep.fenced.epoch, primaryEpoch: this.maxEpoch });
    this.logger.warn(
      { endpoint: ep.name, reason, epoch: ep.fenced.epoch, primaryEpoch: this.maxEpoch },
      'vectordr router: endpoint fenced (no work is routed to it)',
    );
    if (this.options.fence === 'read-only' && this.driver.fence !== undefined) {
      this.driver
        .fence(ep.name)
        .catch((err: unknown) =>
          this.logger.error({ endpoint: ep.name, err: errorText(err) }, 'vectordr router: could not make a fenced endpoint read-only'),
        );
    }
  }

  private setPrimary(ep: EndpointState | undefined): void {
    if (ep?.obs !== undefined) this.lastPrimaryPosition = ep.obs.position;
    const name = ep?.name;
    if (name === this.primaryName) {
      this.notifyWaiters();
      return;
    }
    const from = this.primaryName;
    this.primaryName = name;
    let cause: PrimaryChangeCause;
    if (name === undefined) cause = 'lost';
    else if (this.lastPrimary === undefined) cause = 'initial';
    else cause = this.nextCause ?? 'followed';
    this.nextCause = undefined;
    if (name === undefined) {
      this.noPrimarySince = Date.now();
    } else {
      if (this.noPrimarySince !== undefined) this.noPrimaryMsTotal += Date.now() - this.noPrimarySince;
      this.noPrimarySince = undefined;
      // A different primary than the last one (directly, or after a stretch without) is a failover.
      if (this.lastPrimary !== undefined && this.lastPrimary !== name) this.failovers++;
      this.lastPrimary = name;
    }
    this.emit({ type: 'primary-changed', from, to: name, epoch: this.maxEpoch, cause });
    this.logger.info({ from, to: name, epoch: this.maxEpoch }, 'vectordr router: primary changed');
    this.notifyWaiters();
  }

  private notifyWaiters(): void {
    const p = this.primary;
    if (p === undefined) return;
    for (const w of [...this.waiters]) if (w.exclude !== p) w.resolve(p);
  }

  // ---- promotion ----

  private maybeFailover(): void {
    if (this.options.mode !== 'promote' || this.failoverRunning || this.closed || this.paused || !this.started) return;
    if (Date.now() - this.lastFailoverAttempt < this.options.fastProbeIntervalMs * this.options.failThreshold) return;
    if (this.primaryMayBeReachable()) return;
    if (this.promotable().length === 0) return;
    void this.runFailover();
  }

  /** Anything that might still be the primary (not down, not known to be a standby) blocks a promotion. */
  private primaryMayBeReachable(): boolean {
    return this.eps.some(
      (e) => e.misconfigured === undefined && e.fenced === undefined && e.health.health !== 'down' && e.obs?.role !== 'standby',
    );
  }

  private promotable(): EndpointState[] {
    return this.eps
      .filter(
        (e) =>
          e.obs?.role === 'standby' &&
          e.health.health === 'up' &&
          e.misconfigured === undefined &&
          e.fenced === undefined &&
          e.obs.clusterId === this.clusterId,
      )
      .sort((a, b) => {
        const pa = a.obs?.position ?? 0n;
        const pb = b.obs?.position ?? 0n;
        return pa > pb ? -1 : pa < pb ? 1 : a.order - b.order;
      });
  }

  private async runFailover(): Promise<void> {
    this.failoverRunning = true;
    const started = performance.now();
    const lease = this.options.lease;
    try {
      if (lease === undefined || this.clusterId === undefined) return;
      this.emit({ type: 'failover-started', from: this.lastPrimary });
      const grant = await lease.acquire(`vectordr-router:${this.clusterId}`, this.instanceId, this.options.leaseTtlMs);
      if (!grant.acquired) {
        this.emit({ type: 'failover-deferred', holder: grant.holder });
        return;
      }
      // A fresh look under the lease: another instance may have promoted already, or the primary be back.
      await this.probeAll();
      if (this.primaryName !== undefined || this.closed) return;
      if (this.primaryMayBeReachable()) return;
      const target = this.promotable()[0];
      if (target?.obs === undefined) return;
      const lost = this.lastPrimaryPosition === undefined ? undefined : Number(behind(this.lastPrimaryPosition, target.obs.position));
      this.logger.warn({ endpoint: target.name, lostBytesAtLeast: lost }, 'vectordr router: promoting the most advanced standby');
      await this.driver.promote(target.name);
      this.nextCause = 'promoted';
      await this.probeNow(target);
      this.emit({
        type: 'promoted',
        endpoint: target.name,
        epoch: target.obs?.epoch ?? 0,
        lostBytesAtLeast: lost,
        elapsedMs: Math.round(performance.now() - started),
      });
    } catch (err) {
      this.emit({ type: 'failover-failed', error: errorText(err) });
      this.logger.error({ err: errorText(err) }, 'vectordr router: failover failed; will retry');
    } finally {
      this.failoverRunning = false;
      this.lastFailoverAttempt = Date.now();
    }
  }

  // ---- helpers ----

  private emit(event: RouterEvent): void {
    try {
      this.emitter.emit('event', event);
    } catch (err) {
      this.logger.error({ err: errorText(err), event: event.type }, 'vectordr router: an event listener threw');
    }
  }

  private anyTimedOut(): boolean {
    return this.eps.some((e) => e.lastError?.startsWith('timeout') === true);
  }

  private describeEndpoints(): string {
    return this.eps
      .map((e) => {
        if (e.misconfigured !== undefined) return `${e.name}: misconfigured (${e.misconfigured.reason})`;
        if (e.fenced !== undefined) return `${e.name}: fenced (${e.fenced.reason})`;
        if (e.health.health === 'down' || e.obs === undefined)
          return `${e.name}: ${e.health.health}${e.lastError !== undefined ? ` (${e.lastError})` : ''}`;
        return `${e.name}: ${e.health.health} ${e.obs.role}${e.obs.readOnly ? ' read-only' : ''}`;
      })
      .join('; ');
  }
}

/** Bytes `position` is behind `ahead` (0 when it is not: e.g. the standby was probed later than the primary). */
function behind(ahead: bigint, position: bigint): bigint {
  return ahead > position ? ahead - position : 0n;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
