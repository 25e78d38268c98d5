/**
 * The health state machine of one endpoint, driven by probe results. Pure: the router feeds it
 * outcomes and acts on the state it returns.
 *
 *   unknown ──ok──▶ up ──fail──▶ suspect ──fail × (failThreshold − 1)──▶ down
 *      │             ▲              │ok                                   │ok
 *      └─fail × failThreshold──▶ down ◀──fail── recovering ◀──────────────┘
 *                    └───────── ok × recoverThreshold ─┘
 *
 * `suspect` keeps its role (work is still sent; it fails fast if the endpoint is gone) and is probed
 * at the fast interval; `down` takes it out of routing; `recovering` needs `recoverThreshold`
 * consecutive good probes before it is `up` again, so a flapping endpoint is not routed to.
 */
export type EndpointHealth = 'unknown' | 'up' | 'suspect' | 'down' | 'recovering';

export interface HealthThresholds {
  /** Consecutive failed probes that make an endpoint `down`. */
  failThreshold: number;
  /** Consecutive good probes that bring a `down` endpoint back `up`. */
  recoverThreshold: number;
}

export interface HealthState {
  readonly health: EndpointHealth;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
}

export const initialHealth: HealthState = { health: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 };

export function nextHealth(state: HealthState, ok: boolean, t: HealthThresholds): HealthState {
  if (ok) {
    const successes = state.consecutiveSuccesses + 1;
    let health: EndpointHealth;
    switch (state.health) {
      case 'unknown':
      case 'up':
      case 'suspect':
        health = 'up';
        break;
      case 'down':
      case 'recovering':
        health = successes >= t.recoverThreshold ? 'up' : 'recovering';
        break;
    }
    return { health, consecutiveFailures: 0, consecutiveSuccesses: successes };
  }
  const failures = state.consecutiveFailures + 1;
  let health: EndpointHealth;
  switch (state.health) {
    case 'up':
    case 'suspect':
    case 'unknown':
      health = failures >= t.failThreshold ? 'down' : state.health === 'unknown' ? 'unknown' : 'suspect';
      break;
    case 'recovering':
    case 'down':
      health = 'down';
      break;
  }
  return { health, consecutiveFailures: failures, consecutiveSuccesses: 0 };
}
