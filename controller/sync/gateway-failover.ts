import { agentByHost } from './agents.ts';
import { failoverGatewayHost } from '../domain/l3-scheduler.ts';
import type { Store } from '../store/types.ts';

// Failover of HA routers by the controller's liveness (domain/l3-ha.ts has the model side).
//
// When the agent of a host goes (its channel closes, or it stops heartbeating for the agent down
// time while its socket stays open), the controller waits `delayMs` = l3FenceMs + the margin:
// by then an agent that lost its controller has silenced its active routers itself (agent/l3
// self-fence, after the same l3FenceMs), so the move below never makes two active gateways. Then,
// if the agent is still not alive on any replica (agent presence is merged across replicas,
// liveness.ts: an agent that reconnected elsewhere meanwhile keeps its routers), every HA router
// active on that host switches to its first standby whose agent is alive, in one transaction.
// Several replicas may do it for the same host: the transaction is idempotent (a router already
// moved has nothing bound to the lost host any more). Besides the replica holding an agent's
// session, every replica reacts when another replica's published presence stops showing an agent
// alive (remoteChanged): so a gateway is failed over even when the replica it was connected to
// went down with it (its record then goes when its lease runs out, within the agent down time).
//
// Two signals skip the delay, because they say the old gateway is silent already:
// - handover(): the agent is stopping cleanly and says `leaving` after it has silenced its HA
//   routers itself (agent.ts handOver). It is still alive, so the liveness check does not apply;
//   it is never a target (its host is excluded like a lost one, and the hub reports a leaving
//   agent not alive to the other failovers' target choice).
// - legsDown(): the dead-man watcher of a host whose agent died confirms, with that host's
//   credential, that it set the legs down (api/agent-identity/legs-down.ts). When the agent is not
//   alive the pending timer is cut short; while it is still heard, the confirmation is held
//   (holdConfirmation) and acted on if the agent is lost within CONFIRMATION_HOLD_MS.

export interface FailoverLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface GatewayFailoverOptions {
  store: Store;
  /** l3FenceMs + l3FailoverMarginMs. */
  delayMs: number;
  /** Whether the agent is alive (connected and heartbeating) on any replica. */
  agentAlive: (agentId: string) => boolean;
  /** Whether a host is cut off from the underlay (underlay-failover.ts): never promoted. */
  underlayDead?: (host: string) => boolean;
  log?: FailoverLog;
  /** Called after each attempt, with the routers moved (tests, metrics). */
  onFailover?: (host: string, moved: Map<string, string>) => void;
  /** How often to look for agents whose channel is open but whose heartbeats stopped (silent()). */
  checkEveryMs?: number;
  /** The agents connected here that stopped heartbeating for the down time. */
  silent?: () => Array<{ host: string; agentId: string }>;
}

/** Whether a lost gateway host's HA routers must move now: its agent is still not alive anywhere. Pure. */
export function mustFailOver(agentAlive: boolean, closed: boolean): boolean {
  return !closed && !agentAlive;
}

/**
 * How long a dead-man confirmation for an agent still heard (its close not yet seen here, or not
 * yet published by the replica that held its session) is held: if the agent is lost within it,
 * the routers move then, not at the end of the delay. Short, so that it can only stand for the death
 * it reported, never for a later agent of that host.
 */
export const CONFIRMATION_HOLD_MS = 1000;

export class GatewayFailover {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Dead-man confirmations held (holdConfirmation), by host: when they came. */
  private readonly held = new Map<string, number>();
  /** Agents other replicas published alive, by id, with their host (remoteChanged). */
  private remoteAlive = new Map<string, string>();
  /** Silent agents already handed to lost(), until they heartbeat again. */
  private readonly silentSeen = new Set<string>();
  private readonly silentTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: GatewayFailoverOptions) {
    if (o.silent && o.checkEveryMs) {
      this.silentTimer = setInterval(() => this.checkSilent(), o.checkEveryMs);
      this.silentTimer.unref();
    }
  }

  /** The agent heartbeated: if it went silent before, it may be lost again later. */
  heartbeat(agentId: string): void {
    this.silentSeen.delete(agentId);
  }

  private checkSilent(): void {
    for (const { host, agentId } of this.o.silent!()) {
      if (this.silentSeen.has(agentId)) continue;
      this.silentSeen.add(agentId);
      this.o.log?.info({ host, agent: agentId }, 'agent stopped heartbeating');
      this.lost(host, agentId);
    }
  }

  /** The agent of `host` is gone from here (channel closed, or heartbeats stopped). */
  lost(host: string, agentId: string): void {
    const heldAt = this.held.get(host);
    this.held.delete(host);
    if (heldAt !== undefined && Date.now() - heldAt <= CONFIRMATION_HOLD_MS && mustFailOver(this.o.agentAlive(agentId), this.closed)) {
      void this.legsDown(host, agentId);
      return;
    }
    if (this.closed || this.timers.has(host)) return;
    const timer = setTimeout(() => {
      this.timers.delete(host);
      void this.fire(host, agentId);
    }, this.o.delayMs);
    timer.unref();
    this.timers.set(host, timer);
  }

  /** Other replicas' presence changed: agents they showed alive and no longer do are lost. */
  remoteChanged(alive: Iterable<{ agentId: string; host: string }>): void {
    const now = new Map([...alive].map((e) => [e.agentId, e.host]));
    for (const [agentId, host] of this.remoteAlive) if (!now.has(agentId)) this.lost(host, agentId);
    this.remoteAlive = now;
  }

  /** Pending failovers (tests). */
  get pending(): number {
    return this.timers.size;
  }

  close(): void {
    this.closed = true;
    if (this.silentTimer) clearInterval(this.silentTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** The agent of `host` is leaving (clean stop) with its HA routers silenced: move them now. */
  handover(host: string): Promise<Map<string, string>> {
    this.cancel(host);
    return this.move(host, 'leaving');
  }

  /**
   * The dead-man watcher of `host` set its HA legs down: if its agent is not alive (the caller
   * checked its channel is closed here), move them now rather than at the end of the delay.
   */
  legsDown(host: string, agentId: string): Promise<Map<string, string>> {
    if (!mustFailOver(this.o.agentAlive(agentId), this.closed)) return Promise.resolve(new Map());
    this.cancel(host);
    return this.move(host, 'dead-man');
  }

  /**
   * The dead-man watcher of `host` confirmed its legs are down, but its agent is still heard (here
   * or on another replica): moved as soon as that agent is lost, within CONFIRMATION_HOLD_MS.
   */
  holdConfirmation(host: string): void {
    this.held.set(host, Date.now());
  }

  private cancel(host: string): void {
    const timer = this.timers.get(host);
    if (timer) clearTimeout(timer);
    this.timers.delete(host);
  }

  private async fire(host: string, agentId: string): Promise<void> {
    if (!mustFailOver(this.o.agentAlive(agentId), this.closed)) return;
    await this.move(host, 'lost');
  }

  /** One idempotent transaction: each HA router active on `host` switches to its first live standby. */
  private async move(host: string, after: 'lost' | 'leaving' | 'dead-man'): Promise<Map<string, string>> {
    if (this.closed) return new Map();
    const started = Date.now();
    try {
      const { result: moved } = await this.o.store.transact((tx) => failoverGatewayHost(tx, host, (h) => {
        if (h === host || this.o.underlayDead?.(h)) return false;
        const agent = agentByHost(tx, h);
        return !!agent && agent.admin_state_up !== false && this.o.agentAlive(agent.id);
      }));
      if (moved.size) this.o.log?.info({ host, after, ms: Date.now() - started, routers: Object.fromEntries(moved) }, 'HA routers failed over from a lost gateway host');
      this.o.onFailover?.(host, moved);
      return moved;
    } catch (err) {
      this.o.log?.error({ err, host }, 'HA router failover failed');
      return new Map();
    }
  }
}
