import type { UnderlayMessage } from '../../schemas/agent/channel.ts';
import type { HaLegsDown } from '../../schemas/api/agent-identity.ts';
import type { Store } from '../store/types.ts';
import { GatewayFailover, type FailoverLog } from './gateway-failover.ts';
import { UnderlayFailover } from './underlay-failover.ts';

// The hub's two reasons to move HA routers off a gateway host, side by side: its agent is lost
// (gateway-failover.ts: channel closed or heartbeats stopped), or its peers lost it on the underlay
// (underlay-failover.ts: BFD reports). The liveness path never promotes a standby the underlay path
// holds dead; both are fed from the same session events, here. An agent that says it is leaving
// (clean stop) has its routers handed over at once, and is no target for either path until it
// registers again (it is not alive from its `leaving` on, hub.ts, and published so to the other
// replicas); a dead-man watcher's confirmation that a dead agent's legs are down cuts the
// liveness path's delay short (gateway-failover.ts).

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
  /**
   * HA routers were moved off `host` (either path, whether or not it had any): the agents are told,
   * so that a survivor does not count it in its own isolation majority (lostHostsMessage).
   */
  hostLost?: (host: string) => void;
}

type Runtime = { host: string; agentId: string; underlay?: { down: string[]; silent: boolean } };

export class HubFailovers {
  private readonly liveness: GatewayFailover;
  private readonly underlay: UnderlayFailover;

  constructor(private readonly o: HubFailoversOptions) {
    const onFailover = (host: string) => o.hostLost?.(host);
    this.underlay = new UnderlayFailover({ store: o.store, marginMs: o.marginMs, log: o.log, agentAlive: o.agentAlive, onFailover });
    this.liveness = new GatewayFailover({
      store: o.store, delayMs: o.delayMs, log: o.log, checkEveryMs: Math.max(100, Math.min(1000, o.downMs / 4)),
      agentAlive: o.agentAlive, underlayDead: (host) => this.underlay.isDead(host), silent: o.silent, onFailover,
    });
  }

  /** The agent of `runtime.host` is stopping cleanly, its HA routers silent: they move now. */
  leaving(runtime: Runtime): Promise<Map<string, string>> {
    this.o.log.info({ host: runtime.host, agent: runtime.agentId }, 'agent leaving, its HA routers silent: handing them over');
    return this.liveness.handover(runtime.host);
  }

  /**
   * The dead-man watcher of `host` set its HA legs down. Acted on at once when its agent is not
   * alive anywhere; while it is still heard (`connectedHere`: its channel is open on this replica,
   * or another replica shows it alive), held, and acted on if the agent is lost within
   * CONFIRMATION_HOLD_MS (gateway-failover.ts).
   */
  async legsDown(host: string, agentId: string, connectedHere: boolean): Promise<{ action: HaLegsDown['action']; reason?: string; routers?: Record<string, string> }> {
    // Its close not yet noticed here, or not yet published by the replica holding its session.
    if (connectedHere || this.o.agentAlive(agentId)) {
      this.liveness.holdConfirmation(host);
      const where = connectedHere ? 'connected to this controller' : 'alive on another controller replica';
      return { action: 'held', reason: `its agent is ${where}: its HA routers move if it is lost within 1 s` };
    }
    this.o.log.info({ host, agent: agentId }, 'dead-man watcher confirms the HA legs are down');
    return { action: 'failed_over', routers: Object.fromEntries(await this.liveness.legsDown(host, agentId)) };
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
