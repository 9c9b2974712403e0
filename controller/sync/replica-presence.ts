import { randomUUID } from 'node:crypto';
import type { SharedLease, SharedState, SharedWatch } from '../store/shared-state.ts';
import { decodePresence, encodePresence, inStepFloor, mustPublish, RemotePresence, type PresenceEntry } from './presence.ts';

// The replicas' agent presence, in the shared state (presence.ts says what a record holds):
//   presence/agents/<replica>  this replica's agents, rewritten when one comes, goes or changes
//                              alive (at most every minIntervalMs), and otherwise about once per
//                              down time while something changed (heartbeat times, revisions)
//   presence/wants/<replica>   the highest revision a wait for the dataplane on this replica needs
//                              other replicas' agents for: while it is beyond what a replica
//                              published, that replica publishes its agents' progress promptly
// Both keys are held by one lease with the agents' down time as its time to live: a replica that
// dies or hangs loses them that long after, and until then its agents stay listed as they were,
// so an agent that fails over to another replica within that time is never seen dead (its new
// session supersedes the old one). A replica that stops releases the lease the same way.
// Every replica watches `presence/` and keeps the others' records in a RemotePresence.

export const PRESENCE_PREFIX = 'presence/';
const AGENTS = `${PRESENCE_PREFIX}agents/`;
const WANTS = `${PRESENCE_PREFIX}wants/`;

export interface ReplicaPresenceOptions {
  shared: SharedState;
  /** Milliseconds without a heartbeat after which an agent is not alive. */
  downMs: number;
  /** This replica's agents as they are now (AgentDirectory.published). */
  local: () => PresenceEntry[];
  /** The model's revision on this replica. */
  revision: () => number;
  /** Another replica's record or wants changed. */
  onRemoteChange: () => void;
  /** Default: a random id (a restarted replica is a new one; its old record runs out). */
  replica?: string;
  /** Least time between two writes of this replica's record (default 50 ms). */
  minIntervalMs?: number;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

/** After a failed write, the wait before the next try. */
const RETRY_MS = 1000;

export class ReplicaPresence {
  readonly replica: string;
  readonly remote = new RemotePresence();
  private readonly shared: SharedState;
  private readonly lease: SharedLease;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly refreshMs: number;
  private watch: SharedWatch | undefined;
  private tick: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private published: PresenceEntry[] = [];
  private publishedFloor = Infinity;
  private lastWriteAt = -Infinity;
  /** After a failed write, no other before this. */
  private retryAt = -Infinity;
  private writing = false;
  /** A change came while writing: look again after. */
  private again = false;
  private readonly othersWant = new Map<string, number>();
  /** What this replica's wants key holds (or is being written). */
  private wanted = -1;
  private wantWrite: Promise<void> = Promise.resolve();
  private isClosed = false;

  constructor(private readonly o: ReplicaPresenceOptions) {
    this.replica = o.replica ?? randomUUID();
    this.shared = o.shared;
    this.lease = o.shared.lease(o.downMs);
    this.now = o.now ?? Date.now;
    this.minIntervalMs = o.minIntervalMs ?? 50;
    this.refreshMs = o.downMs;
  }

  /** Learn what the others published; resolves once their records are read. */
  async start(): Promise<void> {
    this.watch = await this.shared.watch(PRESENCE_PREFIX, (key, value) => this.heard(key, value));
    // Agents go silent without an event: look now and then whether one stopped being alive.
    const tickMs = Math.min(1000, Math.max(20, this.o.downMs / 6));
    this.tick = setInterval(() => this.soon(), tickMs);
    this.tick.unref();
    if (this.isClosed) await this.close();
  }

  /** An agent came, went or changed alive here: the others learn it within minIntervalMs. */
  changed(): void {
    this.soon();
  }

  /** An agent here got further: published promptly only while another replica waits beyond what it has. */
  progressed(): void {
    if (this.wantedByOthers() > this.publishedFloor) this.soon();
  }

  /** A wait here needs other replicas' agents in step at `revision`. */
  want(revision: number): void {
    if (revision <= this.wanted || this.isClosed) return;
    this.wanted = revision;
    // One write at a time, each with the highest revision wanted by then.
    this.wantWrite = this.wantWrite.then(async () => {
      if (this.isClosed) return;
      try {
        await this.lease.put(`${WANTS}${this.replica}`, String(this.wanted));
      } catch (err) {
        this.o.log?.warn({ err: String(err) }, 'cannot publish a wait for the dataplane to the other replicas');
      }
    });
  }

  /** Stop publishing and listening; the records go when the lease's time runs out (see above). */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.tick) clearInterval(this.tick);
    if (this.timer) clearTimeout(this.timer);
    this.tick = this.timer = undefined;
    await this.watch?.stop();
    this.watch = undefined;
    await this.lease.release();
  }

  private heard(key: string, value: string | undefined): void {
    if (this.isClosed) return;
    if (key.startsWith(AGENTS)) {
      const replica = key.slice(AGENTS.length);
      if (replica === this.replica) return;
      const record = value === undefined ? undefined : decodePresence(value);
      if (value !== undefined && !record) this.o.log?.warn({ key }, 'not a presence record; ignored');
      this.remote.apply(replica, record);
      // A newer session elsewhere may end one of ours: what we publish may change.
      this.soon();
    } else if (key.startsWith(WANTS)) {
      const replica = key.slice(WANTS.length);
      if (replica === this.replica) return;
      const revision = Number(value);
      if (value === undefined || !Number.isInteger(revision)) this.othersWant.delete(replica);
      else this.othersWant.set(replica, revision);
      this.progressed();
    }
    this.o.onRemoteChange();
  }

  private wantedByOthers(): number {
    let max = -1;
    for (const r of this.othersWant.values()) max = Math.max(max, r);
    return max;
  }

  /** Look at the record again as soon as the write rate allows. */
  private soon(): void {
    if (this.isClosed) return;
    const due = Math.max(this.now(), this.lastWriteAt + this.minIntervalMs, this.retryAt);
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      void this.publish();
    }, Math.max(0, due - this.now()));
    this.timer.unref();
  }

  private async publish(): Promise<void> {
    if (this.isClosed) return;
    if (this.writing) {
      this.again = true;
      return;
    }
    const current = this.o.local();
    const refreshDue = this.now() - this.lastWriteAt >= this.refreshMs;
    if (!mustPublish(this.published, current, { wanted: this.wantedByOthers(), refreshDue })) return;
    this.writing = true;
    const previousWriteAt = this.lastWriteAt;
    this.lastWriteAt = this.now();
    try {
      await this.lease.put(`${AGENTS}${this.replica}`, encodePresence({ replica: this.replica, revision: this.o.revision(), agents: current }));
      this.published = current;
      this.publishedFloor = inStepFloor(current);
    } catch (err) {
      if (!this.isClosed) this.o.log?.warn({ err: String(err) }, 'cannot publish agent presence; trying again');
      this.lastWriteAt = previousWriteAt;
      this.retryAt = this.now() + RETRY_MS;
      this.again = true;
    } finally {
      this.writing = false;
    }
    if (this.again) {
      this.again = false;
      this.soon();
    }
  }
}
