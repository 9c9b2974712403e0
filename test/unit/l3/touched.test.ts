// routersTouched (agent/l3/touched.ts) against the full plan: after any batch of changes to the
// documents a router's plan reads, every router whose plan changed is among the touched ones. This
// is what lets the L3 manager replan only those.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routerPlan, routersTouched } from '../../../agent/l3/manager.ts';
import { HostModel, type ModelEvent } from '../../../agent/model/host-model.ts';
import type { ViewKind } from '../../../schemas/agent/view.ts';
import { networkDoc, portDoc, subnetDoc } from '../../helpers/host-scenarios.ts';

const HOST = 'gw1';
const ROUTERS = ['r0', 'r1', 'r2'];
const NETWORKS = ['n0', 'n1', 'n2'];
const SUBNETS = [['s0', 'n0', '203.0.113.0/24'], ['s1', 'n1', '10.1.0.0/24'], ['s2', 'n2', '10.2.0.0/24'], ['s3', 'n1', '10.3.0.0/24']] as const;
const OWNERS = ['network:router_interface', 'network:router_gateway', 'compute:nova'];

type Doc = Record<string, unknown> | null;
type Op = { kind: ViewKind; id: string; doc: Doc };

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const maybeNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

type SubnetSpec = readonly [string, string, string];
/** The address `last` in a /24 written as x.y.z.0/24. */
const inSubnet = (cidr: string, last: number | string) => cidr.replace(/0\/24$/, String(last));
const network = (id: string, mtu = 1450) => networkDoc(id, { mtu, 'router:external': id === 'n0' });
const subnet = ([id, networkId, cidr]: SubnetSpec, gateway: boolean) =>
  subnetDoc(id, networkId, cidr, { gateway_ip: gateway ? inSubnet(cidr, 1) : null, enable_dhcp: false });
const port = (id: string, [subnetId, networkId, cidr]: SubnetSpec, over: { owner: string; device: string; host: string; last: number; mac: number }) =>
  portDoc(id, networkId, `fa:16:3e:00:00:0${over.mac}`, {
    fixed_ips: [{ subnet_id: subnetId, ip_address: inSubnet(cidr, over.last) }], port_security_enabled: false,
    device_owner: over.owner, device_id: over.device, 'binding:host_id': over.host,
  });

const docArb: Record<string, fc.Arbitrary<Op>> = {
  network: fc.record({ id: pick(NETWORKS), mtu: pick([1400, 1450, 1500]), del: fc.boolean() }).map(({ id, mtu, del }) => ({
    kind: 'network', id, doc: del ? null : network(id, mtu),
  })),
  subnet: fc.record({ s: pick(SUBNETS), gw: fc.boolean(), del: fc.boolean() }).map(({ s, gw, del }) => ({
    kind: 'subnet', id: s[0], doc: del ? null : subnet(s, gw),
  })),
  port: fc.record({
    id: pick(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']), s: pick(SUBNETS), host: pick([HOST, 'other']), owner: pick(OWNERS),
    device: pick([...ROUTERS, 'vm1']), last: fc.integer({ min: 2, max: 9 }), mac: fc.integer({ min: 1, max: 3 }), del: fc.boolean(),
  }).map(({ id, s, host, owner, device, last, mac, del }) => ({
    kind: 'port', id, doc: del ? null : port(id, s, { owner, device, host, last, mac }),
  })),
  router: fc.record({ id: pick(ROUTERS), admin: fc.boolean(), snat: fc.boolean(), route: fc.boolean(), gw: fc.boolean(), del: fc.boolean() })
    .map(({ id, admin, snat, route, gw, del }) => ({
      kind: 'router', id, doc: del ? null : {
        id, project_id: 'p', admin_state_up: admin,
        external_gateway_info: gw ? { network_id: 'n0', enable_snat: snat, external_fixed_ips: [] } : null,
        routes: route ? [{ destination: '10.9.0.0/16', nexthop: '10.1.0.9' }] : [],
      },
    })),
  floatingip: fc.record({
    id: pick(['f0', 'f1', 'f2']), router: maybeNull(pick(ROUTERS)), fixed: maybeNull(pick(['10.1.0.5', '10.2.0.6'])),
    addr: fc.integer({ min: 50, max: 52 }), pf: fc.boolean(), del: fc.boolean(),
  }).map(({ id, router, fixed, addr, pf, del }) => ({
    kind: 'floatingip', id, doc: del ? null : {
      id, project_id: 'p', floating_network_id: 'n0', floating_ip_address: `203.0.113.${addr}`, router_id: router,
      port_id: fixed ? 'vmport' : null, fixed_ip_address: fixed,
      port_forwardings: pf && !fixed ? [{
        id: `${id}-pf`, protocol: 'tcp', internal_ip_address: '10.1.0.5', internal_port_id: 'vmport',
        internal_port_start: 22, internal_port_end: 22, external_port_start: 2222, external_port_end: 2222,
      }] : [],
    },
  })),
  firewall_group: fc.record({
    id: pick(['g0', 'g1']), ports: fc.subarray(['p0', 'p1', 'p2', 'p3']), ingress: maybeNull(pick(['pol0', 'pol1'])),
    egress: maybeNull(pick(['pol0', 'pol1'])), admin: fc.boolean(), del: fc.boolean(),
  }).map(({ id, ports, ingress, egress, admin, del }) => ({
    kind: 'firewall_group', id, doc: del ? null : { id, admin_state_up: admin, ports, ingress_firewall_policy_id: ingress, egress_firewall_policy_id: egress },
  })),
  firewall_policy: fc.record({ id: pick(['pol0', 'pol1']), rules: fc.subarray(['ru0', 'ru1', 'ru2']), del: fc.boolean() }).map(({ id, rules, del }) => ({
    kind: 'firewall_policy', id, doc: del ? null : { id, firewall_rules: rules },
  })),
  firewall_rule: fc.record({ id: pick(['ru0', 'ru1', 'ru2']), enabled: fc.boolean(), action: pick(['allow', 'deny', 'reject']), port: maybeNull(pick(['80', '1000:2000'])), del: fc.boolean() })
    .map(({ id, enabled, action, port, del }) => ({
      kind: 'firewall_rule', id, doc: del ? null : {
        id, enabled, ip_version: 4, protocol: 'tcp', source_ip_address: null, destination_ip_address: null, source_port: null, destination_port: port, action,
      },
    })),
};
const opArb: fc.Arbitrary<Op> = fc.oneof(...Object.values(docArb));

/** A model where every link is there (routers with legs here, groups with policies and rules), so that changes to any document reach a plan. */
const BASE: Op[] = (() => {
  const leg = (id: string, s: SubnetSpec, owner: string, device: string): Op => ({
    kind: 'port', id, doc: port(id, s, { owner, device, host: HOST, last: 1, mac: 1 }),
  });
  return [
    ...NETWORKS.map((id): Op => ({ kind: 'network', id, doc: network(id) })),
    ...SUBNETS.map((s): Op => ({ kind: 'subnet', id: s[0], doc: subnet(s, true) })),
    ...ROUTERS.map((id) => ({ kind: 'router' as const, id, doc: { id, project_id: 'p', admin_state_up: true, external_gateway_info: { network_id: 'n0', enable_snat: true, external_fixed_ips: [] }, routes: [] } })),
    leg('p0', SUBNETS[1], OWNERS[0], 'r0'), leg('p1', SUBNETS[2], OWNERS[0], 'r1'), leg('p2', SUBNETS[3], OWNERS[0], 'r2'), leg('p3', SUBNETS[0], OWNERS[1], 'r0'),
    { kind: 'firewall_rule', id: 'ru0', doc: { id: 'ru0', enabled: true, ip_version: 4, protocol: 'tcp', source_ip_address: null, destination_ip_address: null, source_port: null, destination_port: '80', action: 'allow' } },
    { kind: 'firewall_policy', id: 'pol0', doc: { id: 'pol0', firewall_rules: ['ru0', 'ru1'] } },
    { kind: 'firewall_policy', id: 'pol1', doc: { id: 'pol1', firewall_rules: ['ru2'] } },
    { kind: 'firewall_group', id: 'g0', doc: { id: 'g0', admin_state_up: true, ports: ['p0', 'p1'], ingress_firewall_policy_id: 'pol0', egress_firewall_policy_id: 'pol1' } },
    { kind: 'floatingip', id: 'f0', doc: { id: 'f0', project_id: 'p', floating_network_id: 'n0', floating_ip_address: '203.0.113.50', router_id: 'r0', port_id: 'vmport', fixed_ip_address: '10.1.0.5', port_forwardings: [] } },
  ];
})();

/** Each router's plan as text (absent routers are not in the map). */
const plans = (m: HostModel): Map<string, string> => new Map([...routerPlan(m, HOST)].map(([id, p]) => [id, JSON.stringify(p)]));

describe('routersTouched', () => {
  it('names every router whose plan a batch changed', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 10 }), fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }), (setup, batches) => {
      const m = new HostModel(HOST);
      for (const o of [...BASE, ...setup]) m.apply(o.kind, o.id, o.doc);
      for (const batch of batches) {
        const before = plans(m);
        const events = batch.map((o) => m.apply(o.kind, o.id, o.doc)).filter((e): e is NonNullable<typeof e> => e !== undefined) as ModelEvent[];
        const after = plans(m);
        const touched = routersTouched(m, events);
        for (const id of new Set([...before.keys(), ...after.keys()])) {
          if (before.get(id) !== after.get(id)) expect(touched, `router ${id} changed by ${JSON.stringify(batch)}`).toContain(id);
        }
      }
    }), { numRuns: 400 });
  });

  it('names no router for a change no plan reads', () => {
    const m = new HostModel(HOST);
    const e = m.apply('security_group', 'sg1', { id: 'sg1', project_id: 'p' });
    expect([...routersTouched(m, [e!])]).toEqual([]);
  });
});
