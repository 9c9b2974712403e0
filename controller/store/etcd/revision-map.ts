// Which etcd revision each recent Weft revision was committed at (for reading etcd's history from
// a Weft revision, and for compaction), and the commit id of the latest ones (a commit whose
// answer was lost looks its id up to learn whether it landed).

const COMMIT_IDS_KEPT = 4096;
const COMPACT_EVERY = 1000;

export class RevisionMap {
  private weft: number[] = [];
  private etcd: number[] = [];
  private readonly commits = new Map<number, string>();

  constructor(private readonly keep: number) {}

  add(revision: number, etcdRevision: number, commit?: string): void {
    this.weft.push(revision);
    this.etcd.push(etcdRevision);
    if (this.weft.length > this.keep + COMPACT_EVERY) {
      const drop = this.weft.length - this.keep;
      this.weft = this.weft.slice(drop);
      this.etcd = this.etcd.slice(drop);
    }
    if (commit) {
      this.commits.set(revision, commit);
      if (this.commits.size > COMMIT_IDS_KEPT) this.commits.delete(this.commits.keys().next().value!);
    }
  }

  /** The etcd revision of Weft revision `revision`, if it is among the recent ones. */
  etcdRevisionOf(revision: number): number | undefined {
    let lo = 0;
    let hi = this.weft.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.weft[mid] === revision) return this.etcd[mid];
      if (this.weft[mid] < revision) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The etcd revision of the oldest Weft revision this map knows (undefined when empty). */
  oldest(): { revision: number; etcdRevision: number } | undefined {
    return this.weft.length ? { revision: this.weft[0], etcdRevision: this.etcd[0] } : undefined;
  }

  commitAt(revision: number): string | undefined {
    return this.commits.get(revision);
  }

  /** At every COMPACT_EVERY-th revision: the etcd revision before which history may go. */
  compactionPoint(revision: number): number | undefined {
    if (revision % COMPACT_EVERY !== 0 || revision <= this.keep) return undefined;
    return this.etcdRevisionOf(revision - this.keep);
  }

  clear(): void {
    this.weft = [];
    this.etcd = [];
    this.commits.clear();
  }
}
