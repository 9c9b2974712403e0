// HA routers are silenced (L3Manager.setFenced) for any of three reasons: the agent lost the
// controller for l3FenceMs (self-fence.ts), it is cut off from the underlay (agent/underlay), or
// it is stopping cleanly and hands its routers over (handover.ts; it never lifts).
// Fenced while any cause holds; each cause lifts itself once its own condition is over.

export type FenceCause = 'controller' | 'underlay' | 'leaving';

export class FenceCauses {
  private readonly on = new Set<FenceCause>();

  constructor(private readonly apply: (fenced: boolean) => Promise<void>) {}

  get fenced(): boolean {
    return this.on.size > 0;
  }

  /** Resolves once the routers are as the causes want them (at once when nothing changes). */
  set(cause: FenceCause, on: boolean): Promise<void> {
    const before = this.fenced;
    if (on) this.on.add(cause);
    else this.on.delete(cause);
    return this.fenced !== before ? this.apply(this.fenced) : Promise.resolve();
  }
}
