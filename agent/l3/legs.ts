// The state of each router's legs on this host (namespace.ts, LegState): 'active' (they answer)
// or 'silent' (a standby HA router, or an HA router while the agent fences itself off: built in
// full, its host-side veth ends down). A switch to active is one `ip -batch` plus gratuitous ARPs
// for every IPv4 address of the router (interfaces, gateway, floating IPs), three a second apart,
// so that the switches of the external and provider networks learn the router's MACs here. The
// announcements wait until this host's flows for the model the switch was planned from are
// installed (flowsReady; at most FLOWS_WAIT_MS): a gratuitous ARP sent before br-int knows the
// router's ports as local would be dropped, and the next one is a second later.
import type { L3Ops } from './ops.ts';
import type { LegState, RouterSpec } from './namespace.ts';

/** How many gratuitous ARPs, a second apart, announce each address of a router that becomes active. */
export const ACTIVATION_ANNOUNCEMENTS = 3;

/** Every IPv4 address of every leg of the router (floating IPs are the gateway's /32s). PURE. */
export function activationAddresses(spec: RouterSpec): { iface: string; ip: string }[] {
  const out: { iface: string; ip: string }[] = [];
  for (const leg of [...(spec.gateway ? [spec.gateway] : []), ...spec.interfaces]) {
    for (const cidr of leg.addresses) {
      const ip = cidr.split('/')[0]!;
      if (ip.includes('.')) out.push({ iface: leg.name, ip });
    }
  }
  return out;
}

/** Longest wait for the flows before announcing anyway. */
export const FLOWS_WAIT_MS = 1000;

type Background = (work: Promise<void>, context: Record<string, unknown>, message: string) => void;

/** Promises of "the flows are installed up to revision R", kept by the agent from its dataplane's reports. */
export class RevisionGate {
  private at = -1;
  private waiting: Array<{ revision: number; done: () => void }> = [];

  /** The dataplane installed everything up to `revision`. */
  reached(revision: number): void {
    this.at = Math.max(this.at, revision);
    const still: typeof this.waiting = [];
    for (const w of this.waiting) (w.revision <= this.at ? w.done() : still.push(w));
    this.waiting = still;
  }

  /** Resolves once `revision` is reached, or after `timeoutMs`. */
  wait(revision: number, timeoutMs = FLOWS_WAIT_MS): Promise<void> {
    if (revision <= this.at) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.waiting.push({ revision, done: () => { clearTimeout(timer); resolve(); } });
    });
  }
}

export class RouterLegs {
  private readonly state = new Map<string, LegState>();

  constructor(private readonly ops: Pick<L3Ops, 'setLegs' | 'announce'>, private readonly background: Background,
    private readonly flowsReady: () => Promise<void> = () => Promise.resolve()) {}

  get(id: string): LegState | undefined {
    return this.state.get(id);
  }

  /** What ensure() left the legs as. */
  set(id: string, legs: LegState): void {
    this.state.set(id, legs);
  }

  forget(id: string): void {
    this.state.delete(id);
  }

  /** Brings the legs of a built router to `want` (nothing when they are); announces its addresses when it becomes active. */
  async apply(id: string, ns: string, spec: RouterSpec, want: LegState): Promise<boolean> {
    if (this.state.get(id) === want) return false;
    if (!this.ops.setLegs) throw new Error('L3 ops cannot set router legs up or down');
    this.state.delete(id);
    await this.ops.setLegs(spec, want);
    this.state.set(id, want);
    if (want === 'active') this.announce(id, ns, spec);
    return true;
  }

  /** Makes the active legs of these routers silent now (self-fence), all at once; failures are logged. */
  async silence(routers: Array<{ id: string; spec: RouterSpec }>): Promise<void> {
    await Promise.all(routers.filter(({ id }) => this.state.get(id) === 'active').map(async ({ id, spec }) => {
      this.state.delete(id);
      const done = this.ops.setLegs!(spec, 'silent').then(() => void this.state.set(id, 'silent'));
      this.background(done, { router: id }, 'router legs not silenced (the next pass retries)');
      await done.catch(() => undefined);
    }));
  }

  /** Gratuitous ARPs for every address of the router, in the background, once the flows are in. */
  announce(id: string, ns: string, spec: RouterSpec): void {
    const ready = this.flowsReady();
    for (const { iface, ip } of activationAddresses(spec)) {
      const work = ready.then(() => this.ops.announce(ns, iface, ip, ACTIVATION_ANNOUNCEMENTS));
      this.background(work, { router: id, address: ip }, 'gratuitous ARP failed');
    }
  }
}
