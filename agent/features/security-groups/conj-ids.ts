// Conjunction ids of security group rules: stable across restarts and hosts, derived from the rule
// id, and never shared by two rules of the same host model.
//
// Scheme:
//  * primary(id) = FNV-1a-32(id) with the top bit cleared (0 becomes 1: conj_id 0 is what packets
//    that matched no conjunction carry). Almost every rule keeps its primary id forever.
//  * Rules whose primary ids collide: the one with the smallest id (string order) keeps it; the
//    others are "displaced". All displaced rules of the model, in id order, take in turn the first
//    free id of 0x80000000 | FNV-1a-32(`${k}#${id}`) for k = 1, 2, ... The top bit keeps them apart
//    from every primary id, so a displaced rule never moves a rule that did not collide.
//  * The assignment depends only on the set of rule ids, not on the order rules arrived in, so an
//    incremental update and a full compile agree. Adding or removing a rule can change the ids of
//    the rules of its collision group and of displaced rules only (neighbours()); with 5,000 rules
//    a collision happens with a probability of about 0.3 %, and displaced rules are that rare.
// The index is kept per HostModel: rebuilt by a full compile, kept up to date by rule events.

export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const primaryConjId = (ruleId: string): number => (fnv1a32(ruleId) & 0x7fffffff) || 1;
const secondaryConjId = (ruleId: string, k: number): number => (0x80000000 | (fnv1a32(`${k}#${ruleId}`) & 0x7fffffff)) >>> 0;

export class ConjIds {
  private readonly byPrimary = new Map<number, Set<string>>();
  /** Primary ids held by two or more rules. */
  private readonly collided = new Set<number>();
  /** Displaced rule -> its secondary id; recomputed when a collision group changes. */
  private displaced: Map<string, number> | undefined;

  constructor(ruleIds: Iterable<string> = []) {
    for (const id of ruleIds) this.add(id);
  }

  has(ruleId: string): boolean {
    return this.byPrimary.get(primaryConjId(ruleId))?.has(ruleId) ?? false;
  }

  add(ruleId: string): void {
    const p = primaryConjId(ruleId);
    let set = this.byPrimary.get(p);
    if (!set) this.byPrimary.set(p, (set = new Set()));
    if (set.has(ruleId)) return;
    set.add(ruleId);
    if (set.size > 1) {
      this.collided.add(p);
      this.displaced = undefined;
    }
  }

  delete(ruleId: string): void {
    const p = primaryConjId(ruleId);
    const set = this.byPrimary.get(p);
    if (!set?.delete(ruleId)) return;
    if (set.size === 0) this.byPrimary.delete(p);
    if (this.collided.has(p)) {
      if (set.size < 2) this.collided.delete(p);
      this.displaced = undefined;
    }
  }

  /** The rule's conjunction id (as if it were in the index when it is not). */
  idOf(ruleId: string): number {
    if (!this.has(ruleId)) return primaryConjId(ruleId);
    return this.displacedIds().get(ruleId) ?? primaryConjId(ruleId);
  }

  /**
   * Rules whose id may differ depending on whether `ruleId` is in the index: the rules sharing its
   * primary id, and every displaced rule. The same answer before and after the change, and empty
   * unless a collision is involved.
   */
  neighbours(ruleId: string): string[] {
    const others = [...(this.byPrimary.get(primaryConjId(ruleId)) ?? [])].filter((id) => id !== ruleId);
    if (others.length === 0) return [];
    const out = new Set(others);
    for (const id of this.displacedIds().keys()) out.add(id);
    out.delete(ruleId);
    return [...out];
  }

  private displacedIds(): Map<string, number> {
    if (this.displaced) return this.displaced;
    const rules: string[] = [];
    for (const p of this.collided) {
      const group = [...this.byPrimary.get(p)!].sort(compare);
      rules.push(...group.slice(1));
    }
    rules.sort(compare);
    const out = new Map<string, number>();
    const used = new Set<number>();
    for (const id of rules) {
      let k = 1;
      let c = secondaryConjId(id, k);
      while (used.has(c)) c = secondaryConjId(id, ++k);
      used.add(c);
      out.set(id, c);
    }
    this.displaced = out;
    return out;
  }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
