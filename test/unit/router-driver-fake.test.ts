/**
 * The RouterDriver conformance suite on the scripted cluster the router-core tests use: the
 * reference every engine's driver is held to. The loopback fixtures are not dialled: the fake's
 * nodes play them (killed, stalled, misconfigured).
 */
import { FailoverRouter } from '../../src/index.js';
import type { EndpointObservation } from '../../src/index.js';
import { endpointsByRole, type ReportedRole, type RoutedWork, testRouterDriver } from '../conformance/router-driver-suite.js';
import { FakeCluster } from '../helpers/fake-cluster.js';

const fast = { probeIntervalMs: 200, fastProbeIntervalMs: 20, probeTimeoutMs: 200, failThreshold: 2, startTimeoutMs: 2000 };

/** Work "runs" where the core sends it; the endpoint reports its role as the cluster has it. */
function fakeRoute(c: FakeCluster, endpoints: string[]): RoutedWork {
  const core = new FailoverRouter(c.driver(), endpoints, fast);
  const roleOf = (name: string): ReportedRole => (c.nodes.get(name)?.obs as EndpointObservation).role;
  const onPrimary = async (): Promise<ReportedRole> => roleOf(await core.waitForPrimary());
  return {
    core,
    start: () => core.start(),
    write: onPrimary,
    session: onPrimary,
    readPreferStandby: async () => roleOf(core.readableStandbys()[0] ?? (await core.waitForPrimary())),
    close: () => core.close(),
  };
}

testRouterDriver({
  name: 'fake cluster (test/helpers/fake-cluster.ts)',
  capabilities: { fence: true, detectsForeignProtocol: true },
  mayFence: true,
  probeTimeoutMs: 200,
  create: async () => {
    const c = new FakeCluster();
    c.set('primary', 'primary', 1, 1000n);
    c.set('standby', 'standby', 1, 900n);
    c.kill('dead');
    c.stall('silent');
    c.misconfigure('foreign', 'does not speak the protocol');
    c.set('read-only-primary', 'primary', 1, 1000n);
    (c.nodes.get('read-only-primary') as { readOnly?: boolean }).readOnly = true;
    c.set('other-cluster', 'primary', 1, 50n, 'c2');
    const obs = (name: string): EndpointObservation => c.nodes.get(name)?.obs as EndpointObservation;
    // The standby replays what the primary writes, a moment later.
    const replay = setInterval(() => {
      obs('standby').position = obs('primary').position;
    }, 20);
    return {
      endpoints: endpointsByRole(true),
      driver: () => c.driver(),
      advance: async () => {
        obs('primary').position += 4096n;
      },
      route: (endpoints) => fakeRoute(c, endpoints),
      cleanup: async () => clearInterval(replay),
    };
  },
});
