import type { ChangesMessage, ResumeState, SnapshotMessage } from '../../schemas/agent/channel.ts';

// What the agent has taken in from the controller, as far as resuming needs it: the revision of the
// last message and the ids it holds of each kind. It follows the messages in the order they are
// handed on, so it is what the agent's model holds once its queue has run (the dataplane folds the
// same messages in the same order), which is the base the controller resumes from.

export class HeldView {
  private at: number | undefined;
  private readonly ids = new Map<string, Set<string>>();

  /** The revision of the last message taken in; undefined before a snapshot (or after forget()). */
  get revision(): number | undefined {
    return this.at;
  }

  replace(snapshot: SnapshotMessage): void {
    this.ids.clear();
    for (const [kind, docs] of Object.entries(snapshot.docs)) this.ids.set(kind, new Set(docs.map((d) => String(d.id))));
    this.at = snapshot.revision;
  }

  fold(changes: ChangesMessage): void {
    for (const c of changes.changes) {
      let ids = this.ids.get(c.kind);
      if (!ids) this.ids.set(c.kind, (ids = new Set()));
      if (c.op === 'delete') ids.delete(c.id);
      else ids.add(c.id);
    }
    this.at = changes.revision;
  }

  advance(revision: number): void {
    this.at = revision;
  }

  /** Nothing held is to be trusted any more (a message out of step): the next connection starts from a snapshot. */
  forget(): void {
    this.ids.clear();
    this.at = undefined;
  }

  /** What a hello offers to resume from, or undefined when there is nothing to resume. */
  resumeState(agentId: string): ResumeState | undefined {
    if (this.at === undefined) return undefined;
    const held: ResumeState['held'] = {};
    for (const [kind, ids] of this.ids) if (ids.size) held[kind as keyof ResumeState['held']] = [...ids];
    return { agentId, revision: this.at, held };
  }
}
