// HA routers on the agent: the role of a router on this host (manager-plan.ts), the legs kept
// silent on a standby and switched on promotion with gratuitous ARPs for every address
// (legs.ts, manager.ts), the self-fence (self-fence.ts), the dead-man switch's guard kept ahead of
// the legs (dead-man.ts).
import { describe, expect, it } from 'vitest';
import { L3Manager, planRouter, type L3Ops, type RouterPlan } from '../../../agent/l3/manager.ts';
import type { Announcement } from '../../../agent/l3/ops.ts';
import { compileRouter, legsOnlySwitches } from '../../../agent/l3/apply-key.ts';
import { activationAddresses, ACTIVATION_ANNOUNCEMENTS, RevisionGate } from '../../../agent/l3/legs.ts';
import { roleOf } from '../../../agent/l3/manager-plan.ts';
import { SelfFence } from '../../../agent/l3/self-fence.ts';
import { LegGuard, type GuardedPlan, type SettleView } from '../../../agent/l3/dead-man-guard.ts';
import { legBatchLines, type LegChange, type LegState, type RouterSpec } from '../../../agent/l3/namespace.ts';
import { HostModel } from '../../../agent/model/host-model.ts';

const R = 'r0000000-aaaa-bbbb-cccc-000000000001';
const net = (id: string, external = false) => ({
  id, project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan',
  'provider:physical_network': null, 'provider:segmentation_id': 100, 'router:external': external,
});
const subnet = (id: string, network_id: string, cidr: string, gateway_ip: string) =>
  ({ id, network_id, ip_version: 4, cidr, gateway_ip, enable_dhcp: true, dns_nameservers: [], host_routes: [] });
const port = (id: string, network_id: string, owner: string, ip: [string, string], host: string, mac: string, router = R) => ({
  id, network_id, admin_state_up: true, mac_address: mac, fixed_ips: [{ subnet_id: ip[0], ip_address: ip[1] }],
  allowed_address_pairs: [], port_security_enabled: false, security_groups: [], device_owner: owner, device_id: router, 'binding:host_id': host,
});

/** Router R, HA with gateway group `group`, its ports bound to `active`; a floating IP. */
function model(host: string, active: string, group: string[] | null): HostModel {
  const m = new HostModel(host);
  m.replace(1, {
    network: [net('ext', true), net('n1')],
    subnet: [subnet('ext-v4', 'ext', '203.0.113.0/24', '203.0.113.1'), subnet('n1-v4', 'n1', '10.0.0.0/24', '10.0.0.1')],
    port: [
      port('qr1-port-0001', 'n1', 'network:router_interface', ['n1-v4', '10.0.0.1'], active, 'fa:16:3e:00:00:11'),
      port('qg0-port-0003', 'ext', 'network:router_gateway', ['ext-v4', '203.0.113.10'], active, 'fa:16:3e:00:00:13'),
    ],
    router: [{
      id: R, project_id: 'p', admin_state_up: true, routes: [], gateway_hosts: group,
      external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [{ subnet_id: 'ext-v4', ip_address: '203.0.113.10' }] },
    }],
    floatingip: [{
      id: 'f1', project_id: 'p', floating_network_id: 'ext', floating_ip_address: '203.0.113.50', router_id: R,
      port_id: 'vm-port', fixed_ip_address: '10.0.0.5', port_forwardings: [],
    }],
  } as never);
  return m;
}

describe('router roles (pure)', () => {
  it('active where its ports are bound, standby in its gateway group, else not planned', () => {
    expect(roleOf(true, null, 'g1')).toBe('active');
    expect(roleOf(false, ['g1', 'g2'], 'g2')).toBe('standby');
    expect(roleOf(false, ['g1', 'g2'], 'g3')).toBeUndefined();
    expect(roleOf(false, null, 'g2')).toBeUndefined();
  });

  it('a standby plans the router in full (every router port, the NAT), the same spec as the active host', () => {
    const active = planRouter(model('g1', 'g1', ['g1', 'g2']), 'g1', R)!;
    const standby = planRouter(model('g2', 'g1', ['g1', 'g2']), 'g2', R)!;
    expect(active.role).toBe('active');
    expect(standby.role).toBe('standby');
    expect(standby.spec).toEqual(active.spec);
    expect(standby.nat).toEqual(active.nat);
    expect(planRouter(model('g3', 'g1', ['g1', 'g2']), 'g3', R)).toBeUndefined();
    expect(planRouter(model('g2', 'g1', null), 'g2', R)).toBeUndefined();
  });

  it('announces every IPv4 address of every leg, the floating IPs included, when a router becomes active', () => {
    const spec = planRouter(model('g1', 'g1', ['g1', 'g2']), 'g1', R)!.spec;
    expect(activationAddresses(spec).map((a) => `${a.iface} ${a.ip}`)).toEqual([
      'qg-qg0-port-00 203.0.113.10', 'qg-qg0-port-00 203.0.113.50', 'qr-qr1-port-00 10.0.0.1',
    ]);
  });
});

class FakeOps implements L3Ops {
  calls: string[] = [];
  async ensure(spec: RouterSpec, legs: LegState = 'active'): Promise<void> {
    this.calls.push(`ensure ${legs}`);
  }
  /** setLegs fails for batches of more than one router (the manager then goes one by one). */
  failBatches = false;
  async setLegs(changes: readonly LegChange[]): Promise<void> {
    if (this.failBatches && changes.length > 1) throw new Error('batch refused');
    this.calls.push(`legs ${changes.map((c) => `${c.spec.routerId.slice(-1)}:${c.legs}`).join(' ')}`);
  }
  async applyRules(): Promise<void> { this.calls.push('rules'); }
  async nft(): Promise<void> { this.calls.push('nft'); }
  releaseNft(): void {}
  async remove(id: string): Promise<void> { this.calls.push(`remove ${id}`); }
  async list(): Promise<string[]> { return []; }
  async conntrack(): Promise<void> {}
  async announce(_ns: string, iface: string, ip: string, count = 1): Promise<void> {
    this.calls.push(`announce ${iface} ${ip} x${count}`);
  }
}

describe('L3Manager with HA routers', () => {
  it('builds a standby silent, switches only its legs on promotion (with announcements), and back on demotion', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: 'g2', ops, retryMs: 0, aftermathDelayMs: 0 });
    await l3.sync(model('g2', 'g1', ['g1', 'g2']));
    // Built in full, silent: no announcement of anything.
    expect(ops.calls).toEqual(['ensure silent', 'rules', 'nft']);
    ops.calls = [];
    // Failover: the ports are bound here now.
    await l3.sync(model('g2', 'g2', ['g2', 'g1']));
    const x = `x${ACTIVATION_ANNOUNCEMENTS}`;
    expect(ops.calls).toEqual(['legs 1:active', `announce qg-qg0-port-00 203.0.113.10 ${x}`, `announce qg-qg0-port-00 203.0.113.50 ${x}`,
      `announce qr-qr1-port-00 10.0.0.1 ${x}`]);
    ops.calls = [];
    await l3.sync(model('g2', 'g1', ['g1', 'g2']));
    expect(ops.calls).toEqual(['legs 1:silent']);
    await l3.close();
  });

  it('fenced: every HA router silent at once, routers without HA untouched; unfenced: as the model says', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: 'g1', ops, retryMs: 0, aftermathDelayMs: 0 });
    await l3.sync(model('g1', 'g1', ['g1', 'g2']));
    expect(ops.calls[0]).toBe('ensure active');
    ops.calls = [];
    await l3.setFenced(true);
    expect(ops.calls).toEqual(['legs 1:silent']);
    ops.calls = [];
    await l3.setFenced(false);
    expect(ops.calls[0]).toBe('legs 1:active');
    await l3.close();
    // Without HA (no gateway group) the router keeps answering: nobody else would take it over.
    const plain = new FakeOps();
    const l3b = new L3Manager({ host: 'g1', ops: plain, retryMs: 0, aftermathDelayMs: 0 });
    await l3b.sync(model('g1', 'g1', null));
    plain.calls = [];
    await l3b.setFenced(true);
    expect(plain.calls).toEqual([]);
    await l3b.close();
  });
});

/** The dead-man switch without its watcher: each change of the guard line lands in the ops' call log. */
class RecordingDeadMan {
  private readonly guard = new LegGuard();
  private line = '';
  constructor(private readonly calls: string[]) {}
  async arm(plan: ReadonlyMap<string, GuardedPlan>, ids: ReadonlySet<string>) { this.guard.arm(plan, ids); this.note(); }
  async settle(plan: ReadonlyMap<string, GuardedPlan>, ids: ReadonlySet<string>, view: SettleView) { this.guard.settle(plan, ids, view); this.note(); }
  async close() { this.calls.push('dead-man closed'); }
  private note() {
    if (this.guard.line() !== this.line) this.calls.push(`guard [${(this.line = this.guard.line())}]`);
  }
}

describe('L3Manager keeps the dead-man guard ahead of the legs', () => {
  const LEGS = 'tr-qg0-port-00 tr-qr1-port-00';

  it('guards an HA router before its legs come up, and lets go only once they are down', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: 'g2', ops, retryMs: 0, aftermathDelayMs: 0, deadMan: new RecordingDeadMan(ops.calls) });
    await l3.sync(model('g2', 'g1', ['g1', 'g2']));
    expect(ops.calls).toEqual(['ensure silent', 'rules', 'nft']); // a standby: nothing guarded
    ops.calls.length = 0; // the dead-man records into this array
    await l3.sync(model('g2', 'g2', ['g2', 'g1']));
    expect(ops.calls.filter((c) => !c.startsWith('announce'))).toEqual([`guard [${LEGS}]`, 'legs 1:active']);
    ops.calls.length = 0; // the dead-man records into this array
    await l3.sync(model('g2', 'g1', ['g1', 'g2']));
    expect(ops.calls).toEqual(['legs 1:silent', 'guard []']);
    await l3.close();
    expect(ops.calls.at(-1)).toBe('dead-man closed');
  });

  it('an HA router built active is guarded before the build; fenced it is dropped; a router without HA is never guarded', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: 'g1', ops, retryMs: 0, aftermathDelayMs: 0, deadMan: new RecordingDeadMan(ops.calls) });
    await l3.sync(model('g1', 'g1', ['g1', 'g2']));
    expect(ops.calls.slice(0, 2)).toEqual([`guard [${LEGS}]`, 'ensure active']);
    ops.calls.length = 0; // the dead-man records into this array
    await l3.setFenced(true);
    expect(ops.calls).toEqual(['legs 1:silent', 'guard []']);
    ops.calls.length = 0; // the dead-man records into this array
    await l3.setFenced(false);
    expect(ops.calls.slice(0, 2)).toEqual([`guard [${LEGS}]`, 'legs 1:active']);
    await l3.close();
    const plain = new FakeOps();
    const l3b = new L3Manager({ host: 'g1', ops: plain, retryMs: 0, aftermathDelayMs: 0, deadMan: new RecordingDeadMan(plain.calls) });
    await l3b.sync(model('g1', 'g1', null));
    expect(plain.calls.filter((c) => c.startsWith('guard'))).toEqual([]);
    await l3b.close();
  });
});

/** Three HA routers (ids ending 1, 2, 3), each with a subnet and a gateway, their ports bound to `active`. */
function threeRouters(host: string, active: string, group: string[]): HostModel {
  const m = new HostModel(host);
  const ids = [1, 2, 3].map((i) => `r0000000-aaaa-bbbb-cccc-00000000000${i}`);
  m.replace(1, {
    network: [net('ext', true), ...[1, 2, 3].map((i) => net(`n${i}`))],
    subnet: [subnet('ext-v4', 'ext', '203.0.113.0/24', '203.0.113.1'), ...[1, 2, 3].map((i) => subnet(`n${i}-v4`, `n${i}`, `10.0.${i}.0/24`, `10.0.${i}.1`))],
    port: ids.flatMap((r, k) => [
      port(`qr${k + 1}-port-0001`, `n${k + 1}`, 'network:router_interface', [`n${k + 1}-v4`, `10.0.${k + 1}.1`], active, `fa:16:3e:00:01:0${k + 1}`, r),
      port(`qg${k + 1}-port-0003`, 'ext', 'network:router_gateway', ['ext-v4', `203.0.113.1${k + 1}`], active, `fa:16:3e:00:02:0${k + 1}`, r),
    ]),
    router: ids.map((id, k) => ({
      id, project_id: 'p', admin_state_up: true, routes: [], gateway_hosts: group,
      external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [{ subnet_id: 'ext-v4', ip_address: `203.0.113.1${k + 1}` }] },
    })),
    floatingip: [],
  } as never);
  return m;
}

describe('a whole gateway fails over', () => {
  it('promotes every router of the pass in one batch of leg switches, then announces each; demotes them in one batch too', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: 'g2', ops, retryMs: 0, aftermathDelayMs: 0 });
    await l3.sync(threeRouters('g2', 'g1', ['g1', 'g2']));
    expect(ops.calls.filter((c) => c.startsWith('ensure'))).toEqual(['ensure silent', 'ensure silent', 'ensure silent']);
    ops.calls = [];
    await l3.sync(threeRouters('g2', 'g2', ['g2', 'g1']));
    const legs = ops.calls.filter((c) => c.startsWith('legs'));
    expect(legs).toHaveLength(1);
    expect(legs[0]!.split(' ').slice(1).sort()).toEqual(['1:active', '2:active', '3:active']);
    expect(ops.calls[0]).toBe(legs[0]); // before any announcement
    expect(ops.calls.filter((c) => c.startsWith('announce'))).toHaveLength(6); // a gateway and an interface address each
    ops.calls = [];
    await l3.sync(threeRouters('g2', 'g1', ['g1', 'g2']));
    expect(ops.calls).toHaveLength(1);
    expect(ops.calls[0]!.split(' ').slice(1).sort()).toEqual(['1:silent', '2:silent', '3:silent']);
    await l3.close();
  });

  it('announces every promoted router\'s addresses from one process when the ops can', async () => {
    class ManyOps extends FakeOps {
      async announceMany(items: readonly Announcement[], count: number): Promise<void> {
        this.calls.push(`announceMany ${items.map((a) => a.ip).sort().join(',')} x${count}`);
      }
    }
    const ops = new ManyOps();
    const l3 = new L3Manager({ host: 'g2', ops, retryMs: 0, aftermathDelayMs: 0 });
    await l3.sync(threeRouters('g2', 'g1', ['g1', 'g2']));
    ops.calls = [];
    await l3.sync(threeRouters('g2', 'g2', ['g2', 'g1']));
    await new Promise((r) => setTimeout(r, 10));
    expect(ops.calls.slice(1)).toEqual([`announceMany 10.0.1.1,10.0.2.1,10.0.3.1,203.0.113.11,203.0.113.12,203.0.113.13 x${ACTIVATION_ANNOUNCEMENTS}`]);
    await l3.close();
  });

  it('a batch that fails is redone router by router in the same pass', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: 'g2', ops, retryMs: 0, aftermathDelayMs: 0 });
    await l3.sync(threeRouters('g2', 'g1', ['g1', 'g2']));
    ops.calls = [];
    ops.failBatches = true;
    await l3.sync(threeRouters('g2', 'g2', ['g2', 'g1']));
    expect(ops.calls.filter((c) => c.startsWith('legs')).sort()).toEqual(['legs 1:active', 'legs 2:active', 'legs 3:active']);
    expect(Object.values(l3.statuses().routers)).toEqual(['active', 'active', 'active']);
    await l3.close();
  });

  it('leaves to the per-router apply a router that changed in more than its role (legsOnlySwitches, pure)', () => {
    const standby = threeRouters('g2', 'g1', ['g1', 'g2']);
    const promoted = threeRouters('g2', 'g2', ['g2', 'g1']);
    const ids = [1, 2, 3].map((i) => `r0000000-aaaa-bbbb-cccc-00000000000${i}`);
    const applied = new Map(ids.map((id) => [id, compileRouter(planRouter(standby, 'g2', id)!).key]));
    applied.set(ids[1]!, 'an older key'); // router 2 changed meanwhile
    applied.delete(ids[2]!); // router 3 never applied
    const plan = new Map(ids.map((id) => [id, planRouter(promoted, 'g2', id)!]));
    const wanted = (p: RouterPlan): LegState => (p.role === 'active' ? 'active' : 'silent');
    const out = legsOnlySwitches(ids, plan, (id) => applied.get(id), () => 'silent', wanted);
    expect(out.map((x) => [x.id, x.want])).toEqual([[ids[0], 'active']]);
    // Legs already as wanted: nothing to switch.
    expect(legsOnlySwitches(ids, plan, (id) => applied.get(id), () => 'active', wanted)).toEqual([]);
  });

  it('compiles a plan once however often a pass asks (legsOnlySwitches, then the apply), and an equal plan to the same key', () => {
    const m = threeRouters('g2', 'g1', ['g1', 'g2']);
    const id = 'r0000000-aaaa-bbbb-cccc-000000000001';
    const p = planRouter(m, 'g2', id)!;
    expect(compileRouter(p)).toBe(compileRouter(p));
    const again = planRouter(m, 'g2', id)!;
    expect(compileRouter(again)).not.toBe(compileRouter(p));
    expect(compileRouter(again).key).toBe(compileRouter(p).key);
  });
});

describe('legBatchLines (pure)', () => {
  it('one line per leg of every router, up for active and down for silent', () => {
    const m = threeRouters('g1', 'g1', ['g1', 'g2']);
    const [a, b] = [1, 2].map((i) => planRouter(m, 'g1', `r0000000-aaaa-bbbb-cccc-00000000000${i}`)!.spec);
    expect(legBatchLines([{ spec: a!, legs: 'active' }, { spec: b!, legs: 'silent' }])).toEqual([
      'link set dev tr-qr1-port-00 up', 'link set dev tr-qg1-port-00 up', 'link set dev tr-qr2-port-00 down', 'link set dev tr-qg2-port-00 down',
    ]);
  });
});

describe('activation waits for the flows', () => {
  it('announces a router that becomes active only once the flows of that model revision are installed', async () => {
    const ops = new FakeOps();
    const gate = new RevisionGate();
    const l3 = new L3Manager({ host: 'g2', ops, retryMs: 0, aftermathDelayMs: 0, flowsApplied: (r) => gate.wait(r, 5000) });
    await l3.sync(model('g2', 'g1', ['g1', 'g2']));
    gate.reached(1);
    ops.calls = [];
    const promoted = model('g2', 'g2', ['g2', 'g1']);
    promoted.revision = 7;
    await l3.sync(promoted);
    await new Promise((r) => setTimeout(r, 20));
    expect(ops.calls).toEqual(['legs 1:active']); // legs up at once, no announcement yet
    gate.reached(6);
    await new Promise((r) => setTimeout(r, 20));
    expect(ops.calls).toEqual(['legs 1:active']);
    gate.reached(7);
    await new Promise((r) => setTimeout(r, 20));
    expect(ops.calls.filter((c) => c.startsWith('announce'))).toHaveLength(3);
    await l3.close();
  });

  it('gives up waiting after the timeout', async () => {
    const gate = new RevisionGate();
    const t = Date.now();
    await gate.wait(3, 50);
    expect(Date.now() - t).toBeGreaterThanOrEqual(45);
    gate.reached(3);
    await gate.wait(2); // already reached: at once
  });
});

describe('SelfFence', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('fences after fenceMs without the controller; a reconnect before that keeps the routers; unfences at the first view update after a reconnect', async () => {
    const seen: boolean[] = [];
    const f = new SelfFence({ fenceMs: 50, set: (on) => seen.push(on) });
    f.lost();
    await sleep(20);
    f.connected();
    await sleep(60);
    expect(seen).toEqual([]);
    f.lost();
    await sleep(70);
    expect(seen).toEqual([true]);
    f.viewUpdated(); // still away: nothing
    f.connected();
    expect(seen).toEqual([true]);
    f.viewUpdated();
    expect(seen).toEqual([true, false]);
    f.close();
  });
});
