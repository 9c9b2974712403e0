import type { Etcd3 } from 'etcd3';
import type { RevisionMap } from './revision-map.ts';

// etcd keeps every revision until it is compacted. The store compacts on two clocks:
//   commits  every 1,000 Weft revisions, history older than the last keepRevisions commits goes
//            (RevisionMap.compactionPoint);
//   time     the shared state (agent presence) writes etcd revisions while the model is quiet,
//            which no commit would ever compact: history older than keepHistoryMs goes too, even
//            when it holds fewer commits. An agent away longer than that gets a snapshot.
// The time clock samples etcd's revision every keepHistoryMs / 10 and compacts at the newest
// sample that is old enough. Every replica compacts; one that comes second gets "compacted", which
// is fine.

export interface CompactorOptions {
  keepHistoryMs: number;
  /** etcd's current revision (a local read of any key: its header). */
  currentRevision: () => Promise<number>;
  log?: { warn(obj: object, msg: string): void };
}

interface Sample {
  at: number;
  etcdRevision: number;
}

export class EtcdCompactor {
  private samples: Sample[] = [];
  private compactedTo = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(
    private readonly client: Etcd3,
    private readonly revisions: RevisionMap,
    private readonly o: CompactorOptions,
  ) {}

  start(): void {
    const every = Math.min(60_000, Math.max(20, Math.floor(this.o.keepHistoryMs / 10)));
    this.timer = setInterval(() => void this.sample(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** After the commit of Weft revision `revision`. */
  committed(revision: number): void {
    const point = this.revisions.compactionPoint(revision);
    if (point !== undefined) this.compact(point);
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const now = Date.now();
      this.samples.push({ at: now, etcdRevision: await this.o.currentRevision() });
      let due: Sample | undefined;
      while (this.samples.length && this.samples[0].at <= now - this.o.keepHistoryMs) due = this.samples.shift();
      if (due) this.compact(due.etcdRevision);
    } catch {
      // etcd out of reach: the next sample tries again.
    } finally {
      this.sampling = false;
    }
  }

  private compact(etcdRevision: number): void {
    if (etcdRevision <= this.compactedTo) return;
    this.compactedTo = etcdRevision;
    this.client.kv.compact({ revision: etcdRevision }).catch((err) => {
      // Another replica compacted first, or etcd compacts by itself: either is fine.
      if (!/compacted/.test(String(err))) this.o.log?.warn({ err: String(err) }, 'etcd compaction failed');
    });
  }
}
