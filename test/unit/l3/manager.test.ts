// The agent's L3 manager: the pure plan (routerPlan) and the apply loop (L3Manager) with fake ops.
import { describe, expect, it } from 'vitest';
import { L3Manager, routerPlan, movedFloatingIps, newLegAddresses, type L3Ops, type L3Status } from '../../../agent/l3/manager.ts';
import { HostModel } from '../../../agent/model/host-model.ts';
import type { RouterSpec } from '../../../agent/l3/namespace.ts';
import type { Announcement } from '../../../agent/l3/ops.ts';

const HOST = 'gw1';
const R = 'r0000000-aaaa-bbbb-cccc-000000000001';

function net(id: string, mtu: number, external = false) {
  return {
    id, project_id: 'p', admin_state_up: true, mtu, 'provider:network_type': 'vxlan',
    'provider:physical_network': null, 'provider:segmentation_id': 100, 'router:external': external,
  };
}
function subnet(id: string, network_id: string, cidr: string, gateway_ip: string | null, ip_version: 4 | 6 = 4) {
  return { id, network_id, ip_version, cidr, gateway_ip, enable_dhcp: true, dns_nameservers: [], host_routes: [] };
}
function port(id: string, network_id: string, owner: string, device_id: string, ips: [string, string][], host = HOST, mac = 'fa:16:3e:00:00:01') {
  return {
    id, network_id, admin_state_up: true, mac_address: mac,
    fixed_ips: ips.map(([subnet_id, ip_address]) => ({ subnet_id, ip_address })),
    allowed_address_pairs: [], port_security_enabled: false, security_groups: [],
    device_owner: owner, device_id, 'binding:host_id': host,
  };
}
function router(id: string, over: Record<string, unknown> = {}) {
  return {
    id, project_id: 'p', admin_state_up: true,
    external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [{ subnet_id: 'ext-v4', ip_address: '203.0.113.10' }] },
    routes: [{ destination: '10.50.0.0/16', nexthop: '10.0.0.254' }],
    ...over,
  };
}
function fip(id: string, address: string, fixed: string | null, router_id: string | null = R) {
  return {
    id, project_id: 'p', floating_network_id: 'ext', floating_ip_address: address,
    router_id, port_id: fixed ? `vm-${fixed}` : null, fixed_ip_address: fixed,
  };
}

function baseDocs() {
  return {
    network: [net('ext', 1500, true), net('n1', 1450), net('n2', 1400)],
    subnet: [
      subnet('ext-v4', 'ext', '203.0.113.0/24', '203.0.113.1'),
      subnet('n1-v4', 'n1', '10.0.0.0/24', '10.0.0.1'),
      subnet('n1-v6', 'n1', 'fd00:1::/64', 'fd00:1::1', 6),
      subnet('n2-v4', 'n2', '10.0.1.0/24', '10.0.1.1'),
    ],
    port: [
      port('qr1-port-0001', 'n1', 'network:router_interface', R, [['n1-v4', '10.0.0.1'], ['n1-v6', 'fd00:1::1']], HOST, 'fa:16:3e:00:00:11'),
      port('qr2-port-0002', 'n2', 'network:router_interface', R, [['n2-v4', '10.0.1.1']], HOST, 'fa:16:3e:00:00:12'),
      port('qg0-port-0003', 'ext', 'network:router_gateway', R, [['ext-v4', '203.0.113.10']], HOST, 'fa:16:3e:00:00:13'),
      port('vm-port-00004', 'n1', 'compute:nova', 'vm1', [['n1-v4', '10.0.0.5']], 'compute1'),
    ],
    router: [router(R)],
    floatingip: [fip('f1', '203.0.113.50', '10.0.0.5'), fip('f2', '203.0.113.51', null), fip('f3', '203.0.113.52', '10.0.0.6', 'other-router')],
  };
}

/** The base documents plus a second router R2 with one leg on this host and no gateway. */
const R2 = 'r2';
function twoRouterDocs() {
  const docs = baseDocs();
  docs.router.push(router(R2, { external_gateway_info: null, routes: [] }));
  docs.port.push(port('r2-if-000001', 'n2', 'network:router_interface', R2, [['n2-v4', '10.0.1.2']]));
  return docs;
}

function model(docs = baseDocs()): HostModel {
  const m = new HostModel(HOST);
  m.replace(1, docs);
  return m;
}

describe('routerPlan', () => {
  it('maps the port forwardings of unassociated floating IPs into RouterNat', () => {
    const docs = baseDocs();
    const pf = (id: string, protocol: 'tcp' | 'udp', ext: [number, number], int: [number, number]) => ({
      id, protocol, internal_ip_address: '10.0.0.5', internal_port_id: 'vm-port-00004',
      internal_port_start: int[0], internal_port_end: int[1], external_port_start: ext[0], external_port_end: ext[1], description: '',
    });
    docs.floatingip.push({ ...fip('f4', '203.0.113.53', null), port_forwardings: [pf('pf2', 'udp', [9000, 9009], [8000, 8009]), pf('pf1', 'tcp', [2222, 2222], [7000, 7000])] } as any);
    // Forwardings of an associated floating IP are ignored (Neutron forbids them).
    docs.floatingip.push({ ...fip('f5', '203.0.113.54', '10.0.0.7'), port_forwardings: [pf('pf3', 'tcp', [80, 80], [80, 80])] } as any);
    const p = routerPlan(model(docs), HOST).get(R)!;
    expect(p.nat.portForwardings).toEqual([
      { floating: '203.0.113.53', protocol: 'tcp', externalPort: 2222, internalIp: '10.0.0.5', internalPort: 7000 },
      { floating: '203.0.113.53', protocol: 'udp', externalPort: [9000, 9009], internalIp: '10.0.0.5', internalPort: [8000, 8009] },
    ]);
    expect(p.spec.gateway?.addresses).toContain('203.0.113.53/32');
    expect(p.floatingIpIds).toContain('f4');
    expect(p.nat.floatingIps.map((f) => f.floating)).not.toContain('203.0.113.53');
  });

  it('builds the spec and NAT of a router bound here', () => {
    const plan = routerPlan(model(), HOST);
    expect([...plan.keys()]).toEqual([R]);
    const p = plan.get(R)!;
    expect(p.spec).toEqual<RouterSpec>({
      routerId: R,
      interfaces: [
        { portId: 'qr1-port-0001', name: 'qr-qr1-port-00', mac: 'fa:16:3e:00:00:11', addresses: ['10.0.0.1/24', 'fd00:1::1/64'], mtu: 1450 },
        { portId: 'qr2-port-0002', name: 'qr-qr2-port-00', mac: 'fa:16:3e:00:00:12', addresses: ['10.0.1.1/24'], mtu: 1400 },
      ],
      gateway: {
        portId: 'qg0-port-0003', name: 'qg-qg0-port-00', mac: 'fa:16:3e:00:00:13',
        addresses: ['203.0.113.10/24', '203.0.113.50/32'], mtu: 1500, defaultGateway: '203.0.113.1',
      },
      routes: [{ destination: '10.50.0.0/16', nexthop: '10.0.0.254' }],
    });
    expect(p.nat).toEqual({
      gatewayInterface: 'qg-qg0-port-00',
      gatewayIp: '203.0.113.10',
      enableSnat: true,
      internalCidrs: ['10.0.0.0/24', '10.0.1.0/24'],
      floatingIps: [{ floating: '203.0.113.50', fixed: '10.0.0.5' }],
      portForwardings: [],
    });
    expect(p.floatingIpIds).toEqual(['f1']);
  });

  it('plans nothing for routers whose ports are bound elsewhere, or admin-down routers', () => {
    expect(routerPlan(model(), 'compute1').size).toBe(0);
    const docs = baseDocs();
    docs.router = [router(R, { admin_state_up: false })];
    expect(routerPlan(model(docs), HOST).size).toBe(0);
  });

  it('a router without gateway has no NAT and no floating IPs', () => {
    const docs = baseDocs();
    docs.port = docs.port.filter((p) => p.device_owner !== 'network:router_gateway');
    docs.router = [router(R, { external_gateway_info: null })];
    const p = routerPlan(model(docs), HOST).get(R)!;
    expect(p.spec.gateway).toBeUndefined();
    expect(p.nat.gatewayIp).toBeNull();
    expect(p.nat.floatingIps).toEqual([]);
    expect(p.floatingIpIds).toEqual([]);
  });

  it('follows enable_snat and model changes (index by device_id and router_id)', () => {
    const m = model();
    m.apply('router', R, router(R, { external_gateway_info: { network_id: 'ext', enable_snat: false, external_fixed_ips: [] } }));
    m.apply('floatingip', 'f1', null);
    m.apply('floatingip', 'f3', fip('f3', '203.0.113.52', '10.0.1.7'));
    m.apply('port', 'qr2-port-0002', null);
    const p = routerPlan(m, HOST).get(R)!;
    expect(p.nat.enableSnat).toBe(false);
    expect(p.nat.internalCidrs).toEqual(['10.0.0.0/24']);
    expect(p.nat.floatingIps).toEqual([{ floating: '203.0.113.52', fixed: '10.0.1.7' }]);
    expect(p.spec.interfaces.map((i) => i.portId)).toEqual(['qr1-port-0001']);
  });
});

describe('movedFloatingIps', () => {
  const nat = (fips: [string, string][]) => ({
    gatewayInterface: 'qg-x', gatewayIp: '203.0.113.10', enableSnat: true, internalCidrs: [],
    floatingIps: fips.map(([floating, fixed]) => ({ floating, fixed })), portForwardings: [],
  });
  it('names floating IPs that are new or point elsewhere (they get a gratuitous ARP)', () => {
    expect(movedFloatingIps(undefined, nat([['1.1.1.1', '10.0.0.1']]))).toEqual(['1.1.1.1']);
    expect(movedFloatingIps(nat([['1.1.1.1', '10.0.0.1'], ['1.1.1.2', '10.0.0.2']]), nat([['1.1.1.1', '10.0.0.1'], ['1.1.1.2', '10.0.0.9'], ['1.1.1.3', '10.0.0.3']])))
      .toEqual(['1.1.1.2', '1.1.1.3']);
  });
  it('names a floating address that newly carries port forwardings, once', () => {
    const pf = (floating: string, port: number) => ({ floating, protocol: 'tcp' as const, externalPort: port, internalIp: '10.0.0.5', internalPort: 22 });
    const withPfs = (pfs: ReturnType<typeof pf>[]) => ({ ...nat([]), portForwardings: pfs });
    expect(movedFloatingIps(withPfs([]), withPfs([pf('1.1.1.9', 2222), pf('1.1.1.9', 2223)]))).toEqual(['1.1.1.9']);
    expect(movedFloatingIps(withPfs([pf('1.1.1.9', 2222)]), withPfs([pf('1.1.1.9', 2222), pf('1.1.1.9', 2223)]))).toEqual([]);
  });
});

describe('newLegAddresses', () => {
  const leg = (name: string, mac: string, addresses: string[]) => ({ portId: name, name, mac, addresses });
  it('names the IPv4 addresses of legs that are new or changed MAC, not floating /32s or IPv6', () => {
    const before = { routerId: 'r', routes: [], interfaces: [leg('qr-a', 'fa:16:3e:00:00:01', ['10.0.0.1/24']), leg('qr-b', 'fa:16:3e:00:00:02', ['10.0.1.1/24'])] };
    const after = {
      routerId: 'r', routes: [],
      interfaces: [leg('qr-a', 'fa:16:3e:00:00:01', ['10.0.0.1/24', 'fd00::1/64']), leg('qr-b', 'fa:16:3e:00:00:09', ['10.0.1.1/24']), leg('qr-c', 'fa:16:3e:00:00:03', ['10.0.2.1/24'])],
      gateway: leg('qg-x', 'fa:16:3e:00:00:04', ['203.0.113.10/24', '203.0.113.50/32']),
    };
    expect(newLegAddresses(before, after)).toEqual([
      { iface: 'qr-b', ip: '10.0.1.1' }, { iface: 'qr-c', ip: '10.0.2.1' }, { iface: 'qg-x', ip: '203.0.113.10' },
    ]);
    expect(newLegAddresses(after, after)).toEqual([]);
  });
});

/** The gateway interface of router R in the fixtures. */
const QG = 'qg-qg0-port-00';

class FakeOps implements L3Ops {
  calls: string[] = [];
  namespaces = new Set<string>();
  failEnsure = new Set<string>();
  gate: Promise<void> | undefined;
  async ensure(spec: RouterSpec): Promise<void> {
    if (this.gate) await this.gate;
    this.calls.push(`ensure ${spec.routerId}`);
    if (this.failEnsure.has(spec.routerId)) throw new Error('boom');
    this.namespaces.add(spec.routerId);
  }
  async applyRules(netns: string): Promise<void> {
    this.calls.push(`rules ${netns}`);
  }
  async nft(netns: string, line: string): Promise<void> {
    this.calls.push(`nft ${netns} ${line.startsWith('add table') ? 'table+maps' : 'maps'}`);
  }
  releaseNft(netns: string): void {
    this.calls.push(`release ${netns}`);
  }
  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.namespaces.delete(id);
  }
  async list(): Promise<string[]> {
    return [...this.namespaces].sort();
  }
  async conntrack(netns: string, args: string[]): Promise<void> {
    this.calls.push(`conntrack ${netns} ${args.join(' ')}`);
  }
  async announce(netns: string, iface: string, ip: string): Promise<void> {
    this.calls.push(`announce ${netns} ${iface} ${ip}`);
  }
}

function manager(ops: FakeOps): { l3: L3Manager; events: L3Status[] } {
  const l3 = new L3Manager({ host: HOST, ops, retryMs: 0, aftermathDelayMs: 0 });
  const events: L3Status[] = [];
  l3.on('status', (s) => events.push(s));
  return { l3, events };
}

describe('L3Manager', () => {
  it('applies a router once, removes orphans on the first pass, and reports statuses', async () => {
    const ops = new FakeOps();
    ops.namespaces.add('stale-router');
    const { l3, events } = manager(ops);
    const m = model();
    await l3.sync(m);
    expect(ops.calls).toEqual([
      'release qrouter-stale-router', 'remove stale-router', `ensure ${R}`,
      // Every leg is new: its addresses are announced (a re-added interface has a new MAC), the
      // first at once, those asked for meanwhile in the next batch (announce-queue.ts).
      `announce qrouter-${R} qr-qr1-port-00 10.0.0.1`,
      `rules qrouter-${R}`, `nft qrouter-${R} table+maps`,
      `announce qrouter-${R} qr-qr2-port-00 10.0.1.1`, `announce qrouter-${R} ${QG} 203.0.113.10`, `announce qrouter-${R} ${QG} 203.0.113.50`,
    ]);
    expect(l3.statuses()).toEqual({ routers: { [R]: 'active' }, floatingips: { f1: 'active' } });
    expect(events).toEqual([{ routers: { [R]: 'active' }, floatingips: { f1: 'active' } }]);

    ops.calls = [];
    await l3.sync(m);
    expect(ops.calls).toEqual([]);
    expect(events.length).toBe(1);
  });

  it('cleans conntrack of a moved floating IP and reports a disassociated one as down', async () => {
    const ops = new FakeOps();
    const { l3, events } = manager(ops);
    const m = model();
    await l3.sync(m);
    ops.calls = [];
    m.apply('floatingip', 'f1', fip('f1', '203.0.113.50', '10.0.0.6'));
    await l3.sync(m);
    const ns = `qrouter-${R}`;
    // A remap changes only the floating IP maps: neither the namespace nor iptables is touched.
    expect(ops.calls).toEqual([
      `nft ${ns} maps`,
      `conntrack ${ns} -D -d 10.0.0.5 --mark 1/1`, `conntrack ${ns} -D -d 10.0.0.5 --mark 2/2`, `conntrack ${ns} -D -s 10.0.0.5 --mark 4/4`,
      `announce ${ns} ${QG} 203.0.113.50`,
    ]);
    ops.calls = [];
    m.apply('floatingip', 'f1', fip('f1', '203.0.113.50', null));
    await l3.sync(m);
    expect(ops.calls).toContain(`conntrack ${ns} -D -d 10.0.0.6 --mark 1/1`);
    expect(events.at(-1)).toEqual({ routers: {}, floatingips: { f1: 'down' } });
  });

  it('cleans up and announces after a delay, as things stand then, and at close() at the latest', async () => {
    const ops = new FakeOps();
    const l3 = new L3Manager({ host: HOST, ops, retryMs: 0, aftermathDelayMs: 40 });
    const ns = `qrouter-${R}`;
    const settle = () => new Promise((r) => setTimeout(r, 80));
    const m = model();
    await l3.sync(m);
    await settle();
    ops.calls = [];
    m.apply('floatingip', 'f1', fip('f1', '203.0.113.50', '10.0.0.6'));
    await l3.sync(m);
    expect(ops.calls).toEqual([`nft ${ns} maps`]); // nothing competes with the first packets
    m.apply('floatingip', 'f1', fip('f1', '203.0.113.50', '10.0.0.5')); // and back, before the delay
    await l3.sync(m);
    await settle();
    // 10.0.0.5 is mapped again: its entries stay. 10.0.0.6's go.
    expect(ops.calls.filter((c) => c.startsWith('conntrack'))).toEqual([
      `conntrack ${ns} -D -d 10.0.0.6 --mark 1/1`, `conntrack ${ns} -D -d 10.0.0.6 --mark 2/2`, `conntrack ${ns} -D -s 10.0.0.6 --mark 4/4`,
    ]);
    expect(ops.calls.filter((c) => c.startsWith('announce'))).toEqual([`announce ${ns} ${QG} 203.0.113.50`, `announce ${ns} ${QG} 203.0.113.50`]);
    ops.calls = [];
    m.apply('floatingip', 'f1', fip('f1', '203.0.113.50', '10.0.0.6'));
    await l3.sync(m);
    await l3.close();
    expect(ops.calls).toContain(`conntrack ${ns} -D -d 10.0.0.5 --mark 1/1`);
  });

  it('replans only the routers a change touched, and keeps the others as they are', async () => {
    const ops = new FakeOps();
    const { l3 } = manager(ops);
    const m = model(twoRouterDocs());
    await l3.sync(m);
    ops.calls = [];
    m.apply('floatingip', 'f1', fip('f1', '203.0.113.50', '10.0.0.6'));
    m.apply('router', R2, router(R2, { external_gateway_info: null, routes: [{ destination: '10.70.0.0/16', nexthop: '10.0.1.9' }] }));
    await l3.sync(m, [R]); // R2 changed too, but the caller named R only: R2 is not looked at
    expect(ops.calls.filter((c) => !c.startsWith('conntrack') && !c.startsWith('announce'))).toEqual([`nft qrouter-${R} maps`]);
    expect(l3.statuses()).toEqual({ routers: { [R]: 'active', [R2]: 'active' }, floatingips: { f1: 'active' } });
    ops.calls = [];
    await l3.sync(m, [R2]);
    expect(ops.calls).toEqual([`ensure ${R2}`]);
    ops.calls = [];
    m.apply('router', R2, null);
    await l3.sync(m, [R2]);
    expect(ops.calls).toEqual([`release qrouter-${R2}`, `remove ${R2}`]);
    expect(l3.statuses()).toEqual({ routers: { [R]: 'active' }, floatingips: { f1: 'active' } });
  });

  it('deletes the namespace of a router no longer planned here', async () => {
    const ops = new FakeOps();
    const { l3 } = manager(ops);
    const m = model();
    await l3.sync(m);
    ops.calls = [];
    for (const p of baseDocs().port) if (p.device_id === R) m.apply('port', p.id, { ...p, 'binding:host_id': 'gw2' });
    await l3.sync(m);
    expect(ops.calls).toEqual([`release qrouter-${R}`, `remove ${R}`]);
    expect(l3.statuses()).toEqual({ routers: {}, floatingips: {} });
  });

  it('isolates a failing router and retries it at the next sync', async () => {
    const ops = new FakeOps();
    const { l3 } = manager(ops);
    const m = model(twoRouterDocs());
    ops.failEnsure.add(R);
    await l3.sync(m);
    expect(l3.statuses().routers).toEqual({ [R]: 'error', [R2]: 'active' });
    expect(l3.statuses().floatingips).toEqual({ f1: 'down' });
    ops.failEnsure.clear();
    ops.calls = [];
    await l3.sync(m);
    expect(ops.calls).toEqual([
      `ensure ${R}`, `announce qrouter-${R} qr-qr1-port-00 10.0.0.1`, `rules qrouter-${R}`, `nft qrouter-${R} table+maps`,
      `announce qrouter-${R} qr-qr2-port-00 10.0.1.1`, `announce qrouter-${R} ${QG} 203.0.113.10`, `announce qrouter-${R} ${QG} 203.0.113.50`,
    ]);
    expect(l3.statuses().routers).toEqual({ [R]: 'active', [R2]: 'active' });
  });

  it('sends the gratuitous ARPs of many new floating IPs in a few batches, one at a time, not a process each', async () => {
    const batches: string[][] = [];
    let release!: () => void;
    const ops = Object.assign(new FakeOps(), {
      // The first batch is held until every floating IP below has asked to be announced.
      announceMany: async (items: readonly Announcement[]) => {
        batches.push(items.map((a) => a.ip));
        if (batches.length === 1) await new Promise<void>((r) => (release = r));
      },
    });
    const { l3 } = manager(ops);
    const m = model();
    await l3.sync(m);
    for (let i = 0; i < 50; i++) {
      m.apply('floatingip', `g${i}`, fip(`g${i}`, `203.0.113.${100 + i}`, `10.0.0.${100 + i}`));
      await l3.sync(m);
    }
    release();
    await l3.close();
    expect(batches.length).toBe(2);
    expect(batches[0]).toEqual(['10.0.0.1']);
    expect(batches[1]).toEqual(['10.0.1.1', '203.0.113.10', '203.0.113.50', ...Array.from({ length: 50 }, (_, i) => `203.0.113.${100 + i}`)]);
  });

  it('coalesces syncs that arrive during a pass into one more pass', async () => {
    const ops = new FakeOps();
    const { l3 } = manager(ops);
    const m = model();
    let open!: () => void;
    ops.gate = new Promise((r) => (open = r));
    const first = l3.sync(m);
    m.apply('router', R, router(R, { routes: [] }));
    void l3.sync(m);
    m.apply('router', R, router(R, { routes: [{ destination: '10.60.0.0/16', nexthop: '10.0.0.254' }] }));
    const third = l3.sync(m);
    open();
    ops.gate = undefined;
    await Promise.all([first, third]);
    await l3.idle();
    expect(ops.calls.filter((c) => c.startsWith('ensure'))).toEqual([`ensure ${R}`, `ensure ${R}`]);
  });
});
