import type { ReadView } from '../store/types.ts';
import { AGENT_KIND, agentTime, presentAgent, type AgentDoc } from './agents.ts';
import { remoteAlive, supersedes, type PresenceEntry, type RemoteEntry, type RemotePresence } from './presence.ts';
import type { AgentRuntime } from './session.ts';

// Agents as the API, the metrics and the waiters see them: the sessions this replica holds
// (AgentRuntime), merged, when replicas share presence, with what the others publish
// (presence.ts). Of an agent's sessions anywhere the newest counts: an agent that moved to another
// replica is listed once, with what its new replica publishes, and a session here that it left
// but that is not yet noticed as closed holds nothing back. With one controller there is no
// remote presence and this is exactly what the hub always did.

/** One agent as the API shows it. */
export interface AgentLiveness {
  connected: boolean;
  alive: boolean;
  startedAt: number;
  heartbeatAt: number;
  /** The revision it is in step at; null before its first report. */
  applied: number | null;
}

/** One agent as metrics show it. */
export interface AgentState {
  host: string;
  alive: boolean;
  /** The revision it is in step at; null before its first report. */
  applied: number | null;
}

export interface AgentDirectoryOptions {
  downMs: number;
  now: () => number;
  /** The revision an agent with a session here is in step at (SyncHub.appliedRevision). */
  inStep: (runtime: AgentRuntime) => number | null;
  /** Other replicas' agents; absent with one controller. */
  remote?: RemotePresence;
}

const stamp = (runtime: AgentRuntime) => ({ startedAt: runtime.startedAt, connected: !!runtime.session });

export class AgentDirectory {
  /** Agents registered here, by id (kept after a disconnect, for heartbeat_timestamp and applied_revision). */
  private readonly runtimes = new Map<string, AgentRuntime>();
  /** The agent connected here for each host. */
  private readonly byHost = new Map<string, AgentRuntime>();
  private readonly remote: RemotePresence | undefined;
  /** The lowest revision the alive agents that count elsewhere are in step at (undefined: to be worked out again). */
  private remoteFloor: number | undefined;

  constructor(private readonly o: AgentDirectoryOptions) {
    this.remote = o.remote;
  }

  get(agentId: string): AgentRuntime | undefined {
    return this.runtimes.get(agentId);
  }

  /** A session here registered the agent. */
  add(runtime: AgentRuntime): void {
    this.runtimes.set(runtime.agentId, runtime);
    this.byHost.set(runtime.host, runtime);
    this.remoteFloor = undefined;
  }

  /** The agent's session here closed (the runtime is kept). */
  disconnected(runtime: AgentRuntime): void {
    if (this.byHost.get(runtime.host) === runtime) this.byHost.delete(runtime.host);
    this.remoteFloor = undefined;
  }

  /** The agent was deleted. */
  remove(agentId: string): AgentRuntime | undefined {
    const runtime = this.runtimes.get(agentId);
    this.runtimes.delete(agentId);
    if (runtime) this.disconnected(runtime);
    return runtime;
  }

  /** Another replica's record changed. */
  remoteChanged(): void {
    this.remoteFloor = undefined;
  }

  /** A session here: open and heartbeating. */
  isAlive(runtime: AgentRuntime | undefined, now = this.o.now()): boolean {
    return !!runtime?.session && !runtime.leaving && now - runtime.heartbeatAt <= this.o.downMs;
  }

  /** Whether the session here is the agent's newest known anywhere. */
  counts(runtime: AgentRuntime): boolean {
    const remote = this.remote?.get(runtime.agentId);
    return !remote || !supersedes(remote, stamp(runtime));
  }

  /** The agent's entry from another replica, when that is its newest session. */
  private remoteCounting(agentId: string): RemoteEntry | undefined {
    const remote = this.remote?.get(agentId);
    if (!remote) return undefined;
    const runtime = this.runtimes.get(agentId);
    return !runtime || supersedes(remote, stamp(runtime)) ? remote : undefined;
  }

  /** The agent's newest session, here or elsewhere; undefined when no replica knows one. */
  liveness(agentId: string, now = this.o.now()): AgentLiveness | undefined {
    const remote = this.remoteCounting(agentId);
    if (remote) {
      return {
        connected: remote.listed && remote.connected, alive: remoteAlive(remote),
        startedAt: remote.startedAt, heartbeatAt: remote.heartbeatAt, applied: remote.inStepAt,
      };
    }
    const runtime = this.runtimes.get(agentId);
    if (!runtime) return undefined;
    return {
      connected: !!runtime.session, alive: this.isAlive(runtime, now),
      startedAt: runtime.startedAt, heartbeatAt: runtime.heartbeatAt, applied: this.o.inStep(runtime),
    };
  }

  /** Every registered agent: alive or not, and the revision it is in step at. */
  states(view: ReadView): AgentState[] {
    const now = this.o.now();
    return view.list<AgentDoc>(AGENT_KIND).map((doc) => {
      const agent = this.liveness(doc.id, now);
      return { host: doc.host, alive: agent?.alive ?? false, applied: agent?.applied ?? null };
    });
  }

  /** The agent as the API shows it. */
  present(view: ReadView, doc: AgentDoc): Record<string, unknown> {
    const agent = this.liveness(doc.id);
    return presentAgent(view, doc, {
      connected: agent?.connected ?? false,
      alive: agent?.alive ?? false,
      startedAt: agent ? agentTime(agent.startedAt) : undefined,
      heartbeatAt: agent ? agentTime(agent.heartbeatAt) : undefined,
      applied: agent?.applied ?? null,
    });
  }

  /** What this replica publishes: its sessions that are their agents' newest. */
  published(now = this.o.now()): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const r of this.runtimes.values()) {
      if (!this.counts(r)) continue;
      out.push({
        agentId: r.agentId, host: r.host, startedAt: r.startedAt, heartbeatAt: r.heartbeatAt,
        connected: !!r.session, alive: this.isAlive(r, now), inStepAt: this.o.inStep(r),
        ...(r.underlay?.down.length ? { underlayDown: r.underlay.down } : {}), ...(r.underlay?.silent ? { underlaySilent: true } : {}),
      });
    }
    return out;
  }

  /** Whether an alive agent whose newest session is on another replica is not in step at `revision`. */
  remoteLagging(revision: number): boolean {
    if (!this.remote) return false;
    // Waiters ask on every report of every agent: worked out again only when something changed.
    if (this.remoteFloor === undefined) {
      this.remoteFloor = Infinity;
      for (const e of this.remote.entries()) {
        if (remoteAlive(e) && this.remoteCounting(e.agentId) === e) this.remoteFloor = Math.min(this.remoteFloor, e.inStepAt ?? -1);
      }
    }
    return this.remoteFloor < revision;
  }

  /** Whether a wait must go on for some of `portIds`: bound to a host with an alive agent, and not up (portPending). */
  portsPending(view: ReadView, portIds: readonly string[], now = this.o.now()): boolean {
    for (const id of portIds) {
      const host = view.get('port', id)?.['binding:host_id'];
      if (typeof host === 'string' && host && this.portPending(view, host, id, now)) return true;
    }
    return false;
  }

  /**
   * Whether a wait must go on for port `portId` bound to `host`: the host's agent is alive and has
   * not reported the port up. Here, by this connection's reports; on another replica, by the
   * model's status, which that replica committed before it published the agent in step (so a
   * model behind its record may not show it yet).
   */
  portPending(view: ReadView, host: string, portId: string, now = this.o.now()): boolean {
    const runtime = this.byHost.get(host);
    if (runtime && this.counts(runtime)) return this.isAlive(runtime, now) && runtime.ports.get(portId) !== 'up';
    const remote = this.remote?.forHost(host);
    if (!remote || !remoteAlive(remote) || this.remoteCounting(remote.agentId) !== remote) return false;
    return remote.revision > view.revision || view.get('port', portId)?.status !== 'ACTIVE';
  }
}
