import { agentMessage, type AppliedMessage, type ChangeEntry, type HelloMessage, type PortState } from '../../schemas/agent/channel.ts';
import type { ReadView } from '../store/types.ts';
import { HostInterest, type ViewCommit } from './interest.ts';

// One agent connection as the hub sees it: a link to send text on, the messages the agent sent,
// the part of the model its host is interested in (HostInterest), and whether the connection is
// streaming changes or has fallen behind (then it waits for its send buffer to drain and gets a
// fresh snapshot, its interest computed afresh).

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
} as const;

/** What the hub knows about one registered agent (runtime only; never persisted). */
export interface AgentRuntime {
  readonly agentId: string;
  readonly host: string;
  session: Session | undefined;
  startedAt: number;
  heartbeatAt: number;
  applied: number | null;
  /** Port states as last reported by this connection. */
  readonly ports: Map<string, PortState>;
}

/** What a session needs from the hub. */
export interface SessionHost {
  readonly sendBufferLimit: number;
  /** The committed model. */
  view(): ReadView;
  register(session: Session, hello: HelloMessage): Promise<void>;
  applied(session: Session, message: AppliedMessage): Promise<void>;
  heartbeat(session: Session): void;
  sessionClosed(session: Session): void;
  warn(obj: object, msg: string): void;
}

const DRAIN_POLL_MS = 20;

export class Session {
  runtime: AgentRuntime | undefined;
  /** Last revision sent (snapshot or changes); -1 before the first snapshot. */
  sentRevision = -1;
  snapshotsSent = 0;
  private streaming = false;
  /** The host's view while streaming; dropped when the session falls behind. */
  private interest: HostInterest | undefined;
  private isClosed = false;
  private helloSeen = false;
  /** Bytes of the last snapshot still allowed over the limit (a snapshot may itself be bigger than the limit). */
  private allowance = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  /** Applied reports are handled one after another. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly link: AgentLink, private readonly hub: SessionHost, helloTimeoutMs: number) {
    this.helloTimer = setTimeout(() => this.close(CLOSE.noHello, 'no hello received'), helloTimeoutMs);
    this.helloTimer.unref();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get behind(): boolean {
    return !this.streaming && this.sentRevision >= 0;
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
      if (this.helloSeen) return this.violation('hello sent twice');
      this.helloSeen = true;
      this.clearHelloTimer();
      void this.hub.register(this, msg);
      return;
    }
    if (!this.helloSeen) return this.violation(`'${msg.type}' before hello`);
    if (!this.runtime) return; // registration still under way
    if (msg.type === 'heartbeat') return this.hub.heartbeat(this);
    this.queue = this.queue.then(() => this.hub.applied(this, msg));
  }

  /** Send a message that is not part of the change stream (welcome). */
  sendControl(text: string): void {
    if (!this.isClosed) this.link.send(text);
  }

  /** Send a snapshot of the host's view of the current model and stream changes after it. */
  sendSnapshot(): void {
    if (this.isClosed || !this.runtime) return;
    const view = this.hub.view();
    const interest = new HostInterest(this.runtime.host);
    const text = JSON.stringify({ type: 'snapshot', revision: view.revision, docs: interest.snapshot(view) });
    this.interest = interest;
    this.link.send(text);
    this.sentRevision = view.revision;
    this.snapshotsSent++;
    this.allowance = Buffer.byteLength(text);
    this.streaming = true;
  }

  /**
   * One commit's changes for this host, in two halves so that the hub can write to the hosts the
   * commit changes before the others. prepare(): what of the commit concerns this host (maybe
   * nothing: the message is still sent, so that revisions stay contiguous), or undefined when
   * nothing is to be sent (not streaming, fallen behind: the agent reads too slowly, or a fresh
   * snapshot went instead). Exactly one deliver() must follow a defined answer, before the next
   * commit's prepare().
   */
  prepare(commit: ViewCommit, view: ReadView): ChangeEntry[] | undefined {
    if (this.isClosed || !this.streaming || !this.interest) return undefined;
    const limit = this.hub.sendBufferLimit;
    const buffered = this.link.bufferedAmount;
    if (buffered > limit + this.allowance) {
      this.fallBehind(buffered);
      return undefined;
    }
    if (buffered <= limit) this.allowance = 0;
    try {
      return this.interest.apply(commit, view);
    } catch (err) {
      // A bug, not a state an agent can cause: start the host's view over.
      this.hub.warn({ host: this.runtime?.host, err: String(err) }, 'host view out of step; sending a fresh snapshot');
      this.sendSnapshot();
      return undefined;
    }
  }

  /** The second half: sends the changes prepare() found, with the API request ids that made the commit. */
  deliver(revision: number, changes: readonly ChangeEntry[], requestIds?: readonly string[]): void {
    if (this.isClosed) return;
    this.link.send(JSON.stringify({ type: 'changes', revision, changes, ...(requestIds?.length ? { requestIds } : {}) }));
    this.sentRevision = revision;
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
    this.streaming = false;
    this.clearHelloTimer();
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    this.hub.sessionClosed(this);
  }

  private fallBehind(buffered: number): void {
    this.streaming = false;
    this.interest = undefined;
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
