import fc from 'fast-check';
import { ADMIN, ALICE, type TestApi } from '../../helpers/api.ts';
import { booleanish, cidr, encode, ip, mac, nastyString, port, uuid, type Fields } from '../../helpers/arbitraries.ts';
import type { Endpoint, Fixtures, ResourceFuzz } from './fuzz-support.ts';
import { resourceEndpoints } from './fuzz-support.ts';

// The table of fuzzed resources: Neutron attributes with plausible-but-often-wrong values,
// built around the fixtures (real ids) so that bodies reach the domain logic.

const pick = (fx: Fixtures, ...kinds: string[]) => {
  const ids = kinds.flatMap((k) => fx.ids[k] ?? []);
  return ids.length ? fc.oneof(fc.constantFrom(...ids), uuid) : uuid;
};
/** A real fixture id (for valid base bodies). */
const real = (fx: Fixtures, kind: string) => ((fx.ids[kind] ?? []).length ? fc.constantFrom(...fx.ids[kind]) : uuid);
const project = fc.constantFrom('alice-project', 'bob-project', 'admin-project', '', 'x'.repeat(300), 'bad project');
const name = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 10 }) }, { weight: 1, arbitrary: nastyString });
const text = (f: string) => ({ [f]: name });
const ipOf = (prefix: string) => fc.integer({ min: 0, max: 257 }).map((n) => `${prefix}${n}`);
const fixedIps = (fx: Fixtures) => fc.array(fc.record({ subnet_id: pick(fx, 'subnet', 'ext_subnet'), ip_address: fc.oneof(ipOf('10.0.0.'), ip) }, { requiredKeys: [] }), { maxLength: 3 });
const pools = fc.array(fc.record({ start: fc.oneof(ipOf('10.0.0.'), ip), end: fc.oneof(ipOf('10.0.0.'), ip) }, { requiredKeys: [] }), { maxLength: 3 });
const prefixlen = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -1, max: 130 }) }, { weight: 1, arbitrary: fc.constantFrom('24', '64', 'abc', null, 1.5) });
const poolPrefixes = fc.array(fc.oneof(cidr, fc.constantFrom('10.100.0.0/16', '10.100.5.0/24', '10.102.0.0/16', '2001:db8:100::/48')), { maxLength: 4 });
const routes = fc.array(fc.record({ destination: cidr, nexthop: fc.oneof(ipOf('10.0.0.'), ip) }, { requiredKeys: [] }), { maxLength: 3 });

const networkFields = (): Fields => ({
  ...text('name'), ...text('description'), admin_state_up: booleanish, shared: booleanish, 'router:external': booleanish,
  mtu: fc.constantFrom(0, 67, 68, 1450, 1500, 9000, 65536, '1500'), port_security_enabled: booleanish,
  'provider:network_type': fc.constantFrom('vxlan', 'vlan', 'flat', 'gre', 'local', 'geneve', ''),
  'provider:physical_network': fc.constantFrom('physnet1', 'ext', '', null), 'provider:segmentation_id': fc.constantFrom(0, 1, 100, 4094, 4095, 1000, 16777215, 16777216, '101', null),
  availability_zone_hints: fc.array(fc.constantFrom('nova', 'az2')), project_id: project, tenant_id: project, tags: fc.array(name, { maxLength: 3 }),
});

const subnetFields = (fx: Fixtures): Fields => ({
  network_id: pick(fx, 'network', 'ext_network'), cidr, ip_version: fc.constantFrom(4, 6, 5, '4', 0), ...text('name'), ...text('description'),
  gateway_ip: fc.oneof(ipOf('10.0.0.'), ip, fc.constant(null)), enable_dhcp: booleanish, allocation_pools: pools,
  dns_nameservers: fc.array(fc.oneof(ip, name), { maxLength: 3 }), host_routes: routes,
  ipv6_ra_mode: fc.constantFrom('slaac', 'dhcpv6-stateful', 'dhcpv6-stateless', 'bogus', null), ipv6_address_mode: fc.constantFrom('slaac', 'dhcpv6-stateful', 'bogus', null),
  prefixlen: prefixlen, subnetpool_id: fc.oneof(pick(fx, 'subnetpool'), fc.constant(null)), use_default_subnetpool: booleanish,
  segment_id: fc.oneof(uuid, fc.constant(null)), service_types: fc.array(fc.constantFrom('network:router_gateway', 'compute:nova', 'x')), project_id: project,
});

const portFields = (fx: Fixtures): Fields => ({
  network_id: pick(fx, 'network', 'ext_network'), ...text('name'), ...text('description'), admin_state_up: booleanish, mac_address: mac,
  fixed_ips: fixedIps(fx), device_id: fc.oneof(uuid, name), device_owner: fc.constantFrom('', 'compute:nova', 'network:router_interface', 'network:dhcp', 'network:router_gateway', 'network:floatingip'),
  security_groups: fc.array(pick(fx, 'security_group'), { maxLength: 3 }), port_security_enabled: booleanish,
  allowed_address_pairs: fc.array(fc.record({ ip_address: fc.oneof(ip, cidr), mac_address: mac }, { requiredKeys: [] }), { maxLength: 3 }),
  'binding:host_id': fc.constantFrom('host1', '', 'h'.repeat(300)), 'binding:vnic_type': fc.constantFrom('normal', 'direct', 'bogus'),
  'binding:profile': fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }), extra_dhcp_opts: fc.array(fc.record({ opt_name: name, opt_value: name })),
  dns_name: name, project_id: project,
});

const sgFields = (): Fields => ({ ...text('name'), ...text('description'), stateful: booleanish, project_id: project });

const sgRuleFields = (fx: Fixtures): Fields => ({
  security_group_id: real(fx, 'security_group'), direction: fc.constantFrom('ingress', 'egress', 'both', ''), ethertype: fc.constantFrom('IPv4', 'IPv6', 'ipv4', 'IPv5'),
  protocol: fc.constantFrom('tcp', 'udp', 'icmp', 'icmpv6', 'ipv6-icmp', 'any', '6', '17', '256', '-1', 'foo', null, 0, 6),
  port_range_min: port, port_range_max: port, remote_ip_prefix: fc.oneof(cidr, ip, fc.constant(null)), remote_group_id: fc.oneof(pick(fx, 'security_group'), fc.constant(null)),
  remote_address_group_id: fc.oneof(uuid, fc.constant(null)), ...text('description'), project_id: project,
});

const gatewayInfo = (fx: Fixtures) => fc.oneof(fc.constant(null), fc.record({
  network_id: pick(fx, 'ext_network', 'network'), enable_snat: booleanish,
  external_fixed_ips: fc.array(fc.record({ subnet_id: pick(fx, 'ext_subnet', 'subnet'), ip_address: fc.oneof(ipOf('172.24.4.'), ip) }, { requiredKeys: [] }), { maxLength: 2 }),
}, { requiredKeys: [] }));

const routerFields = (fx: Fixtures): Fields => ({
  ...text('name'), ...text('description'), admin_state_up: booleanish, external_gateway_info: gatewayInfo(fx), distributed: booleanish, ha: booleanish,
  routes, availability_zone_hints: fc.array(fc.constantFrom('nova')), flavor_id: fc.oneof(uuid, fc.constant(null)), project_id: project,
});

const fipFields = (fx: Fixtures): Fields => ({
  floating_network_id: pick(fx, 'ext_network', 'network'), floating_ip_address: fc.oneof(ipOf('172.24.4.'), ip), subnet_id: pick(fx, 'ext_subnet', 'subnet'),
  port_id: fc.oneof(pick(fx, 'port'), fc.constant(null)), fixed_ip_address: fc.oneof(ipOf('10.0.0.'), ip, fc.constant(null)), ...text('description'),
  dns_name: name, dns_domain: name, qos_policy_id: fc.oneof(uuid, fc.constant(null)), project_id: project,
});

const subnetPoolFields = (): Fields => ({
  name, ...text('description'), prefixes: poolPrefixes, default_prefixlen: prefixlen, min_prefixlen: prefixlen, max_prefixlen: prefixlen,
  default_quota: fc.oneof(fc.integer({ min: -1, max: 1 << 20 }), fc.constantFrom('4', null)), shared: booleanish, is_default: booleanish,
  address_scope_id: fc.oneof(uuid, fc.constantFrom(null, 'foo')), project_id: project, tenant_id: project, tags: fc.array(name, { maxLength: 3 }), ip_version: fc.constantFrom(4, 6),
});
const subnetPoolUpdate = () => only(subnetPoolFields(), ['name', 'description', 'prefixes', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen', 'default_quota', 'is_default', 'address_scope_id', 'shared', 'tenant_id']);
const prefixesBody = fc.record({ prefixes: fc.array(fc.constantFrom('10.100.0.0/24', '10.100.5.0/24', '10.103.0.0/16', '10.110.0.0/17', '2001:db8:101::/48'), { minLength: 1, maxLength: 2 }) });

const quotaFields = (): Fields => Object.fromEntries(
  ['network', 'subnet', 'port', 'router', 'floatingip', 'security_group', 'security_group_rule', 'subnetpool', 'rbac_policy']
    .map((k) => [k, fc.constantFrom(-2, -1, 0, 1, 10, 1000, 2 ** 31, '5', 'unlimited', null, 1.5)]),
);

const only = (fields: Fields, keys: string[]): Fields => Object.fromEntries(keys.filter((k) => k in fields).map((k) => [k, fields[k]]));
const networkUpdate = () => only(networkFields(), ['name', 'description', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled']);
const subnetUpdate = (fx: Fixtures) => only(subnetFields(fx), ['name', 'description', 'gateway_ip', 'enable_dhcp', 'allocation_pools', 'dns_nameservers', 'host_routes']);
const portUpdate = (fx: Fixtures) => only(portFields(fx), ['name', 'description', 'admin_state_up', 'mac_address', 'fixed_ips', 'device_id', 'device_owner', 'security_groups', 'port_security_enabled', 'allowed_address_pairs', 'binding:host_id', 'binding:profile', 'binding:vnic_type']);
const routerUpdate = (fx: Fixtures) => only(routerFields(fx), ['name', 'description', 'admin_state_up', 'external_gateway_info', 'routes']);
const interfaceBody = (fx: Fixtures) => fc.oneof(fc.record({ subnet_id: real(fx, 'subnet') }), fc.record({ port_id: real(fx, 'port') }));

const common = ['id', 'name', 'description', 'project_id', 'tenant_id', 'created_at', 'updated_at', 'revision_number', 'tags'];

export const RESOURCES: ResourceFuzz[] = [
  { path: 'networks', base: () => fc.record({ name: fc.string({ maxLength: 8 }) }), kind: 'network', singular: 'network', collection: 'networks', attributes: [...common, 'admin_state_up', 'shared', 'router:external', 'mtu', 'status', 'subnets', 'provider:network_type', 'provider:segmentation_id'], createFields: networkFields, updateFields: networkUpdate },
  { path: 'subnets', base: (fx) => fc.oneof(
    fc.record({ network_id: real(fx, 'network'), ip_version: fc.constant(4), cidr: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `10.${a}.${b}.0/24`) }),
    fc.record({ network_id: real(fx, 'network'), ip_version: fc.constant(4), subnetpool_id: real(fx, 'subnetpool') }),
  ), kind: 'subnet', singular: 'subnet', collection: 'subnets', attributes: [...common, 'network_id', 'cidr', 'ip_version', 'gateway_ip', 'enable_dhcp', 'ipv6_ra_mode', 'ipv6_address_mode', 'subnetpool_id'], createFields: subnetFields, updateFields: subnetUpdate },
  { path: 'ports', base: (fx) => fc.record({ network_id: real(fx, 'network') }), kind: 'port', singular: 'port', collection: 'ports', attributes: [...common, 'network_id', 'mac_address', 'fixed_ips', 'device_id', 'device_owner', 'status', 'admin_state_up', 'binding:host_id', 'security_groups'], createFields: portFields, updateFields: portUpdate },
  { path: 'security-groups', base: () => fc.record({ name: fc.string({ maxLength: 8 }) }), kind: 'security_group', singular: 'security_group', collection: 'security_groups', attributes: [...common, 'stateful'], createFields: sgFields, updateFields: sgFields },
  { path: 'security-group-rules', base: (fx) => fc.record({ security_group_id: real(fx, 'security_group'), direction: fc.constantFrom('ingress', 'egress'), protocol: fc.constantFrom('tcp', 'udp', 'icmp', null), port_range_min: fc.constantFrom(undefined, 22, 80) }).map((b) => JSON.parse(JSON.stringify(b))), kind: 'security_group_rule', singular: 'security_group_rule', collection: 'security_group_rules', attributes: ['id', 'project_id', 'tenant_id', 'security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id', 'description'], createFields: sgRuleFields, updateFields: () => ({ ...text('description'), direction: fc.constantFrom('ingress') }), tags: false },
  {
    path: 'routers', base: () => fc.record({ name: fc.string({ maxLength: 8 }) }), kind: 'router', singular: 'router', collection: 'routers', attributes: [...common, 'admin_state_up', 'status', 'external_gateway_info', 'distributed', 'ha'], createFields: routerFields, updateFields: routerUpdate,
    actions: [
      { name: 'add_router_interface', method: 'PUT', valid: interfaceBody, fields: (fx) => ({ subnet_id: pick(fx, 'subnet', 'ext_subnet'), port_id: pick(fx, 'port') }) },
      { name: 'remove_router_interface', method: 'PUT', valid: interfaceBody, fields: (fx) => ({ subnet_id: pick(fx, 'subnet', 'ext_subnet'), port_id: pick(fx, 'port') }) },
      { name: 'add_extraroutes', method: 'PUT', wrap: 'router', fields: () => ({ routes }) },
      { name: 'remove_extraroutes', method: 'PUT', wrap: 'router', fields: () => ({ routes }) },
    ],
  },
  {
    path: 'subnetpools', base: () => fc.record({ name: fc.constant('fz'), prefixes: fc.constantFrom(['10.100.0.0/16'], ['2001:db8:100::/48'], ['10.120.0.0/24', '10.121.0.0/24']) }), kind: 'subnetpool', singular: 'subnetpool', collection: 'subnetpools',
    attributes: [...common, 'ip_version', 'prefixes', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen', 'default_quota', 'shared', 'is_default', 'address_scope_id'], createFields: subnetPoolFields, updateFields: subnetPoolUpdate,
    actions: [
      { name: 'add_prefixes', method: 'PUT', valid: () => prefixesBody, fields: () => ({ prefixes: poolPrefixes }) },
      { name: 'remove_prefixes', method: 'PUT', valid: () => prefixesBody, fields: () => ({ prefixes: poolPrefixes }) },
    ],
  },
  { path: 'floatingips', base: (fx) => fc.record({ floating_network_id: real(fx, 'ext_network') }), kind: 'floatingip', singular: 'floatingip', collection: 'floatingips', attributes: [...common, 'floating_network_id', 'floating_ip_address', 'fixed_ip_address', 'port_id', 'router_id', 'status'], createFields: fipFields, updateFields: (fx) => ({ port_id: fc.oneof(pick(fx, 'port'), fc.constant(null)), fixed_ip_address: fc.oneof(ipOf('10.0.0.'), ip), ...text('description') }) },
];

/** Quotas: /v2.0/quotas, /v2.0/quotas/{project}[/default|/details]. */
export const QUOTA_ENDPOINTS: Endpoint[] = (() => {
  const projectSeg = fc.oneof(fc.constantFrom('alice-project', 'bob-project', 'admin-project', 'nobody'), nastyString.filter((s) => s.length > 0 && s.length < 200).map(encode));
  const callers = fc.constantFrom(ADMIN, ALICE);
  return [
    { name: 'GET /v2.0/quotas[/{project}[/default|/details]]', requests: () => fc.record({ caller: callers, method: fc.constant('GET' as const), url: fc.tuple(projectSeg, fc.constantFrom('', '/default', '/details', '/bogus'), fc.boolean()).map(([p, s, list]) => (list ? '/v2.0/quotas' : `/v2.0/quotas/${p}${s}`)) }) },
    { name: 'PUT /v2.0/quotas/{project}', requests: () => fc.record({ caller: callers, method: fc.constant('PUT' as const), url: projectSeg.map((p) => `/v2.0/quotas/${p}`), body: fc.oneof(
      fc.record({ quota: fc.record(Object.fromEntries(Object.entries(quotaFields()).map(([k, a]) => [k, a])), { requiredKeys: [] }) }),
      fc.dictionary(fc.constantFrom('quota', 'quotas'), fc.oneof(fc.constant({}), fc.dictionary(nastyString, fc.integer(), { maxKeys: 2 }))),
    ).map((json) => ({ json })) }) },
    { name: 'DELETE /v2.0/quotas/{project}', requests: () => fc.record({ caller: fc.constantFrom(ADMIN, ALICE), method: fc.constant('DELETE' as const), url: projectSeg.map((p) => `/v2.0/quotas/${p}`) }) },
  ];
})();

export function endpointsFor(paths: string[]): Endpoint[] {
  return RESOURCES.filter((r) => paths.includes(r.path)).flatMap(resourceEndpoints);
}

/** Create one of everything (as ALICE, external network as ADMIN); resources not served yet get random ids. */
export async function makeFixtures(api: TestApi): Promise<Fixtures> {
  const ids: Record<string, string[]> = {};
  const make = async (kind: string, path: string, body: Record<string, unknown>, caller = ALICE) => {
    const res = await api.call(caller, 'POST', `/v2.0/${path}`, body);
    const created = res.status === 201 ? (Object.values(res.body)[0] as { id: string }) : undefined;
    (ids[kind] ??= []).push(created?.id ?? crypto.randomUUID());
    return created?.id ?? ids[kind][ids[kind].length - 1];
  };
  const net = await make('network', 'networks', { network: { name: 'fx-net' } });
  const ext = await make('ext_network', 'networks', { network: { name: 'fx-ext', 'router:external': true } }, ADMIN);
  const subnet = await make('subnet', 'subnets', { subnet: { network_id: net, cidr: '10.0.0.0/24', ip_version: 4 } });
  const extSubnet = await make('ext_subnet', 'subnets', { subnet: { network_id: ext, cidr: '172.24.4.0/24', ip_version: 4 } }, ADMIN);
  // Subnet pools: ALICE's (with a subnet taken from it, so it is in use) and a shared one of the admin's.
  const pool = await make('subnetpool', 'subnetpools', { subnetpool: { name: 'fx-pool', prefixes: ['10.100.0.0/16'], default_prefixlen: 24 } });
  await make('subnetpool', 'subnetpools', { subnetpool: { name: 'fx-shared', prefixes: ['10.110.0.0/16'], default_prefixlen: 26, shared: true } }, ADMIN);
  const pooledNet = await make('network', 'networks', { network: { name: 'fx-pooled' } });
  await make('subnet', 'subnets', { subnet: { network_id: pooledNet, ip_version: 4, subnetpool_id: pool } });
  await make('network', 'networks', { network: { name: 'fx-empty' } });
  const sg = await make('security_group', 'security-groups', { security_group: { name: 'fx-sg' } });
  await make('security_group_rule', 'security-group-rules', { security_group_rule: { security_group_id: sg, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 } });
  const port = await make('port', 'ports', { port: { network_id: net, fixed_ips: [{ subnet_id: subnet }] } });
  await make('port', 'ports', { port: { network_id: net } });
  const router = await make('router', 'routers', { router: { name: 'fx-router', external_gateway_info: { network_id: ext } } });
  await api.call(ALICE, 'PUT', `/v2.0/routers/${router}/add_router_interface`, { subnet_id: subnet });
  await make('floatingip', 'floatingips', { floatingip: { floating_network_id: ext, port_id: port } });
  void extSubnet;
  // network fixtures are also networks for the networks endpoints
  ids.network.push(...ids.ext_network);
  return { ids };
}
