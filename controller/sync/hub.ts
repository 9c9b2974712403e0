import { PROTOCOL_VERSION, type AppliedMessage, type ChangeEntry, type HelloMessage } from '../../schemas/agent/channel.ts';
import type { AgentUpdate } from '../../schemas/api/agent.ts';
import { scheduleUnplacedRouters, routerHost } from '../domain/l3-scheduler.ts';
import { revise } from '../domain/standard-attrs.ts';
import type { Change, Doc, ReadView, Store } from '../store/types.ts';
import { AGENT_KIND, agentTime, presentAgent, registerAgent, removeAgent, updateAgent, type AgentDoc } from './agents.ts';
import { ConvergenceTracker } from './convergence.ts';
import { viewCommit } from './interest.ts';
import { CLOSE, Session, type AgentLink, type AgentRuntime, type SessionHost } from './session.ts';

// The controller side of controller<->agent sync. Every connected agent gets a snapshot of its
// host's view of the model at revision R (only what the host needs: see interest.ts), then one
// `changes` message per later commit with what entered, changed in or left that view (an empty
// one when a commit touches nothing in it, so revisions stay contiguous). The hub listens to the
// store's commits, which run synchronously after each commit: a snapshot taken with view() and the
// next commit's listener call cannot miss or repeat a revision.
//
// Runtime state (heartbeats, applied revisions, reported port states) lives here, in memory.
// The store is written only when an agent registers with a new host or configuration (routers
// waiting for a gateway host are placed in the same transaction), and when reported port, router
// and floating IP states change their status (all of one report in one transaction).

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
  now?: () => number;
  /**
   * The API request ids behind the commit being streamed, sent to the agents with its changes so
   * that their logs name them. Called synchronously in the store's commit listener.
   */
  commitRequestIds?: () => readonly string[] | undefined;
  /** Seconds from a streamed commit until every live agent has applied it (see convergence.ts). */
  observeConvergence?: (seconds: number) => void;
}

/** One agent as metrics show it. */
export interface AgentState {
  host: string;
  alive: boolean;
  applied: number | null;
}

export type DataplaneOutcome = 'applied' | 'timeout';

interface Waiter {
  revision: number;
  portIds: readonly string[];
  finish(outcome: DataplaneOutcome): void;
}

const PORT_STATUS = { up: 'ACTIVE', down: 'DOWN' } as const;
const ROUTER_STATUS = { active: 'ACTIVE', error: 'ERROR' } as const;
const FIP_STATUS = { active: 'ACTIVE', down: 'DOWN' } as const;
const quiet: SyncLogger = { info() {}, warn() {}, error() {} };

export class SyncHub implements SessionHost {
  readonly store: Store;
  readonly sendBufferLimit: number;
  private readonly heartbeatMs: number;
  private readonly dhcp: SyncHubOptions['dhcp'];
  private readonly downMs: number;
  private readonly helloTimeoutMs: number;
  private readonly log: SyncLogger;
  private readonly now: () => number;
  private readonly commitRequestIds: SyncHubOptions['commitRequestIds'];
  private readonly convergence: ConvergenceTracker | undefined;
  /** Every connection, registered or not. */
  private readonly sessions = new Set<Session>();
  /** Registered agents by id (kept after a disconnect, for heartbeat_timestamp and applied_revision). */
  private readonly runtimes = new Map<string, AgentRuntime>();
  private readonly waiters = new Set<Waiter>();
  private tick: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private isClosed = false;

  constructor(options: SyncHubOptions) {
    this.store = options.store;
    this.sendBufferLimit = options.sendBufferLimit;
    this.heartbeatMs = options.heartbeatInterval * 1000;
    this.dhcp = options.dhcp;
    this.downMs = options.downTime * 1000;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.log = options.log ?? quiet;
    this.now = options.now ?? Date.now;
    this.commitRequestIds = options.commitRequestIds;
    this.convergence = options.observeConvergence && new ConvergenceTracker(options.observeConvergence);
    this.unsubscribe = this.store.subscribe((changes, revision) => this.onCommit(changes, revision));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** A new connection (already authenticated). */
  accept(link: AgentLink): Session {
    const session = new Session(link, this, this.helloTimeoutMs);
    if (this.isClosed) {
      session.close(CLOSE.goingAway, 'controller shutting down');
      return session;
    }
    this.sessions.add(session);
    return session;
  }

  // --- SessionHost ---

  view(): ReadView {
    return this.store.view();
  }

  async register(session: Session, hello: HelloMessage): Promise<void> {
    const now = this.now();
    let doc: AgentDoc;
    try {
      doc = (await this.store.transact((tx) => {
        const registered = registerAgent(tx, hello, now);
        // Routers that waited for an agent get a gateway host now (same transaction).
        scheduleUnplacedRouters(tx);
        return registered;
      })).result;
    } catch (err) {
      this.log.error({ err, host: hello.host }, 'agent registration failed');
      session.close(CLOSE.internalError, 'registration failed');
      return;
    }
    if (session.closed || this.isClosed) return;
    const previous = this.runtimes.get(doc.id);
    if (previous?.session && previous.session !== session) previous.session.close(CLOSE.replaced, 'replaced by a newer connection from the same host');
    const runtime: AgentRuntime = { agentId: doc.id, host: doc.host, session, startedAt: now, heartbeatAt: now, applied: null, ports: new Map() };
    this.runtimes.set(doc.id, runtime);
    session.runtime = runtime;
    this.log.info({ host: doc.host, agent: doc.id, protocol: PROTOCOL_VERSION }, 'agent connected');
    session.sendControl(JSON.stringify({
      type: 'welcome', agentId: doc.id, heartbeatInterval: this.heartbeatMs / 1000, ...(this.dhcp ? { dhcp: this.dhcp } : {}),
    }));
    // Synchronously after the welcome: the snapshot's revision and the next commit's are contiguous.
    session.sendSnapshot();
  }

  heartbeat(session: Session): void {
    if (session.runtime) session.runtime.heartbeatAt = this.now();
  }

  async applied(session: Session, message: AppliedMessage): Promise<void> {
    const runtime = session.runtime;
    if (!runtime || session.closed) return;
    try {
      await this.writeStatuses(runtime.host, message);
    } catch (err) {
      this.log.error({ err, host: runtime.host }, 'cannot record port states');
    }
    // After the statuses are committed: a client told "applied" then reads ACTIVE.
    runtime.applied = message.revision;
    for (const [id, state] of Object.entries(message.ports)) runtime.ports.set(id, state);
    if (this.convergence) {
      const lowest = this.lowestLiveApplied();
      if (lowest !== undefined) this.convergence.passed(lowest);
    }
    this.checkWaiters();
  }

  sessionClosed(session: Session): void {
    this.sessions.delete(session);
    const runtime = session.runtime;
    if (runtime && runtime.session === session) {
      runtime.session = undefined;
      this.log.info({ host: runtime.host, agent: runtime.agentId }, 'agent disconnected');
    }
    if (![...this.sessions].some((s) => s.runtime)) this.convergence?.clear();
    this.checkWaiters();
  }

  warn(obj: object, msg: string): void {
    this.log.warn(obj, msg);
  }

  // --- the store's commits ---

  private onCommit(changes: readonly Change[], revision: number): void {
    let streaming = false;
    for (const s of this.sessions) if (s.runtime && s.sentRevision >= 0) streaming = true;
    if (!streaming) return;
    this.convergence?.committed(revision);
    const requestIds = this.commitRequestIds?.();
    // Trimmed to the view once; each session then picks what concerns its host.
    const commit = viewCommit(changes, revision);
    const view = this.store.view();
    const prepared: Array<[Session, ChangeEntry[]]> = [];
    for (const s of this.sessions) {
      const changes = s.runtime ? s.prepare(commit, view) : undefined;
      if (changes) prepared.push([s, changes]);
    }
    // The hosts the commit changes first: the others only learn the revision, and writing to them
    // (a wake-up of another process each) need not delay a floating IP's gateway.
    for (const [s, changes] of prepared) if (changes.length) s.deliver(revision, changes, requestIds);
    for (const [s, changes] of prepared) if (!changes.length) s.deliver(revision, changes, requestIds);
  }

  /**
   * The statuses an agent's report changes: its host's ports, the routers placed on its host
   * (a router port bound there) and those routers' floating IPs; only where they differ.
   */
  private async writeStatuses(host: string, message: AppliedMessage): Promise<void> {
    const stale = (view: ReadView) => {
      const out: Array<{ kind: string; doc: Doc; status: string }> = [];
      for (const [id, state] of Object.entries(message.ports)) {
        const port = view.get('port', id);
        const status = PORT_STATUS[state];
        if (port && port['binding:host_id'] === host && port.status !== status) out.push({ kind: 'port', doc: port, status });
      }
      const placedHere = new Map<string, boolean>();
      const isHere = (routerId: string) => {
        let here = placedHere.get(routerId);
        if (here === undefined) placedHere.set(routerId, here = routerHost(view, routerId) === host);
        return here;
      };
      for (const [id, state] of Object.entries(message.routers ?? {})) {
        const router = view.get('router', id);
        const status = ROUTER_STATUS[state];
        if (router && router.status !== status && isHere(id)) out.push({ kind: 'router', doc: router, status });
      }
      for (const [id, state] of Object.entries(message.floatingips ?? {})) {
        const fip = view.get('floatingip', id);
        const status = FIP_STATUS[state];
        const routerId = fip?.router_id as string | null | undefined;
        if (fip && routerId && fip.status !== status && isHere(routerId)) out.push({ kind: 'floatingip', doc: fip, status });
      }
      return out;
    };
    if (!stale(this.store.view()).length) return;
    await this.store.transact((tx) => {
      for (const { kind, doc, status } of stale(tx)) tx.put(kind, revise(doc, { status } as Partial<Doc>));
    });
  }

  // --- agents as the API sees them ---

  isAlive(runtime: AgentRuntime | undefined, now = this.now()): boolean {
    return !!runtime?.session && now - runtime.heartbeatAt <= this.downMs;
  }

  /** Every registered agent: alive or not, and the revision it applied (null before its first report). */
  agentStates(): AgentState[] {
    const now = this.now();
    return this.store.view().list<AgentDoc>(AGENT_KIND).map((doc) => {
      const runtime = this.runtimes.get(doc.id);
      return { host: doc.host, alive: this.isAlive(runtime, now), applied: runtime?.applied ?? null };
    });
  }

  /** The lowest revision applied by a live agent that has reported one (an agent still starting does not hold it back). */
  private lowestLiveApplied(): number | undefined {
    const now = this.now();
    let lowest: number | undefined;
    for (const r of this.runtimes.values()) {
      if (r.applied !== null && this.isAlive(r, now) && (lowest === undefined || r.applied < lowest)) lowest = r.applied;
    }
    return lowest;
  }

  present(view: ReadView, doc: AgentDoc): Record<string, unknown> {
    const runtime = this.runtimes.get(doc.id);
    return presentAgent(view, doc, {
      connected: !!runtime?.session,
      alive: this.isAlive(runtime),
      startedAt: runtime ? agentTime(runtime.startedAt) : undefined,
      heartbeatAt: runtime ? agentTime(runtime.heartbeatAt) : undefined,
      applied: runtime?.applied ?? null,
    });
  }

  async updateAgent(id: string, input: AgentUpdate): Promise<AgentDoc> {
    return (await this.store.transact((tx) => updateAgent(tx, id, input))).result;
  }

  /** Delete the agent's record; a connected agent is disconnected and registers afresh when it reconnects. */
  async deleteAgent(id: string): Promise<void> {
    await this.store.transact((tx) => removeAgent(tx, id));
    const runtime = this.runtimes.get(id);
    this.runtimes.delete(id);
    runtime?.session?.close(CLOSE.deleted, 'agent deleted');
  }

  /** Connected, registered sessions (for tests and diagnostics). */
  connectedAgents(): Array<{
    agentId: string; host: string; sentRevision: number; snapshotsSent: number; behind: boolean;
    /** Documents of each kind in the host's view (undefined while behind). */
    viewSize: Record<string, number> | undefined;
  }> {
    return [...this.sessions].flatMap((s) => (s.runtime ? [{
      agentId: s.runtime.agentId, host: s.runtime.host, sentRevision: s.sentRevision, snapshotsSent: s.snapshotsSent, behind: s.behind,
      viewSize: s.viewSize(),
    }] : []));
  }

  // --- waiting for the dataplane ---

  /**
   * Resolve 'applied' once every alive connected agent has applied `revision` and every port in
   * `portIds` that is bound to a host with an alive agent was reported up; 'timeout' otherwise.
   */
  waitForDataplane(revision: number, portIds: readonly string[], timeoutMs: number): Promise<DataplaneOutcome> {
    const probe: Waiter = { revision, portIds, finish: () => {} };
    if (this.satisfied(probe)) return Promise.resolve('applied');
    if (this.isClosed || timeoutMs <= 0) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      const timer = setTimeout(() => waiter.finish('timeout'), timeoutMs);
      const waiter: Waiter = {
        revision,
        portIds,
        finish: (outcome) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (!this.waiters.size) this.stopTick();
          resolve(outcome);
        },
      };
      this.waiters.add(waiter);
      this.startTick();
    });
  }

  private satisfied(w: Waiter): boolean {
    const now = this.now();
    for (const runtime of this.runtimes.values()) {
      if (this.isAlive(runtime, now) && (runtime.applied ?? -1) < w.revision) return false;
    }
    if (!w.portIds.length) return true;
    const view = this.store.view();
    for (const id of w.portIds) {
      const host = view.get('port', id)?.['binding:host_id'];
      if (!host) continue;
      const runtime = [...this.runtimes.values()].find((r) => r.host === host && r.session);
      if (!runtime || !this.isAlive(runtime, now)) continue;
      if (runtime.ports.get(id) !== 'up') return false;
    }
    return true;
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) if (this.satisfied(w)) w.finish('applied');
  }

  /** While someone waits, re-check now and then: an agent that stops heartbeating stops counting. */
  private startTick(): void {
    if (this.tick) return;
    const every = Math.min(250, Math.max(10, Math.min(this.downMs, this.heartbeatMs) / 4));
    this.tick = setInterval(() => this.checkWaiters(), every);
    this.tick.unref();
  }

  private stopTick(): void {
    if (this.tick) clearInterval(this.tick);
    this.tick = undefined;
  }

  /** Stop: no more streaming, waiters answer 'timeout', every connection is closed. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.unsubscribe();
    for (const w of [...this.waiters]) w.finish('timeout');
    this.stopTick();
    for (const s of [...this.sessions]) s.close(CLOSE.goingAway, 'controller shutting down');
  }
}
