// The agent's L3 manager: the pure plan (routerPlan) and the apply loop (L3Manager) with fake ops.
import { describe, expect, it } from 'vitest';
import { L3Manager, routerPlan, movedFloatingIps, newLegAddresses } from '../../../agent/l3/manager.ts';
import type { RouterSpec } from '../../../agent/l3/namespace.ts';
import type { Announcement } from '../../../agent/l3/ops.ts';
import { FakeOps, HOST, QG, R, R2, baseDocs, fip, manager, model, port, router, twoRouterDocs } from './manager-fixtures.ts';

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

describe('L3Manager, a floating IP that comes or goes', () => {
  /** Fake ops that can set a gateway's addresses alone (and fail at it when told). */
  class AddressOps extends FakeOps {
    failAddresses = false;
    async setGatewayAddresses(spec: RouterSpec): Promise<void> {
      this.calls.push(`addresses ${spec.routerId} ${spec.gateway!.addresses.join(' ')}`);
      if (this.failAddresses) throw new Error('boom');
    }
  }
  const ns = `qrouter-${R}`;

  it('changes the gateway leg\'s addresses alone, not the whole namespace; any other change rebuilds it', async () => {
    const ops = new AddressOps();
    const { l3 } = manager(ops);
    const m = model();
    await l3.sync(m);
    await l3.idle();
    ops.calls = [];
    m.apply('floatingip', 'f9', fip('f9', '203.0.113.60', '10.0.0.9'));
    await l3.sync(m);
    await l3.idle();
    expect(ops.calls).toEqual([
      `addresses ${R} 203.0.113.10/24 203.0.113.50/32 203.0.113.60/32`, `nft ${ns} maps`, `announce ${ns} ${QG} 203.0.113.60`,
    ]);
    ops.calls = [];
    m.apply('floatingip', 'f9', null);
    await l3.sync(m);
    expect(ops.calls.filter((c) => !c.startsWith('conntrack'))).toEqual([`addresses ${R} 203.0.113.10/24 203.0.113.50/32`, `nft ${ns} maps`]);
    ops.calls = [];
    m.apply('floatingip', 'f9', fip('f9', '203.0.113.60', '10.0.0.9'));
    m.apply('router', R, router(R, { routes: [] })); // and a route goes: the namespace is ensured
    await l3.sync(m);
    expect(ops.calls.filter((c) => c.startsWith('ensure') || c.startsWith('addresses'))).toEqual([`ensure ${R}`]);
    ops.calls = [];
    // The gateway's own address changes: the default route goes with the old one, so all is ensured.
    const moved = { network_id: 'ext', enable_snat: true, external_fixed_ips: [{ subnet_id: 'ext-v4', ip_address: '203.0.113.11' }] };
    m.apply('router', R, router(R, { routes: [], external_gateway_info: moved }));
    const qg = baseDocs().port.find((p) => p.device_owner === 'network:router_gateway')!;
    m.apply('port', qg.id, { ...qg, fixed_ips: [{ subnet_id: 'ext-v4', ip_address: '203.0.113.11' }] });
    await l3.sync(m);
    expect(ops.calls.filter((c) => c.startsWith('ensure') || c.startsWith('addresses'))).toEqual([`ensure ${R}`]);
  });

  it('rebuilds the whole namespace at the retry when setting the addresses failed', async () => {
    const ops = new AddressOps();
    const { l3 } = manager(ops);
    const m = model();
    await l3.sync(m);
    ops.failAddresses = true;
    ops.calls = [];
    m.apply('floatingip', 'f9', fip('f9', '203.0.113.60', '10.0.0.9'));
    await l3.sync(m);
    expect(ops.calls).toEqual([`addresses ${R} 203.0.113.10/24 203.0.113.50/32 203.0.113.60/32`]);
    expect(l3.statuses().routers).toEqual({ [R]: 'error' });
    ops.failAddresses = false;
    ops.calls = [];
    await l3.sync(m);
    expect(ops.calls.filter((c) => c.startsWith('ensure') || c.startsWith('addresses'))).toEqual([`ensure ${R}`]);
    expect(l3.statuses().routers).toEqual({ [R]: 'active' });
  });
});
