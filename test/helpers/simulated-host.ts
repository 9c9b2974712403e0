// Simulated hypervisors for scale tests and benchmarks: each runs the agent's real controller
// channel (agent/sync/channel-client.ts), host model and incremental flow compilers (Dataplane with
// ALL_FEATURES), wired as weft-agent wires them (agent/sync/dataplane-feed.ts), over a fake switch
// that only keeps the flows it is given. A fake Nova plugs every port bound to the host as soon as
// the model has it, so that ports get flows and are reported up, as on a real host.
// Only the switch and the VMs are fake: the protocol, the model and the compile are weft-agent's.
import { Dataplane, type FlowSink } from '../../agent/dataplane.ts';
import type { FlowChanges, HostConfig } from '../../agent/features/engine.ts';
import { ALL_FEATURES } from '../../agent/features/index.ts';
import type { ModelEvent } from '../../agent/model/host-model.ts';
import { flowKey, type Flow } from '../../agent/pipeline/flow.ts';
import { ControllerChannel } from '../../agent/sync/channel-client.ts';
import { feedDataplane } from '../../agent/sync/dataplane-feed.ts';
import type { ViewKind } from '../../schemas/agent/view.ts';

/** What the reconciler would have installed: the flows, by key. */
export class FakeSwitch implements FlowSink {
  readonly flows = new Map<string, Flow>();

  async resync(desired: Iterable<Flow>): Promise<void> {
    this.flows.clear();
    for (const f of desired) this.flows.set(flowKey(f), f);
  }

  async apply(changes: FlowChanges): Promise<void> {
    for (const [key, f] of changes) {
      if (f) this.flows.set(key, f);
      else this.flows.delete(key);
    }
  }
}

/** Controller messages a simulated host took in, by type, and the heartbeats it sent. */
export interface ChannelCounts {
  snapshot: number;
  changes: number;
  revision: number;
  heartbeats: number;
}

/** The br-int ofport of the VXLAN port, as prepareBridges would report it. */
const TUNNEL_OFPORT = 1;
/** VMs' ofports start above the tunnel's. */
const FIRST_VM_OFPORT = 10;

export class SimulatedHost {
  readonly channel: ControllerChannel;
  readonly dataplane: Dataplane;
  readonly switch = new FakeSwitch();
  counts: ChannelCounts = { snapshot: 0, changes: 0, revision: 0, heartbeats: 0 };
  /** The revision the dataplane last reported applied. */
  appliedRevision: number | undefined;
  /** Dataplane failures (a compiler that throws): tests expect none. */
  readonly errors: Error[] = [];
  private readonly plugged = new Set<string>();
  private nextOfport = FIRST_VM_OFPORT;

  constructor(readonly host: string, tunnelIp: string, url: string, token: string) {
    const config: HostConfig = { host, tunnelIp, bridgeMappings: {}, tunnelOfport: TUNNEL_OFPORT, uplinks: {} };
    this.dataplane = new Dataplane(config, ALL_FEATURES, this.switch);
    this.channel = new ControllerChannel({
      urls: [url], token, hello: { host, tunnelIp, bridgeMappings: {}, datapath: 'netdev' },
    });
    feedDataplane(this.channel, this.dataplane);
    this.channel.on('snapshot', () => this.counts.snapshot++);
    this.channel.on('changes', () => this.counts.changes++);
    this.channel.on('revision', () => this.counts.revision++);
    this.channel.on('heartbeat', () => this.counts.heartbeats++);
    this.dataplane.on('applied', (r) => (this.appliedRevision = r.revision));
    this.dataplane.on('model', (events) => this.plugVms(events));
    this.dataplane.on('error', (err) => this.errors.push(err));
  }

  start(): void {
    this.channel.start();
  }

  resetCounts(): void {
    this.counts = { snapshot: 0, changes: 0, revision: 0, heartbeats: 0 };
  }

  /** The ids of one kind its host model holds. */
  held(kind: ViewKind): Set<string> {
    return new Set([...this.dataplane.model.all(kind)].map((d) => d.id));
  }

  async close(): Promise<void> {
    await this.channel.close();
    await this.dataplane.idle();
  }

  /** Nova's part: a port bound here gets a VM on the next ofport; one that leaves loses it. */
  private plugVms(events: readonly ModelEvent[]): void {
    for (const e of events) {
      if (e.type !== 'doc' || e.kind !== 'port') continue;
      const local = e.next !== undefined && (e.next as { 'binding:host_id': string })['binding:host_id'] === this.host;
      if (local && !this.plugged.has(e.id)) {
        this.plugged.add(e.id);
        this.dataplane.plugged(e.id, this.nextOfport++);
      } else if (!local && this.plugged.delete(e.id)) {
        this.dataplane.unplugged(e.id);
      }
    }
  }
}

/** `count` simulated hosts named `${prefix}-000`... with tunnel endpoints in 198.18.0.0/15, connecting to `url`. */
export function simulatedHosts(count: number, url: string, token: string, prefix = 'compute'): SimulatedHost[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}-${String(i).padStart(3, '0')}`;
    return new SimulatedHost(name, `198.18.${i >> 8}.${(i & 255) + 1}`, url, token);
  });
}

export async function closeAll(hosts: readonly SimulatedHost[]): Promise<void> {
  await Promise.all(hosts.map((h) => h.close().catch(() => undefined)));
}
