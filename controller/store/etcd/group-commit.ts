import type { ITxnRequest } from 'etcd3';
import { ModelCache, Transaction } from '../model-cache.ts';
import type { Change, Committed, Tx } from '../types.ts';
import type { EtcdKeys, HeadValue } from './keys.ts';

// The pure half of the etcd store's group commit: the bodies waiting for a txn run one on top of
// the other against the cache, the txn that writes what they wrote (guarded by the head's
// mod_revision, and by the absence of every claim they take), and their answers once it landed.

export interface Pending {
  body: (tx: Tx) => unknown;
  origin: string | undefined;
  resolve(c: Committed<unknown>): void;
  reject(err: unknown): void;
}

export interface Outcome {
  item: Pending;
  ok: boolean;
  value: unknown;
  hooks: Array<(revision: number) => void>;
}

/** Runs each body on top of the ones before it; a body that throws leaves no write. */
export function runBodies(cache: ModelCache, batch: Pending[], maxTxnOps: number): { group: Transaction; outcomes: Outcome[]; rest: Pending[] } {
  const group = new Transaction(cache);
  const outcomes: Outcome[] = [];
  let writes = 0;
  let taken = 0;
  for (const item of batch) {
    const tx = new Transaction(group);
    let outcome: Outcome;
    try {
      outcome = { item, ok: true, value: item.body(tx), hooks: tx.commitHooks };
    } catch (err) {
      outcome = { item, ok: false, value: err, hooks: [] };
    }
    const count = outcome.ok ? tx.writeCount() : 0;
    if (taken && writes + count > maxTxnOps) break;
    if (outcome.ok) tx.mergeInto(group);
    writes += count;
    taken++;
    outcomes.push(outcome);
  }
  return { group, outcomes, rest: batch.slice(taken) };
}

/** Answers the bodies of a committed group; a body's error is given only now (its reads were committed state). */
export function settle(outcomes: Outcome[], revision: number, changes: readonly Change[]): void {
  for (const o of outcomes) {
    if (!o.ok) {
      o.item.reject(o.value);
      continue;
    }
    for (const hook of o.hooks) afterCommitSafely(() => hook(revision));
    o.item.resolve({ result: o.value, revision, changes });
  }
}

export function txnRequest(keys: EtcdKeys, cache: ModelCache, headModRevision: number, group: Transaction, head: HeadValue): ITxnRequest {
  const compare: NonNullable<ITxnRequest['compare']> = [
    { key: Buffer.from(keys.head), target: 'Mod', result: 'Equal', mod_revision: headModRevision },
  ];
  const success: NonNullable<ITxnRequest['success']> = [
    { request_put: { key: Buffer.from(keys.head), value: Buffer.from(JSON.stringify(head)) } },
  ];
  for (const [kind, written] of group.writes.docs) {
    for (const [id, doc] of written) {
      const key = Buffer.from(keys.doc(kind, id));
      if (doc) success.push({ request_put: { key, value: Buffer.from(JSON.stringify(doc)) } });
      else if (cache.get(kind, id)) success.push({ request_delete_range: { key } });
    }
  }
  for (const [scope, written] of group.writes.claims) {
    for (const [claimKey, owner] of written) {
      const key = Buffer.from(keys.claim(scope, claimKey));
      const held = cache.claimOwner(scope, claimKey) !== undefined;
      if (owner === null) {
        if (held) success.push({ request_delete_range: { key } });
        continue;
      }
      // A claim is a key: a new one must not exist in etcd, whatever this replica's cache says.
      if (!held) compare.push({ key, target: 'Create', result: 'Equal', create_revision: 0 });
      success.push({ request_put: { key, value: Buffer.from(owner) } });
    }
  }
  return { compare, success, failure: [{ request_range: { key: Buffer.from(keys.head) } }] };
}

/** What turns cache `a` into cache `b`, as changes at `revision`. */
export function diffCaches(a: ModelCache, b: ModelCache, revision: number): Change[] {
  const out: Change[] = [];
  for (const kind of new Set([...a.kinds(), ...b.kinds()])) {
    for (const prev of a.list(kind)) {
      const doc = b.get(kind, prev.id) ?? null;
      if (!doc) out.push({ revision, kind, id: prev.id, op: 'delete', doc, prev });
      else if (JSON.stringify(doc) !== JSON.stringify(prev)) out.push({ revision, kind, id: prev.id, op: 'update', doc, prev });
    }
    for (const doc of b.list(kind)) if (!a.get(kind, doc.id)) out.push({ revision, kind, id: doc.id, op: 'create', doc, prev: null });
  }
  return out;
}

export function afterCommitSafely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error('weft store: an after-commit callback failed', err);
  }
}
