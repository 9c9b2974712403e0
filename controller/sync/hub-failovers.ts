import type { UnderlayMessage } from '../../schemas/agent/channel.ts';
import type { Store } from '../store/types.ts';
import { GatewayFailover, type FailoverLog } from './gateway-failover.ts';
import { UnderlayFailover } from './underlay-failover.ts';

// The hub's two reasons to move HA routers off a gateway host, side by side: its agent is lost
// (gateway-failover.ts: channel closed or heartbeats stopped), or its peers lost it on the underlay
// (underlay-failover.ts: BFD reports). The liveness path never promotes a standby the underlay path
// holds dead; both are fed from the same session events, here.

export interface HubFailoversOptions {
  store: Store;
  /** l3FenceMs + l3FailoverMarginMs. */
  delayMs: number;
  /** l3FailoverMarginMs. */
  marginMs: number;
  /** The agent down time: silent agents are looked for a few times within it. */
  downMs: number;
  log: FailoverLog;
  agentAlive: (agentId: string) => boolean;
  /** The agents connected here that stopped heartbeating for the down time. */
  silent: () => Array<{ host: string; agentId: string }>;
}

type Runtime = { host: string; agentId: string; underlay?: { down: string[]; silent: boolean } };

export class HubFailovers {
  private readonly liveness: GatewayFailover;
  private readonly underlay: UnderlayFailover;

  constructor(o: HubFailoversOptions) {
    this.underlay = new UnderlayFailover({ store: o.store, marginMs: o.marginMs, log: o.log, agentAlive: o.agentAlive });
    this.liveness = new GatewayFailover({
      store: o.store, delayMs: o.delayMs, log: o.log, checkEveryMs: Math.max(100, Math.min(1000, o.downMs / 4)),
      agentAlive: o.agentAlive, underlayDead: (host) => this.underlay.isDead(host), silent: o.silent,
    });
  }

  heartbeat(agentId: string): void {
    this.liveness.heartbeat(agentId);
  }

  /** An agent's BFD report; true: what this replica publishes about it changed. */
  underlayReport(runtime: Runtime, message: UnderlayMessage): boolean {
    return this.underlay.fromAgent(runtime, message);
  }

  /** The agent's channel here closed. */
  lost(runtime: Runtime): void {
    this.liveness.lost(runtime.host, runtime.agentId);
    this.underlay.agentGone(runtime);
  }

  /** Other replicas' presence changed (the alive agents they publish); `connectedHere`: hosts with a session here. */
  remoteChanged(alive: Array<{ agentId: string; host: string; underlayDown?: string[]; underlaySilent?: boolean }>, connectedHere: (host: string) => boolean): void {
    this.liveness.remoteChanged(alive);
    this.underlay.remoteChanged(alive, connectedHere);
  }

  close(): void {
    this.liveness.close();
    this.underlay.close();
  }
}
