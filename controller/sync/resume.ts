import type { ChangeEntry, ResumeState } from '../../schemas/agent/channel.ts';
import { VIEW_KINDS, isViewKind, pickView } from '../../schemas/agent/view.ts';
import type { Change, Doc, Store } from '../store/types.ts';
import type { ViewDocsByKind } from './interest.ts';
import type { Session } from './session.ts';

// Resuming an agent's stream instead of sending it a snapshot. The agent's hello names the
// revision S of the last message it took in and the ids it holds of each kind: its host's view of
// the model at S, which any replica can tell apart from the view now without having seen the agent
// before. For every document changed after S the store's change log gives the document as it was
// at S (the `prev` of its first change after S); every other document is as it was. So, with V the
// host's view of the current model:
//   in V, not held                         -> create
//   in V, held, changed after S, view differs from S -> update
//   held, not in V                         -> delete
// which turns the agent's view at S into V exactly as a snapshot would (resume.test.ts compares
// the two). When the log no longer reaches back to S ('compacted'), or the store has not reached S
// yet within a short wait (a replica lagging behind the shared store), the agent gets a snapshot.
//
// The log is read asynchronously, and commits may land before the view is read: the store's commit
// feed is listened to from before the read until the caller has built the message (release()), so
// every commit up to the view it reads is counted. A change the log holds beyond that view is
// harmless: its document is compared as it was at S with what the view holds now.

/** `${kind}/${id}` of each document changed after the resume revision -> its first change after it, and the document before that change (null: created after the resume revision). */
export type ViewAtResume = ReadonlyMap<string, { readonly revision: number; readonly prev: Doc | null }>;

export interface ResumeBase {
  /** Filled until release(). */
  readonly before: ViewAtResume;
  release(): void;
}

export interface ResumeOptions {
  /** How long to wait for a store behind the agent's revision before giving up (a snapshot then). */
  catchUpMs: number;
  /** Stop waiting (the connection or the hub closed). */
  cancelled(): boolean;
}

const CATCH_UP_POLL_MS = 20;

const key = (kind: string, id: string) => `${kind}/${id}`;

/** What changed after `since`, or undefined when only a snapshot will do. Call release() once the message is built. */
export async function resumeBase(store: Store, since: number, options: ResumeOptions): Promise<ResumeBase | undefined> {
  const deadline = Date.now() + options.catchUpMs;
  while (store.revision < since) {
    if (options.cancelled() || Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, CATCH_UP_POLL_MS).unref());
  }
  const firstChange = new Map<string, { revision: number; prev: Doc | null }>();
  const note = (c: Change) => {
    if (c.revision <= since || !isViewKind(c.kind)) return;
    const k = key(c.kind, c.id);
    const known = firstChange.get(k);
    if (!known || c.revision < known.revision) firstChange.set(k, { revision: c.revision, prev: c.prev });
  };
  const unsubscribe = store.subscribe((changes) => changes.forEach(note));
  let log: Change[] | 'compacted';
  try {
    log = await store.changesSince(since);
  } catch (err) {
    unsubscribe();
    throw err;
  }
  if (log === 'compacted' || options.cancelled()) {
    unsubscribe();
    return undefined;
  }
  log.forEach(note);
  return { before: firstChange, release: unsubscribe };
}

/** The entries that turn the agent's view at the resume revision (`held`, `before`) into `now`. */
export function resumeEntries(now: ViewDocsByKind, held: ResumeState['held'], before: ViewAtResume): ChangeEntry[] {
  const entries: ChangeEntry[] = [];
  for (const kind of VIEW_KINDS) {
    const holds = new Set(held[kind] ?? []);
    for (const doc of now[kind]) {
      const id = String(doc.id);
      if (!holds.delete(id)) {
        entries.push({ kind, id, op: 'create', doc });
        continue;
      }
      const was = before.get(key(kind, id))?.prev;
      if (was === undefined) continue; // unchanged since: the agent's copy is current
      if (was && JSON.stringify(pickView(kind, was)) === JSON.stringify(doc)) continue;
      entries.push({ kind, id, op: 'update', doc });
    }
    for (const id of holds) entries.push({ kind, id, op: 'delete', doc: null });
  }
  return entries;
}

/** Sends the session the difference from what its agent holds, or a snapshot when the store cannot tell it. */
export async function resumeSession(session: Session, resume: ResumeState, o: {
  store: Store; catchUpMs: number; closed: () => boolean; log: { warn(obj: object, msg?: string): void };
}): Promise<void> {
  let base: ResumeBase | undefined;
  try {
    base = await resumeBase(o.store, resume.revision, { catchUpMs: o.catchUpMs, cancelled: () => session.closed || o.closed() });
  } catch (err) {
    o.log.warn({ err, host: session.runtime?.host }, 'cannot read the change log; sending a snapshot');
  }
  try {
    if (session.closed || o.closed()) return;
    if (base) session.sendResume(resume.revision, base.before, resume.held);
    else session.sendSnapshot();
  } finally {
    base?.release();
  }
}
