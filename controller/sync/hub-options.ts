import type { SharedState } from '../store/shared-state.ts';
import type { Store } from '../store/types.ts';

// What a SyncHub (hub.ts) is built with.

export interface SyncLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SyncHubOptions {
  store: Store;
  /** Seconds between heartbeats, told to agents in the welcome. */
  heartbeatInterval: number;
  /** Seconds without a heartbeat after which an agent is not alive. */
  downTime: number;
  /** Bytes queued on a connection beyond which it falls behind (and later gets a fresh snapshot). */
  sendBufferLimit: number;
  /** DHCP settings told to agents in the welcome. */
  dhcp?: { domain: string; leaseSeconds: number };
  log?: SyncLogger;
  /** Milliseconds an agent has to say hello after connecting (default 10 s). */
  helloTimeoutMs?: number;
  /** Milliseconds to wait for the store to reach the revision an agent resumes from (default 2 s); then a snapshot. */
  resumeCatchUpMs?: number;
  now?: () => number;
  /**
   * The API request ids behind the commit being streamed, sent to the agents with its changes so
   * that their logs name them. Called synchronously in the store's commit listener.
   */
  commitRequestIds?: () => readonly string[] | undefined;
  /** Seconds from a streamed commit until every agent it was sent to has applied it (see convergence.ts). */
  observeConvergence?: (seconds: number) => void;
  /** State shared with other replicas: when it is replicated, agent presence is shared through it (start()). */
  shared?: SharedState;
  /** Milliseconds from losing an agent to moving its HA routers (l3FenceMs + margin; gateway-failover.ts). Absent: none. */
  l3FailoverDelayMs?: number;
  /** l3FailoverMarginMs: from a gateway host found cut off from the underlay to moving its HA routers (underlay-failover.ts). */
  l3FailoverMarginMs?: number;
}
