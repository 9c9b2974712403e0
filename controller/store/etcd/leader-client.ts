import { noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';

// The etcd3 client sends each call to a member picked at random. A txn sent to a follower costs
// one more hop (the follower forwards the proposal to the leader, then waits to apply it itself),
// which is most of the latency of a small commit. So commits and quorum reads go to a client
// bound to the current raft leader; the pooled client answers while the leader is unknown or
// unreachable, and the leader is looked up again after any error and every few seconds. The
// leader's client neither retries nor breaks circuits: a leader that died fails the call at once,
// and the caller goes on through the pool.

const RECHECK_MS = 5_000;

export class LeaderClient {
  private readonly perEndpoint: Etcd3[];
  private leader: Etcd3 | undefined;
  private checkedAt = 0;
  private finding: Promise<void> | undefined;
  private isClosed = false;

  constructor(private readonly pooled: Etcd3, endpoints: readonly string[], options: Omit<IOptions, 'hosts'>) {
    // One endpoint: the pool already has nothing to choose from.
    this.perEndpoint = endpoints.length > 1 ? endpoints.map((host) => new Etcd3({ ...options, hosts: [host], faultHandling: { global: noop, host: () => noop } })) : [];
  }

  /** The client to send a commit to now: the leader's when known, otherwise the pool. */
  current(): Etcd3 {
    if (this.perEndpoint.length && Date.now() - this.checkedAt > RECHECK_MS) this.find();
    return this.leader ?? this.pooled;
  }

  /** The call through `client` failed: look for the leader again. True if it was the leader's (then the pool may be tried at once). */
  failed(client: Etcd3): boolean {
    this.checkedAt = 0;
    if (client !== this.leader) return false;
    this.leader = undefined;
    return true;
  }

  close(): void {
    this.isClosed = true;
    for (const c of this.perEndpoint) c.close();
  }

  private find(): void {
    if (this.finding || this.isClosed) return;
    this.checkedAt = Date.now();
    this.finding = this.lookUp().finally(() => (this.finding = undefined));
  }

  private async lookUp(): Promise<void> {
    const deadline = () => ({ deadline: Date.now() + 1000 });
    const answers = await Promise.all(this.perEndpoint.map((c) => c.maintenance.status(deadline()).catch(() => undefined)));
    let found: Etcd3 | undefined;
    answers.forEach((status, i) => {
      if (status && status.header.member_id === status.leader) found = this.perEndpoint[i];
    });
    if (!this.isClosed) this.leader = found;
  }
}
