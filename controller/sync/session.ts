import { agentMessage, type AppliedMessage, type ChangeEntry, type HelloMessage, type PortState, type ResumeState, type UnderlayMessage } from '../../schemas/agent/channel.ts';
import type { ReadView } from '../store/types.ts';
import { HostInterest, type ViewCommit } from './interest.ts';
import { resumeEntries, type ViewAtResume } from './resume.ts';
import type { CommitRouter } from './routing.ts';

// One agent connection as the hub sees it: a link to send text on, the messages the agent sent,
// the part of the model its host is interested in (HostInterest), and where it is in the stream:
//   hello      -> syncing   registered; its first message (snapshot or resume) is being prepared
//   syncing    -> streaming the first message went; the session is filed in the hub's CommitRouter
//                           and gets a `changes` message for each commit that changes its view
//   streaming  -> behind    the agent reads too slowly; once its send buffer drains it gets a fresh
//                           snapshot, its interest computed afresh, and streams again
// Every message of the stream names the revision of the one before (`since` = sentRevision). The
// messages with content (snapshot, resume, changes) wait in `unapplied` until the agent reports
// a revision at least theirs applied: the agent is in step at revision R when none of them is at
// or below R (see caughtUpTo), whether or not it ever heard of R.

/** The transport under a session (a WebSocket in production, anything in tests). */
export interface AgentLink {
  send(text: string): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
}

/** WebSocket close codes the controller uses. */
export const CLOSE = {
  goingAway: 1001,
  protocolError: 1008,
  internalError: 1011,
  replaced: 4000,
  deleted: 4001,
  noHello: 4002,
  /** The agent's credential is for another host than its hello names. */
  wrongHost: 4003,
  /** The agent's credential was revoked (or replaced) while it was connected. */
  revoked: 4004,
} as const;

/**
 * Who opened a connection: a host's agent, whose credential binds it to one host name, or an admin
 * (tools and simulated hosts), who may speak for any host.
 */
export type ChannelIdentity =
  | { readonly kind: 'host'; readonly host: string; readonly credentialId: string }
  | { readonly kind: 'admin' };

/** Why a credential cannot say hello as `claimed` (undefined when it can). */
export function wrongHost(identity: ChannelIdentity, claimed: string): string | undefined {
  if (identity.kind !== 'host' || identity.host === claimed) return undefined;
  return `credential for host ${identity.host} cannot act as host ${claimed}`;
}

/** What the hub knows about one registered agent (runtime only; never persisted). */
export interface AgentRuntime {
  readonly agentId: string;
  readonly host: string;
  session: Session | undefined;
  startedAt: number;
  heartbeatAt: number;
  /** The revision the agent last reported applied (null before its first report). */
  applied: number | null;
  /** Port states as last reported by this connection. */
  readonly ports: Map<string, PortState>;
  /** The peers this agent reports lost over the underlay, and whether it says its HA routers are silent for it. */
  underlay?: { down: string[]; silent: boolean };
  /** Its hello said it takes `lostHosts` messages. */
  readonly takesLostHosts?: boolean;
  /** It said `leaving` (clean stop): not alive from then on, here and in what this replica publishes. */
  leaving?: boolean;
}

/** What a session needs from the hub. */
export interface SessionHost {
  readonly sendBufferLimit: number;
  readonly router: CommitRouter<Session>;
  /** The committed model. */
  view(): ReadView;
  register(session: Session, hello: HelloMessage): Promise<void>;
  applied(session: Session, message: AppliedMessage): Promise<void>;
  heartbeat(session: Session): void;
  /** The agent's BFD peers' reachability changed (controller/sync/underlay-failover.ts). */
  underlay(session: Session, message: UnderlayMessage): void;
  /** The agent is stopping cleanly, its HA routers silenced: hand them over now (gateway-failover.ts). */
  leaving(session: Session): void;
  sessionClosed(session: Session): void;
  /** The session's phase or unapplied messages changed (waiters may be satisfied). */
  progressed(session: Session): void;
  /** A streamed commit was applied by this session's agent, or never will be (convergence). */
  commitApplied(revision: number): void;
  commitAbandoned(revision: number): void;
  warn(obj: object, msg: string): void;
}

type Phase = 'hello' | 'syncing' | 'streaming' | 'behind';

interface Unapplied {
  readonly revision: number;
  /** A streamed commit (measured for convergence), not a snapshot or resume. */
  readonly commit: boolean;
}

const DRAIN_POLL_MS = 20;

export class Session {
  runtime: AgentRuntime | undefined;
  /** Revision of the last message of the stream sent (the next one's `since`); -1 before the first. */
  sentRevision = -1;
  snapshotsSent = 0;
  resumesSent = 0;
  private phase: Phase = 'hello';
  /** The host's view while streaming; dropped when the session falls behind. */
  private interest: HostInterest | undefined;
  /** Messages with content not yet reported applied, oldest first. */
  private unapplied: Unapplied[] = [];
  private isClosed = false;
  /** Bytes of the last snapshot still allowed over the limit (a snapshot may itself be bigger than the limit). */
  private allowance = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  /** Applied reports are handled one after another. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly link: AgentLink, private readonly hub: SessionHost, helloTimeoutMs: number, readonly identity: ChannelIdentity = { kind: 'admin' }) {
    this.helloTimer = setTimeout(() => this.close(CLOSE.noHello, 'no hello received'), helloTimeoutMs);
    this.helloTimer.unref();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get behind(): boolean {
    return this.phase === 'behind';
  }

  get streaming(): boolean {
    return this.phase === 'streaming' && !this.isClosed;
  }

  /** Streaming with every message applied: in step with every commit routed so far. */
  get settled(): boolean {
    return this.streaming && !this.unapplied.length;
  }

  /**
   * The highest revision R at which the agent is known to be in step: every message with content
   * sent to it at or below R is applied, and (unless it is streaming, when every commit up to
   * `routed` that concerned it was sent) R is no later than the last message sent.
   */
  caughtUpTo(routed: number): number {
    const first = this.unapplied[0];
    if (first) return first.revision - 1;
    return this.streaming ? routed : this.sentRevision;
  }

  /** One text frame from the agent. */
  receive(text: string): void {
    if (this.isClosed) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.violation('a message is not JSON');
    }
    const parsed = agentMessage.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.violation(`invalid message: ${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'unknown'}`);
    }
    const msg = parsed.data;
    if (msg.type === 'hello') {
      if (this.phase !== 'hello') return this.violation('hello sent twice');
      // Checked before anything is registered: a credential never registers, reports for, or sees another host.
      const refusal = wrongHost(this.identity, msg.host);
      if (refusal) {
        this.hub.warn({ host: msg.host, credentialHost: this.identity.kind === 'host' ? this.identity.host : undefined }, `agent refused: ${refusal}`);
        return this.close(CLOSE.wrongHost, refusal);
      }
      this.phase = 'syncing';
      this.clearHelloTimer();
      void this.hub.register(this, msg);
      return;
    }
    if (this.phase === 'hello') return this.violation(`'${msg.type}' before hello`);
    if (!this.runtime) return; // registration still under way
    if (msg.type === 'heartbeat') return this.hub.heartbeat(this);
    if (msg.type === 'underlay') return this.hub.underlay(this, msg);
    if (msg.type === 'leaving') return this.hub.leaving(this);
    this.queue = this.queue.then(() => this.hub.applied(this, msg));
  }

  /** Send a message that is not part of the stream (welcome). */
  sendControl(text: string): void {
    if (!this.isClosed) this.link.send(text);
  }

  /** Send a snapshot of the host's view of the current model and stream changes after it. */
  sendSnapshot(): void {
    if (this.isClosed || !this.runtime) return;
    const view = this.hub.view();
    const interest = new HostInterest(this.runtime.host);
    const docs = interest.snapshot(view);
    this.startStream(JSON.stringify({ type: 'snapshot', revision: view.revision, docs }), view.revision, interest);
    this.snapshotsSent++;
  }

  /**
   * Instead of a snapshot, the difference between what the agent holds (`held`, as the model was at
   * `since`) and its host's view of the current model, as one changes message; then stream.
   */
  sendResume(since: number, before: ViewAtResume, held: ResumeState['held']): void {
    if (this.isClosed || !this.runtime) return;
    const view = this.hub.view();
    const interest = new HostInterest(this.runtime.host);
    const changes = resumeEntries(interest.snapshot(view), held, before);
    this.startStream(JSON.stringify({ type: 'changes', since, revision: view.revision, changes }), view.revision, interest);
    this.resumesSent++;
  }

  /**
   * What of a commit concerns this host (maybe nothing: then nothing is sent), or undefined when
   * it cannot take it (not streaming, fallen behind: the agent reads too slowly, or a fresh
   * snapshot went instead). A non-empty answer must be delivered before the next commit's prepare().
   */
  prepare(commit: ViewCommit, view: ReadView): ChangeEntry[] | undefined {
    if (!this.streaming || !this.interest) return undefined;
    // A first message built from a model that already held this commit.
    if (commit.revision <= this.sentRevision) return undefined;
    const limit = this.hub.sendBufferLimit;
    const buffered = this.link.bufferedAmount;
    if (buffered > limit + this.allowance) {
      this.fallBehind(buffered);
      return undefined;
    }
    if (buffered <= limit) this.allowance = 0;
    try {
      const entries = this.interest.apply(commit, view);
      this.hub.router.update(this, this.interest.counters());
      return entries;
    } catch (err) {
      // A bug, not a state an agent can cause: start the host's view over.
      this.hub.warn({ host: this.runtime?.host, err: String(err) }, 'host view out of step; sending a fresh snapshot');
      this.sendSnapshot();
      return undefined;
    }
  }

  /** Sends the changes prepare() found, with the API request ids that made the commit. */
  deliver(revision: number, changes: readonly ChangeEntry[], requestIds?: readonly string[]): void {
    if (this.isClosed) return;
    this.link.send(JSON.stringify({ type: 'changes', since: this.sentRevision, revision, changes, ...(requestIds?.length ? { requestIds } : {}) }));
    this.sentRevision = revision;
    this.unapplied.push({ revision, commit: true });
    this.hub.progressed(this);
  }

  /** Tell a streaming agent that nothing for it happened up to `revision` (so that it reports it applied). */
  sendRevision(revision: number): void {
    if (!this.streaming || revision <= this.sentRevision) return;
    this.link.send(JSON.stringify({ type: 'revision', since: this.sentRevision, revision }));
    this.sentRevision = revision;
  }

  /** The agent applied everything up to `revision`: the messages at or below it are done. */
  acknowledge(revision: number): void {
    let n = 0;
    while (n < this.unapplied.length && this.unapplied[n].revision <= revision) {
      if (this.unapplied[n].commit) this.hub.commitApplied(this.unapplied[n].revision);
      n++;
    }
    if (!n) return;
    this.unapplied = this.unapplied.slice(n);
    this.hub.progressed(this);
  }

  /** How many documents of each kind the agent holds (diagnostics, tests); undefined when not streaming. */
  viewSize(): Record<string, number> | undefined {
    return this.streaming ? this.interest?.heldCounts() : undefined;
  }

  close(code: number, reason: string): void {
    if (this.isClosed) return;
    this.link.close(code, reason);
    this.onClosed();
  }

  /** The transport is gone (either side closed it). */
  onClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.hub.router.detach(this);
    this.interest = undefined;
    this.clearHelloTimer();
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    // The hub reads how far the agent got (caughtUpTo) before the unapplied commits are given up.
    this.hub.sessionClosed(this);
    this.abandonCommits();
  }

  /** The first message of a (re)started stream: everything unapplied before it is covered by it. */
  private startStream(text: string, revision: number, interest: HostInterest): void {
    this.hub.router.detach(this);
    this.link.send(text);
    this.abandonCommits();
    this.unapplied = [{ revision, commit: false }];
    this.sentRevision = revision;
    this.allowance = Buffer.byteLength(text);
    this.interest = interest;
    this.phase = 'streaming';
    this.hub.router.attach(this, interest.host, interest.counters());
    this.hub.progressed(this);
  }

  /** The streamed commits not applied yet never will be by this stream (convergence stops waiting for them). */
  private abandonCommits(): void {
    for (const u of this.unapplied) if (u.commit) this.hub.commitAbandoned(u.revision);
  }

  private fallBehind(buffered: number): void {
    this.phase = 'behind';
    this.hub.router.detach(this);
    this.interest = undefined;
    this.hub.progressed(this);
    this.hub.warn({ host: this.runtime?.host, buffered, revision: this.sentRevision }, 'agent falls behind; it gets a fresh snapshot once its buffer drains');
    this.drainTimer = setInterval(() => {
      if (this.isClosed || this.link.bufferedAmount > 0) return;
      clearInterval(this.drainTimer);
      this.drainTimer = undefined;
      this.sendSnapshot();
    }, DRAIN_POLL_MS);
    this.drainTimer.unref();
  }

  private violation(reason: string): void {
    this.hub.warn({ host: this.runtime?.host, reason }, 'agent protocol violation; closing');
    this.close(CLOSE.protocolError, reason.slice(0, 120));
  }

  private clearHelloTimer(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
  }
}

/** Tells the agents of these sessions that take it that the HA routers moved off `host` (lostHostsMessage). */
export function sendLostHost(sessions: Iterable<Session>, host: string): void {
  const text = JSON.stringify({ type: 'lostHosts', hosts: [host] });
  for (const s of sessions) if (s.runtime?.session === s && s.runtime.takesLostHosts && s.runtime.host !== host) s.sendControl(text);
}
