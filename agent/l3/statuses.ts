// The statuses of the routers and floating IPs an L3 manager carries, and what of them the
// controller has not been told yet. PURE: no I/O. Taking the changes looks only at the entries set
// since the last take, so a pass that touched one router reports in time independent of how many
// routers the host has.
export type RouterState = 'active' | 'error';
export type FloatingIpState = 'active' | 'down';

export interface L3Status {
  routers: Record<string, RouterState>;
  floatingips: Record<string, FloatingIpState>;
}

export class L3StatusBook {
  private readonly routers = new Map<string, RouterState>();
  private readonly fips = new Map<string, FloatingIpState>();
  private readonly reportedRouters = new Map<string, RouterState>();
  private readonly reportedFips = new Map<string, FloatingIpState>();
  /** Ids set (or removed) since the last takeChanges(). */
  private readonly pendingRouters = new Set<string>();
  private readonly pendingFips = new Set<string>();

  router(id: string): RouterState | undefined {
    return this.routers.get(id);
  }

  /** undefined: the router is not carried here (any more). */
  setRouter(id: string, state: RouterState | undefined): void {
    if (state === undefined) this.routers.delete(id);
    else this.routers.set(id, state);
    this.pendingRouters.add(id);
  }

  routerIds(): IterableIterator<string> {
    return this.routers.keys();
  }

  /** undefined: the floating IP is not mapped here (any more). */
  setFloatingIp(id: string, state: FloatingIpState | undefined): void {
    if (state === undefined) this.fips.delete(id);
    else this.fips.set(id, state);
    this.pendingFips.add(id);
  }

  /** Everything as it is now: routers carried here and their floating IPs. */
  all(): L3Status {
    return { routers: Object.fromEntries(this.routers), floatingips: Object.fromEntries(this.fips) };
  }

  /** The next takeChanges() carries every status again (e.g. after a reconnect). */
  forgetReported(): void {
    this.reportedRouters.clear();
    this.reportedFips.clear();
    for (const id of this.routers.keys()) this.pendingRouters.add(id);
    for (const id of this.fips.keys()) this.pendingFips.add(id);
  }

  /**
   * What changed since it was last reported. A floating IP reported active that is no longer
   * mapped here becomes 'down', as long as it still exists (`exists`); one gone is forgotten.
   */
  takeChanges(exists: (floatingIpId: string) => boolean): L3Status {
    const changes: L3Status = { routers: {}, floatingips: {} };
    for (const id of this.pendingRouters) {
      const now = this.routers.get(id);
      if (now === undefined) this.reportedRouters.delete(id);
      else if (this.reportedRouters.get(id) !== now) {
        changes.routers[id] = now;
        this.reportedRouters.set(id, now);
      }
    }
    for (const id of this.pendingFips) {
      const now = this.fips.get(id) ?? (this.reportedFips.get(id) === 'active' ? 'down' : undefined);
      if (!exists(id)) this.reportedFips.delete(id);
      else if (now !== undefined && this.reportedFips.get(id) !== now) {
        changes.floatingips[id] = now;
        this.reportedFips.set(id, now);
      }
    }
    this.pendingRouters.clear();
    this.pendingFips.clear();
    return changes;
  }
}
