import { z } from 'zod';

// The part of each model document an agent needs. The controller sends documents trimmed to
// these fields (pickView); the agent parses them with the same schemas, so the two cannot drift.

const fixedIp = z.object({ subnet_id: z.string(), ip_address: z.string() });
const addressPair = z.object({ ip_address: z.string(), mac_address: z.string() });

export const networkView = z.object({
  id: z.string(),
  project_id: z.string(),
  admin_state_up: z.boolean(),
  mtu: z.number(),
  'provider:network_type': z.enum(['vxlan', 'vlan', 'flat']),
  'provider:physical_network': z.string().nullable(),
  'provider:segmentation_id': z.number().nullable(),
  'router:external': z.boolean(),
});

export const subnetView = z.object({
  id: z.string(),
  network_id: z.string(),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  cidr: z.string(),
  gateway_ip: z.string().nullable(),
  enable_dhcp: z.boolean(),
  dns_nameservers: z.array(z.string()),
  host_routes: z.array(z.object({ destination: z.string(), nexthop: z.string() })),
});

export const portView = z.object({
  id: z.string(),
  network_id: z.string(),
  admin_state_up: z.boolean(),
  mac_address: z.string(),
  fixed_ips: z.array(fixedIp),
  allowed_address_pairs: z.array(addressPair),
  port_security_enabled: z.boolean(),
  security_groups: z.array(z.string()),
  device_owner: z.string(),
  device_id: z.string(),
  'binding:host_id': z.string(),
});

export const securityGroupView = z.object({
  id: z.string(),
  project_id: z.string(),
});

export const securityGroupRuleView = z.object({
  id: z.string(),
  security_group_id: z.string(),
  direction: z.enum(['ingress', 'egress']),
  ethertype: z.enum(['IPv4', 'IPv6']),
  protocol: z.string().nullable(),
  port_range_min: z.number().nullable(),
  port_range_max: z.number().nullable(),
  /** The network address form of remote_ip_prefix. */
  normalized_cidr: z.string().nullable(),
  remote_group_id: z.string().nullable(),
});

export const routerView = z.object({
  id: z.string(),
  project_id: z.string(),
  admin_state_up: z.boolean(),
  external_gateway_info: z.object({
    network_id: z.string(),
    enable_snat: z.boolean(),
    external_fixed_ips: z.array(fixedIp),
  }).nullable(),
  routes: z.array(z.object({ destination: z.string(), nexthop: z.string() })),
  /** An HA router's gateway hosts, active first (controller/domain/l3-ha.ts); null without HA. */
  gateway_hosts: z.array(z.string()).nullish(),
});

export const portForwardingView = z.object({
  id: z.string(),
  protocol: z.enum(['tcp', 'udp']),
  internal_ip_address: z.string(),
  internal_port_id: z.string(),
  internal_port_start: z.number(),
  internal_port_end: z.number(),
  external_port_start: z.number(),
  external_port_end: z.number(),
});

export const floatingIpView = z.object({
  id: z.string(),
  project_id: z.string(),
  floating_network_id: z.string(),
  floating_ip_address: z.string(),
  router_id: z.string().nullable(),
  port_id: z.string().nullable(),
  fixed_ip_address: z.string().nullable(),
  /** Port forwardings (stored in the floating IP document); absent or null in older documents. */
  port_forwardings: z.preprocess((v) => v ?? [], z.array(portForwardingView)),
});

/** FWaaS v2, for the routers of a gateway host (controller/sync/interest-firewall.ts). */
export const firewallGroupView = z.object({
  id: z.string(),
  admin_state_up: z.boolean(),
  /** Router interface ports the group filters. */
  ports: z.array(z.string()),
  ingress_firewall_policy_id: z.string().nullable(),
  egress_firewall_policy_id: z.string().nullable(),
});

export const firewallPolicyView = z.object({
  id: z.string(),
  /** Rule ids in evaluation order. */
  firewall_rules: z.array(z.string()),
});

export const firewallRuleView = z.object({
  id: z.string(),
  enabled: z.boolean(),
  ip_version: z.union([z.literal(4), z.literal(6)]),
  protocol: z.string().nullable(),
  source_ip_address: z.string().nullable(),
  destination_ip_address: z.string().nullable(),
  /** '80' or '1000:2000', as the API shows it. */
  source_port: z.string().nullable(),
  destination_port: z.string().nullable(),
  action: z.enum(['allow', 'deny', 'reject']),
});

/** Another host's agent: where its tunnel ends, and whether it is a gateway host for BFD. */
export const agentView = z.object({
  id: z.string(),
  host: z.string(),
  tunnel_ip: z.string().nullable(),
  /**
   * controller/domain/gateway-capable.ts. Null or absent (a controller, or an agent document, from
   * before the flag) is taken as a gateway host: sessions as in the full mesh, never fewer.
   */
  gateway_capable: z.boolean().nullish(),
});

/**
 * Whether two hosts run a BFD session with each other (agent/underlay/bfd-plan.ts): as in OVN,
 * only when at least one of them is a gateway host. Here so that the agent (which plans the
 * sessions) and the controller (which counts a host's probers) cannot disagree.
 */
export function bfdPair(a: { gateway_capable?: boolean | null }, b: { gateway_capable?: boolean | null }): boolean {
  return a.gateway_capable !== false || b.gateway_capable !== false;
}

export const VIEW_SCHEMAS = {
  network: networkView,
  subnet: subnetView,
  port: portView,
  security_group: securityGroupView,
  security_group_rule: securityGroupRuleView,
  agent: agentView,
  router: routerView,
  floatingip: floatingIpView,
  firewall_group: firewallGroupView,
  firewall_policy: firewallPolicyView,
  firewall_rule: firewallRuleView,
} as const;

export type ViewKind = keyof typeof VIEW_SCHEMAS;
export const VIEW_KINDS = Object.keys(VIEW_SCHEMAS) as ViewKind[];

export type NetworkView = z.infer<typeof networkView>;
export type SubnetView = z.infer<typeof subnetView>;
export type PortView = z.infer<typeof portView>;
export type SecurityGroupView = z.infer<typeof securityGroupView>;
export type SecurityGroupRuleView = z.infer<typeof securityGroupRuleView>;
export type AgentView = z.infer<typeof agentView>;
export type RouterView = z.infer<typeof routerView>;
export type FloatingIpView = z.infer<typeof floatingIpView>;
export type FirewallGroupView = z.infer<typeof firewallGroupView>;
export type FirewallPolicyView = z.infer<typeof firewallPolicyView>;
export type FirewallRuleView = z.infer<typeof firewallRuleView>;

export interface ViewDocs {
  network: NetworkView;
  subnet: SubnetView;
  port: PortView;
  security_group: SecurityGroupView;
  security_group_rule: SecurityGroupRuleView;
  agent: AgentView;
  router: RouterView;
  floatingip: FloatingIpView;
  firewall_group: FirewallGroupView;
  firewall_policy: FirewallPolicyView;
  firewall_rule: FirewallRuleView;
}

export const isViewKind = (kind: string): kind is ViewKind => kind in VIEW_SCHEMAS;

/** The view of a stored document: only the fields the schema names. */
export function pickView(kind: ViewKind, doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(VIEW_SCHEMAS[kind].shape)) out[key] = doc[key] ?? null;
  return out;
}
