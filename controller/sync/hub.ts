import { PROTOCOL_VERSION, type AppliedMessage, type HelloMessage, type UnderlayMessage } from '../../schemas/agent/channel.ts';
import type { AgentUpdate } from '../../schemas/api/agent.ts';
import type { HaLegsDown } from '../../schemas/api/agent-identity.ts';
import { revokedCredentials } from '../auth/agent-credentials.ts';
import { scheduleUnplacedRouters } from '../domain/l3-scheduler.ts';
import type { Change, ReadView, Store } from '../store/types.ts';
import type { SyncHubOptions, SyncLogger } from './hub-options.ts';
import { AGENT_KIND, agentByHost, deleteAgentAndCredential, registerAgent, updateAgentAndPlacement, type AgentDoc } from './agents.ts';
import { ConvergenceTracker } from './convergence.ts';
import { HubFailovers } from './hub-failovers.ts';
import { viewCommit } from './interest.ts';
import { AgentDirectory, type AgentState } from './liveness.ts';
import { remoteAlive } from './presence.ts';
import { ReplicaPresence } from './replica-presence.ts';
import { resumeSession } from './resume.ts';
import { CommitRouter } from './routing.ts';
import { CLOSE, Session, sendLostHost, type AgentLink, type AgentRuntime, type ChannelIdentity, type SessionHost } from './session.ts';
import { writeReportedStatuses } from './statuses.ts';
import { DataplaneWaiters, type DataplaneOutcome } from './waiters.ts';

// The controller side of controller<->agent sync. Every connected agent gets its host's view of
// the model at revision R (only what the host needs: see interest.ts) — a snapshot, or, when its
// hello asks to resume, only what differs from what it holds (resume.ts) — then a `changes`
// message for each later commit that changes that view. The store's commits, which run
// synchronously after each commit, are routed (routing.ts) to the sessions they can concern, so a
// commit costs nothing for the hosts it does not; a snapshot taken with view() and the next
// commit's listener call cannot miss or repeat a revision. An agent told nothing for a while learns
// the revision when it heartbeats (a `revision` message), so that what it reports keeps up.
//
// Runtime state (heartbeats, applied revisions, reported port states) lives here, in memory, per
// replica: an agent that moves to another replica resumes from what it holds, not from anything
// remembered here. Replicas publish their agents' presence to each other (replica-presence.ts):
// each lists and waits for the agents connected to any of them (liveness.ts). The store is written
// only when an agent registers with a new host or configuration (routers waiting for a gateway
// host are placed in the same transaction), and when reported port, router and floating IP states
// change their status (statuses.ts).

export type { DataplaneOutcome } from './waiters.ts';

export type { SyncHubOptions, SyncLogger } from './hub-options.ts';
export type { AgentState } from './liveness.ts';

const quiet: SyncLogger = { info() {}, warn() {}, error() {} };

export class SyncHub implements SessionHost {
  readonly store: Store;
  readonly sendBufferLimit: number;
  readonly router = new CommitRouter<Session>();
  private readonly heartbeatMs: number;
  private readonly dhcp: SyncHubOptions['dhcp'];
  private readonly downMs: number;
  private readonly helloTimeoutMs: number;
  private readonly resumeCatchUpMs: number;
  private readonly log: SyncLogger;
  private readonly now: () => number;
  private readonly commitRequestIds: SyncHubOptions['commitRequestIds'];
  private readonly convergence: ConvergenceTracker | undefined;
  /** Every connection, registered or not. */
  private readonly sessions = new Set<Session>();
  /** Sessions with messages not yet applied, or not streaming: the only ones a waiter can wait on. */
  private readonly unsettled = new Set<Session>();
  /** The agents registered here, merged with other replicas' presence. */
  private readonly agents: AgentDirectory;
  /** Agent presence shared with the other replicas (absent with one controller). */
  private readonly presence: ReplicaPresence | undefined;
  private readonly waiters: DataplaneWaiters;
  /** The last commit routed to the sessions: every streaming session was sent what concerned it up to here. */
  private routedRevision: number;
  private readonly unsubscribe: () => void;
  private isClosed = false;
  /** HA routers' failover when a gateway host's agent is lost or cut off from the underlay (absent: none). */
  private readonly failovers: HubFailovers | undefined;

  constructor(options: SyncHubOptions) {
    this.store = options.store;
    this.sendBufferLimit = options.sendBufferLimit;
    this.heartbeatMs = options.heartbeatInterval * 1000;
    this.dhcp = options.dhcp;
    this.downMs = options.downTime * 1000;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.resumeCatchUpMs = options.resumeCatchUpMs ?? 2000;
    this.log = options.log ?? quiet;
    this.now = options.now ?? Date.now;
    this.commitRequestIds = options.commitRequestIds;
    this.convergence = options.observeConvergence && new ConvergenceTracker(options.observeConvergence);
    this.routedRevision = this.store.revision;
    // While someone waits, re-check now and then: an agent that stops heartbeating stops counting.
    const tickMs = Math.min(250, Math.max(10, Math.min(this.downMs, this.heartbeatMs) / 4));
    this.waiters = new DataplaneWaiters((revision, portIds) => this.satisfied(revision, portIds), tickMs);
    this.presence = options.shared?.replicated ? new ReplicaPresence({
      shared: options.shared,
      downMs: this.downMs,
      local: () => this.agents.published(),
      revision: () => this.store.revision,
      onRemoteChange: () => {
        this.agents.remoteChanged();
        this.waiters.check();
        const alive = [...this.presence!.remote.entries()].filter(remoteAlive);
        const here = new Set([...this.sessions].flatMap((s) => (s.runtime?.session === s ? [s.runtime.host] : [])));
        this.failovers?.remoteChanged(alive, (host) => here.has(host));
      },
      now: this.now,
      log: this.log,
    }) : undefined;
    this.agents = new AgentDirectory({
      downMs: this.downMs, now: this.now, remote: this.presence?.remote, inStep: (runtime) => this.appliedRevision(runtime),
    });
    this.unsubscribe = this.store.subscribe((changes, revision) => this.onCommit(changes, revision));
    this.failovers = options.l3FailoverDelayMs === undefined ? undefined : new HubFailovers({
      store: this.store, delayMs: options.l3FailoverDelayMs, marginMs: options.l3FailoverMarginMs ?? 100, downMs: this.downMs, log: this.log,
      agentAlive: (agentId) => this.agents.liveness(agentId)?.alive ?? false,
      // Agents with an open channel here but no heartbeat for the down time.
      silent: () => [...this.sessions].flatMap((x) => (x.runtime?.session === x && !x.runtime.leaving && !this.agents.isAlive(x.runtime) ? [x.runtime] : [])),
      hostLost: (host) => sendLostHost(this.sessions, host),
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Learn the other replicas' agents (a no-op with one controller). */
  async start(): Promise<void> {
    await this.presence?.start();
  }

  /** Stop publishing this replica's agents, before its connections close: see replica-presence.ts. */
  async stopPresence(): Promise<void> {
    await this.presence?.close();
  }

  /** A new connection (already authenticated as `identity`). */
  accept(link: AgentLink, identity: ChannelIdentity = { kind: 'admin' }): Session {
    const session = new Session(link, this, this.helloTimeoutMs, identity);
    if (this.isClosed) {
      session.close(CLOSE.goingAway, 'controller shutting down');
      return session;
    }
    this.sessions.add(session);
    this.unsettled.add(session);
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
    const previous = this.agents.get(doc.id);
    if (previous?.session && previous.session !== session) previous.session.close(CLOSE.replaced, 'replaced by a newer connection from the same host');
    const runtime: AgentRuntime = { agentId: doc.id, host: doc.host, session, startedAt: now, heartbeatAt: now, applied: null, ports: new Map(), takesLostHosts: !!hello.lostHosts };
    this.agents.add(runtime);
    session.runtime = runtime;
    this.presence?.changed();
    session.sendControl(JSON.stringify({
      type: 'welcome', agentId: doc.id, heartbeatInterval: this.heartbeatMs / 1000, ...(this.dhcp ? { dhcp: this.dhcp } : {}),
      ...(this.failovers ? { underlay: true, handover: true } : {}),
    }));
    // The agent's own id guards against resuming from another store's history.
    const resume = hello.resume?.agentId === doc.id ? hello.resume : undefined;
    this.log.info({ host: doc.host, agent: doc.id, protocol: PROTOCOL_VERSION, resumeFrom: resume?.revision }, 'agent connected');
    // A snapshot is built and the session filed for routing in one synchronous step: no commit falls between.
    if (!resume) session.sendSnapshot();
    else await resumeSession(session, resume, { store: this.store, catchUpMs: this.resumeCatchUpMs, closed: () => this.isClosed, log: this.log });
  }

  heartbeat(session: Session): void {
    if (!session.runtime) return;
    const now = this.now();
    if (this.presence && !this.agents.isAlive(session.runtime, now)) this.presence.changed();
    session.runtime.heartbeatAt = now;
    this.failovers?.heartbeat(session.runtime.agentId);
    // Nothing for this agent since some commits: it learns their revision, and reports it applied.
    session.sendRevision(this.routedRevision);
  }

  underlay(session: Session, message: UnderlayMessage): void {
    if (session.runtime && this.failovers?.underlayReport(session.runtime, message)) this.presence?.changed();
  }

  leaving(session: Session): void {
    if (!session.runtime || !this.failovers) return;
    session.runtime.leaving = true; // not alive from now on, in what this replica publishes too
    this.presence?.changed();
    void this.failovers.leaving(session.runtime);
  }

  /** The dead-man watcher of `host` (its credential checked by the caller) says its HA legs are down (hub-failovers.ts). */
  async legsDown(host: string): Promise<HaLegsDown> {
    const agent = agentByHost(this.store.view(), host);
    if (!agent) return { host, action: 'ignored', reason: `no agent of host ${host} is registered` };
    if (!this.failovers) return { host, action: 'ignored', reason: 'HA router failover is off on this controller' };
    const session = this.agents.get(agent.id)?.session;
    return { host, ...await this.failovers.legsDown(host, agent.id, !!session && !session.closed) };
  }

  async applied(session: Session, message: AppliedMessage): Promise<void> {
    const runtime = session.runtime;
    if (!runtime || session.closed) return;
    try {
      await writeReportedStatuses(this.store, runtime.host, message);
    } catch (err) {
      this.log.error({ err, host: runtime.host }, 'cannot record port states');
    }
    // After the statuses are committed: a client told "applied" then reads ACTIVE.
    runtime.applied = message.revision;
    for (const [id, state] of Object.entries(message.ports)) runtime.ports.set(id, state);
    session.acknowledge(message.revision);
    this.presence?.progressed();
    this.waiters.check();
  }

  progressed(session: Session): void {
    if (session.settled || session.closed) this.unsettled.delete(session);
    else this.unsettled.add(session);
    this.presence?.progressed();
  }

  commitApplied(revision: number): void {
    this.convergence?.applied(revision);
  }

  commitAbandoned(revision: number): void {
    this.convergence?.abandoned(revision);
  }

  sessionClosed(session: Session): void {
    this.sessions.delete(session);
    this.unsettled.delete(session);
    const runtime = session.runtime;
    if (runtime && runtime.session === session) {
      // Kept for the API: how far it got on this connection.
      runtime.applied = this.appliedRevision(runtime);
      runtime.session = undefined;
      this.agents.disconnected(runtime);
      this.presence?.changed();
      this.log.info({ host: runtime.host, agent: runtime.agentId }, 'agent disconnected');
      this.failovers?.lost(runtime);
    }
    this.waiters.check();
  }

  warn(obj: object, msg: string): void {
    this.log.warn(obj, msg);
  }

  // --- the store's commits ---

  private onCommit(changes: readonly Change[], revision: number): void {
    this.routedRevision = Math.max(this.routedRevision, revision);
    this.route(changes, revision);
    this.closeRevoked(changes);
    if (this.presence) this.presenceCommit(changes);
  }

  /** Connections whose credential was revoked or replaced, through any replica, are closed. */
  private closeRevoked(changes: readonly Change[]): void {
    const revoked = revokedCredentials(changes);
    if (!revoked) return;
    for (const s of [...this.sessions]) {
      if (s.identity.kind !== 'host' || !revoked.has(s.identity.credentialId)) continue;
      this.log.info({ host: s.identity.host }, 'agent credential revoked; closing its connection');
      s.close(CLOSE.revoked, `the credential of host ${s.identity.host} was revoked`);
    }
  }

  private route(changes: readonly Change[], revision: number): void {
    if (!this.router.size) return;
    // Trimmed to the view once; only the sessions it can concern look at it.
    const commit = viewCommit(changes, revision);
    const view = this.store.view();
    const targets = this.router.route(commit, view);
    if (!targets.size) return;
    const requestIds = this.commitRequestIds?.();
    let sent = 0;
    for (const s of targets) {
      const entries = s.prepare(commit, view);
      if (!entries?.length) continue;
      s.deliver(revision, entries, requestIds);
      sent++;
    }
    this.convergence?.committed(revision, sent);
  }

  /**
   * Settled agents here are now in step at the new revision (the others may wait for that); a port
   * status another replica's agent reported may be what a waiter here needs. An agent deleted
   * through another replica is forgotten, and disconnected if it is connected here.
   */
  private presenceCommit(changes: readonly Change[]): void {
    for (const c of changes) {
      if (c.kind !== AGENT_KIND || c.op !== 'delete') continue;
      this.presence!.remote.forget(c.id);
      this.agents.remoteChanged();
      this.agents.remove(c.id)?.session?.close(CLOSE.deleted, 'agent deleted');
    }
    this.presence!.progressed();
    this.waiters.check();
  }

  // --- agents as the API sees them ---

  /**
   * The revision an agent is in step at: what it last reported applied, or later when every
   * message sent to it since is applied (commits that did not concern it need no report).
   */
  private appliedRevision(runtime: AgentRuntime): number | null {
    if (runtime.applied === null) return null;
    const s = runtime.session;
    return s ? Math.max(runtime.applied, s.caughtUpTo(this.routedRevision)) : runtime.applied;
  }

  /** Every registered agent: alive or not, and the revision it is in step at (null before its first report). */
  agentStates(): AgentState[] {
    return this.agents.states(this.store.view());
  }

  present(view: ReadView, doc: AgentDoc): Record<string, unknown> {
    return this.agents.present(view, doc);
  }

  /** Admin state and description; an admin-down gateway hands its routers over (agents.ts). */
  async updateAgent(id: string, input: AgentUpdate): Promise<AgentDoc> {
    return (await this.store.transact((tx) => updateAgentAndPlacement(tx, id, input))).result;
  }

  /** Delete the agent and revoke its host's credential: a connected agent is disconnected (agents.ts). */
  async deleteAgent(id: string): Promise<void> {
    await this.store.transact((tx) => deleteAgentAndCredential(tx, id));
    this.agents.remove(id)?.session?.close(CLOSE.deleted, 'agent deleted');
    this.presence?.changed();
  }

  /** Connected, registered sessions (for tests and diagnostics). */
  connectedAgents(): Array<{
    agentId: string; host: string; sentRevision: number; snapshotsSent: number; resumesSent: number; behind: boolean;
    /** Documents of each kind in the host's view (undefined while not streaming). */
    viewSize: Record<string, number> | undefined;
  }> {
    return [...this.sessions].flatMap((s) => (s.runtime ? [{
      agentId: s.runtime.agentId, host: s.runtime.host, sentRevision: s.sentRevision, snapshotsSent: s.snapshotsSent,
      resumesSent: s.resumesSent, behind: s.behind, viewSize: s.viewSize(),
    }] : []));
  }

  // --- waiting for the dataplane ---

  /**
   * Resolve 'applied' once every alive connected agent is in step at `revision` (has applied every
   * message sent to it up to there) and every port in `portIds` that is bound to a host with an
   * alive agent was reported up; 'timeout' otherwise.
   */
  waitForDataplane(revision: number, portIds: readonly string[], timeoutMs: number): Promise<DataplaneOutcome> {
    return this.waiters.wait(revision, portIds, timeoutMs);
  }

  /** Only unsettled sessions can hold a waiter back: the others are in step with every routed commit. */
  private satisfied(revision: number, portIds: readonly string[]): boolean {
    if (this.routedRevision < revision) return false;
    const now = this.now();
    for (const s of this.unsettled) {
      const runtime = s.runtime;
      if (runtime?.session !== s || !this.agents.isAlive(runtime, now) || !this.agents.counts(runtime)) continue;
      if (s.caughtUpTo(this.routedRevision) < revision) return false;
    }
    if (this.agents.remoteLagging(revision)) {
      // Agents connected elsewhere: their replicas publish their progress promptly while this one waits.
      this.presence?.want(revision);
      return false;
    }
    return !portIds.length || !this.agents.portsPending(this.store.view(), portIds, now);
  }

  /** Stop: no more streaming, waiters answer 'timeout', every connection is closed. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.failovers?.close();
    void this.presence?.close();
    this.unsubscribe();
    this.waiters.close();
    for (const s of [...this.sessions]) s.close(CLOSE.goingAway, 'controller shutting down');
  }
}
