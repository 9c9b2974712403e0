import type { Etcd3, IEvent, IWatchResponse, Watcher } from 'etcd3';
import type { Change, Doc } from '../types.ts';
import { parseHead, type EtcdKeys } from './keys.ts';
import { cancelQuietly } from './watches.ts';
import type { RevisionMap } from './revision-map.ts';

// The change log of the etcd store is etcd's own history: the changes after Weft revision W are the
// events on the model's keys after the etcd revision W was committed at, read with a watch that
// starts there (with each key's previous value). Which etcd revision that is comes from the
// replica's recent revisions, or else from a binary search over the head key's past values.
// Whatever etcd has compacted is 'compacted': the caller starts over from a snapshot.

const READ_TIMEOUT_MS = 30_000;

export class EtcdHistory {
  constructor(private readonly client: Etcd3, private readonly keys: EtcdKeys, private readonly revisions: RevisionMap) {}

  /** Changes after Weft revision `revision` up to `head` (committed at etcd revision `headEtcd`). */
  async changesSince(revision: number, head: number, headEtcd: number): Promise<Change[] | 'compacted'> {
    const from = revision === 0 ? 0 : this.revisions.etcdRevisionOf(revision) ?? (await this.search(revision, headEtcd));
    if (from === 'compacted') return 'compacted';
    if (from >= headEtcd) return [];
    const events = await this.read(from + 1, headEtcd);
    if (events === 'compacted') return 'compacted';
    return this.toChanges(events, head);
  }

  /** The etcd revision at which the head was set to `revision`, by bisecting the head's history. */
  private async search(revision: number, upTo: number): Promise<number | 'compacted'> {
    const head = Buffer.from(this.keys.head);
    let lo = 1;
    let hi = this.revisions.oldest()?.etcdRevision ?? upTo;
    let found: number | 'compacted' = 'compacted';
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      let value: number;
      let modRevision = 0;
      try {
        const res = await this.client.kv.range({ key: head, revision: mid });
        const kv = res.kvs[0];
        value = kv ? parseHead(kv.value).revision : 0;
        modRevision = kv ? Number(kv.mod_revision) : 0;
      } catch (err) {
        if (!isCompacted(err)) throw err;
        lo = mid + 1; // history before `mid` is gone; the answer, if any, lies after it
        continue;
      }
      if (value === revision) return modRevision;
      if (value < revision) lo = mid + 1;
      else {
        hi = mid - 1;
        found = 'compacted';
      }
    }
    return found;
  }

  /** Events on the model's keys from etcd revision `from` through `to`. */
  private async read(from: number, to: number): Promise<IEvent[] | 'compacted'> {
    let watcher;
    try {
      watcher = await this.client.watch().prefix(this.keys.model).startRevision(String(from)).withPreviousKV().create();
    } catch (err) {
      if (isCompacted(err)) return 'compacted';
      throw err;
    }
    try {
      return await new Promise<IEvent[] | 'compacted'>((resolve, reject) => {
        const events: IEvent[] = [];
        const timer = setTimeout(() => reject(new Error(`etcd history ${from}..${to} was not read in time`)), READ_TIMEOUT_MS);
        watcher.on('data', (res: IWatchResponse) => {
          for (const event of res.events) if (Number(event.kv.mod_revision) <= to) events.push(event);
          if (res.events.some((e) => Number(e.kv.mod_revision) >= to)) {
            clearTimeout(timer);
            resolve(events);
          }
        });
        watcher.on('error', (err) => {
          clearTimeout(timer);
          if (isCompacted(err)) resolve('compacted');
          else reject(err);
        });
      });
    } finally {
      await cancelQuietly(watcher);
    }
  }

  private toChanges(events: IEvent[], head: number): Change[] {
    const out: Change[] = [];
    let pending: Array<Omit<Change, 'revision'>> = [];
    let revision: number | undefined;
    let at = 0;
    const flush = () => {
      for (const c of pending) out.push({ ...c, revision: revision ?? head });
      pending = [];
      revision = undefined;
    };
    for (const event of events) {
      const rev = Number(event.kv.mod_revision);
      if (rev !== at) flush();
      at = rev;
      const key = this.keys.parse(event.kv.key.toString());
      if (key?.type === 'head' && event.type === 'Put') revision = parseHead(event.kv.value).revision;
      if (key?.type !== 'doc') continue;
      const doc = event.type === 'Put' ? (JSON.parse(event.kv.value.toString()) as Doc) : null;
      const prev = event.prev_kv?.value?.length ? (JSON.parse(event.prev_kv.value.toString()) as Doc) : null;
      if (!doc && !prev) continue;
      pending.push({ kind: key.kind, id: key.id, op: !prev ? 'create' : doc ? 'update' : 'delete', doc, prev });
    }
    flush();
    return out;
  }
}

/**
 * etcd cancels a watch whose start is compacted away with no reason given (etcd3 reports "Watcher
 * canceled: "): a cancelled history watch counts as compacted, whose remedy (a snapshot) is safe.
 */
export function isCompacted(err: unknown): boolean {
  return /compact|watcher canceled/i.test(String((err as Error)?.message ?? err));
}
