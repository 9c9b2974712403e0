import type { Etcd3 } from 'etcd3';
import { ModelCache } from '../model-cache.ts';
import type { Change, Doc, IndexSpec } from '../types.ts';
import { parseHead, prefixEnd, type EtcdKeys, type HeadValue } from './keys.ts';

// The model's keys into a replica's cache: the whole model at start (one consistent read, paged),
// and one commit at a time as the watch brings them.

export interface LoadedModel {
  cache: ModelCache;
  /** The head's mod_revision (0 before the first commit). */
  headModRevision: number;
  /** The etcd revision the read was made at: the watch follows from the next one. */
  at: number;
}

export async function loadModel(client: Etcd3, keys: EtcdKeys, indexes: IndexSpec): Promise<LoadedModel> {
  const cache = new ModelCache(indexes);
  let headModRevision = 0;
  const end = prefixEnd(keys.model);
  let from = Buffer.from(keys.model);
  let at = 0;
  for (;;) {
    // Pages of one consistent read: every page at the first page's revision.
    const res = await client.kv.range({ key: from, range_end: end, limit: 2000, ...(at ? { revision: at } : {}) });
    if (!at) at = Number(res.header.revision);
    for (const kv of res.kvs) {
      const key = keys.parse(kv.key.toString());
      if (key?.type === 'head') {
        cache.revision = parseHead(kv.value).revision;
        headModRevision = Number(kv.mod_revision);
      } else if (key?.type === 'doc') cache.applyDoc(key.kind, key.id, JSON.parse(kv.value.toString()) as Doc);
      else if (key?.type === 'claim') cache.applyClaim(key.scope, key.key, kv.value.toString());
    }
    if (!res.more || !res.kvs.length) break;
    from = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
  }
  return { cache, headModRevision, at };
}

/** One key a commit wrote, as the watch gave it: `value` null for a delete. */
export interface WatchedWrite {
  key: Buffer;
  value: Buffer | null;
}

/**
 * Applies the writes of one commit (one etcd revision) to the cache and moves it to the head's
 * revision; the changes it made. Undefined when the writes hold no head (not written by Weft).
 */
export function applyCommit(cache: ModelCache, keys: EtcdKeys, writes: readonly WatchedWrite[]): { head: HeadValue; changes: Change[] } | undefined {
  let head: HeadValue | undefined;
  const docs: Array<{ kind: string; id: string; doc: Doc | null }> = [];
  for (const write of writes) {
    const key = keys.parse(write.key.toString());
    if (!key) continue;
    const value = write.value === null ? null : write.value.toString();
    if (key.type === 'head') head = value === null ? undefined : parseHead(value);
    else if (key.type === 'claim') cache.applyClaim(key.scope, key.key, value);
    else docs.push({ kind: key.kind, id: key.id, doc: value === null ? null : (JSON.parse(value) as Doc) });
  }
  if (!head) return undefined;
  const changes: Change[] = [];
  for (const { kind, id, doc } of docs) {
    const prev = cache.get(kind, id) ?? null;
    cache.applyDoc(kind, id, doc);
    if (prev || doc) changes.push({ revision: head.revision, kind, id, op: !prev ? 'create' : doc ? 'update' : 'delete', doc, prev });
  }
  cache.revision = head.revision;
  return { head, changes };
}
