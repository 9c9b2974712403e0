import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../auth/context.ts';
import type { Config } from '../config.ts';
import type { ControllerMetrics } from '../metrics.ts';
import { currentRequestIds } from '../request-context.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { Store } from '../store/types.ts';
import { attachChannel } from './channel.ts';
import { SyncHub } from './hub.ts';
import { registerDataplaneWait } from './wait.ts';

// Wiring of controller<->agent sync into the HTTP app: the hub, the WebSocket channel on the
// app's server (served once the app listens), the wait-for-dataplane hooks, agent presence shared
// with other replicas, and shutdown.

export { SyncHub } from './hub.ts';
export type { DataplaneOutcome } from './hub.ts';
export { DATAPLANE_HEADER, MAX_WAIT_SECONDS } from './wait.ts';

export interface SyncDeps {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  /** Convergence is observed into it, and its agent gauges read the hub. */
  metrics?: ControllerMetrics;
  /** When replicated, agent presence is shared with the other replicas through it. */
  shared?: SharedState;
}

/** Resolves once the hub knows the agents of the other replicas. */
export async function registerSync(app: FastifyInstance, deps: SyncDeps): Promise<SyncHub> {
  const hub = new SyncHub({
    store: deps.store,
    heartbeatInterval: deps.config.agentHeartbeatInterval,
    downTime: deps.config.agentDownTime,
    sendBufferLimit: deps.config.agentSendBufferLimit,
    dhcp: { domain: deps.config.dnsDomain, leaseSeconds: deps.config.dhcpLeaseDuration },
    log: app.log,
    // A commit is made inside one request's handler (the store's listeners run synchronously in it).
    commitRequestIds: currentRequestIds,
    observeConvergence: deps.metrics && ((seconds) => deps.metrics!.convergence.observe(seconds)),
    shared: deps.shared,
    l3FailoverDelayMs: deps.config.l3FenceMs + deps.config.l3FailoverMarginMs,
    l3FailoverMarginMs: deps.config.l3FailoverMarginMs,
  });
  try {
    await hub.start();
  } catch (err) {
    hub.close();
    throw err;
  }
  const store = deps.store;
  deps.metrics?.watch({
    get revision() {
      return store.revision;
    },
    agentStates: () => hub.agentStates(),
  });
  const channel = attachChannel(app.server, hub, deps.authenticator);
  registerDataplaneWait(app, hub);
  // Before the server closes: agents' sockets would otherwise keep it open. Presence stops first,
  // so that the other replicas never hear of these agents as disconnected: they go on to another
  // replica, whose newer sessions replace the ones published here (replica-presence.ts).
  app.addHook('preClose', async () => {
    await hub.stopPresence();
    await channel.close();
  });
  app.addHook('onClose', async () => hub.close());
  return hub;
}
