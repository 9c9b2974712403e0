import { failoverGatewayHost } from '../domain/l3-scheduler.ts';
import { probersOf, underlayDead, UnderlayVotes, type UnderlayReach } from '../domain/underlay.ts';
import type { UnderlayMessage } from '../../schemas/agent/channel.ts';
import type { Store } from '../store/types.ts';
import { agentByHost, type AgentDoc } from './agents.ts';
import type { FailoverLog } from './gateway-failover.ts';

// Failover of HA routers by the underlay (domain/underlay.ts decides who is underlay-dead).
//
// Agents report their BFD peers' reachability when a session changes state; a report can only
// change the verdict on the hosts it names, so only those are looked at. A gateway host that
// becomes underlay-dead while its agent is still heard (the controller reaches it over the
// management network) has its HA routers moved, `marginMs` later if it is still underlay-dead, to
// the first standby that is alive, admin-up and not underlay-dead itself, with the rules of
// gateway-failover.ts (one idempotent transaction, no preemption, the lost host goes last). The
// margin is there for the isolated host, which sees its own BFD sessions go down at the same
// moment and silences its HA routers first (agent/underlay), so two gateways are never active.
// When that host's agent says it has silenced them (`isolated`, over the management network, which
// is how the controller still hears it), the routers move at once, without the margin.
//
// Reports are held by the replica the agent is connected to, and dropped when its session closes;
// that replica publishes them with the agent's presence (presence.ts), and the other replicas fold
// them in as the reports of that agent (remoteChanged), so a verdict can rest on reporters
// connected to different replicas, and every replica acts on it (the move is idempotent).

export interface UnderlayFailoverOptions {
  store: Store;
  /** l3FailoverMarginMs. */
  marginMs: number;
  agentAlive: (agentId: string) => boolean;
  log?: FailoverLog;
  onFailover?: (host: string, moved: Map<string, string>) => void;
}

export class UnderlayFailover {
  private readonly votes = new UnderlayVotes();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Hosts judged underlay-dead at the last look. */
  private readonly dead = new Set<string>();
  /** Hosts whose agent said it lost its peers and silenced its HA routers. */
  private readonly silenced = new Set<string>();
  /** Reporters connected to other replicas, with what they last published (to skip what did not change). */
  private remote = new Map<string, string>();
  private closed = false;

  constructor(private readonly o: UnderlayFailoverOptions) {}

  /** An agent's report (schemas/agent/channel.ts underlayMessage). */
  report(reporter: string, peers: Record<string, UnderlayReach | null>, full = false, isolated?: boolean): void {
    if (isolated === false) this.silenced.delete(reporter);
    this.judge(this.votes.apply(reporter, peers, full));
    if (!isolated) return;
    this.silenced.add(reporter);
    this.o.log?.info({ host: reporter }, 'gateway host says it is cut off from the underlay and silent');
    // Found dead before it said so: no need to wait out the rest of the margin.
    const timer = this.timers.get(reporter);
    if (!timer) return;
    clearTimeout(timer);
    this.timers.delete(reporter);
    void this.fire(reporter, 'silenced');
  }

  /** A report of an agent connected here; what it says now is kept on its runtime (published to the other replicas). */
  fromAgent(runtime: { host: string; underlay?: { down: string[]; silent: boolean } }, m: UnderlayMessage): true {
    this.report(runtime.host, m.peers, m.full, m.isolated);
    runtime.underlay = this.reportedBy(runtime.host);
    return true;
  }

  /** The agent's session here closed. */
  agentGone(runtime: { host: string; underlay?: unknown }): void {
    this.reporterGone(runtime.host);
    runtime.underlay = undefined;
  }

  /** What `reporter` says now, to publish to the other replicas. */
  reportedBy(reporter: string): { down: string[]; silent: boolean } {
    return { down: this.votes.downOf(reporter), silent: this.silenced.has(reporter) };
  }

  /**
   * The agents other replicas publish alive now, with their reports; `local` tells hosts whose
   * agent is connected here (their own reports win). Reporters no longer listed are dropped.
   */
  remoteChanged(entries: Iterable<{ host: string; underlayDown?: string[]; underlaySilent?: boolean }>, local: (host: string) => boolean): void {
    const now = new Map<string, string>();
    for (const e of entries) {
      if (local(e.host)) continue;
      const key = `${(e.underlayDown ?? []).join(',')}|${!!e.underlaySilent}`;
      now.set(e.host, key);
      if (this.remote.get(e.host) === key) continue;
      this.report(e.host, Object.fromEntries((e.underlayDown ?? []).map((t) => [t, 'down' as const])), true, !!e.underlaySilent);
    }
    for (const host of this.remote.keys()) if (!now.has(host) && !local(host)) this.reporterGone(host);
    this.remote = now;
  }

  /** The reporter's session closed: its reports no longer count. */
  reporterGone(reporter: string): void {
    this.silenced.delete(reporter);
    this.judge(this.votes.drop(reporter));
  }

  /** Whether `host` is underlay-dead (a standby that is is never promoted). */
  isDead(host: string): boolean {
    return this.dead.has(host);
  }

  get pending(): number {
    return this.timers.size;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private verdict(host: string): boolean {
    return underlayDead(probersOf(host, this.o.store.view().list<AgentDoc>('agent')), this.votes.downVoters(host));
  }

  private judge(targets: Iterable<string>): void {
    for (const host of targets) {
      const dead = this.verdict(host);
      if (dead === this.dead.has(host)) continue;
      if (!dead) {
        this.dead.delete(host);
        this.o.log?.info({ host }, 'gateway host reachable over the underlay again');
        continue;
      }
      this.dead.add(host);
      this.o.log?.info({ host, reporters: [...this.votes.downVoters(host)] }, 'gateway host cut off from the underlay');
      if (this.closed || this.timers.has(host)) continue;
      if (this.silenced.has(host)) {
        void this.fire(host, 'silenced');
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(host);
        void this.fire(host, 'margin');
      }, this.o.marginMs);
      timer.unref();
      this.timers.set(host, timer);
    }
  }

  private async fire(host: string, after: 'silenced' | 'margin'): Promise<void> {
    if (this.closed || !this.verdict(host)) return;
    const started = Date.now();
    try {
      const { result: moved } = await this.o.store.transact((tx) => failoverGatewayHost(tx, host, (h) => {
        if (h === host || this.dead.has(h)) return false;
        const agent = agentByHost(tx, h);
        return !!agent && agent.admin_state_up !== false && this.o.agentAlive(agent.id);
      }));
      if (moved.size) this.o.log?.info({ host, after, ms: Date.now() - started, routers: Object.fromEntries(moved) }, 'HA routers failed over from a gateway host cut off from the underlay');
      this.o.onFailover?.(host, moved);
    } catch (err) {
      this.o.log?.error({ err, host }, 'HA router failover (underlay) failed');
    }
  }
}
