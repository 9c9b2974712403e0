import type { Doc, IndexSpec } from '../store/types.ts';
import { externalReachKey } from './gateway-capable.ts';

// Secondary indexes the domain looks things up by.

const byProject = (d: Doc) => d.project_id;

interface FixedIp { subnet_id: string; ip_address: string }

/** Neutron's router interface owners (routers.ts re-exports them). */
export const ROUTER_INTERFACE_OWNERS: readonly string[] = [
  'network:router_interface', 'network:router_interface_distributed', 'network:ha_router_replicated_interface',
];
const isRouterInterface = (d: Doc): boolean => ROUTER_INTERFACE_OWNERS.includes(d.device_owner as string);

export const MODEL_INDEXES: IndexSpec = {
  // External networks by what a host needs to reach them (gateway-capable.ts).
  network: { project_id: byProject, external_reach: externalReachKey },
  subnet: { project_id: byProject, network_id: (d) => d.network_id, subnetpool_id: (d) => d.subnetpool_id ?? undefined },
  subnetpool: { project_id: byProject },
  port: {
    project_id: byProject,
    network_id: (d) => d.network_id,
    device_id: (d) => d.device_id || undefined,
    subnet_id: (d) => (d.fixed_ips as FixedIp[]).map((f) => f.subnet_id),
    security_group: (d) => d.security_groups,
    host: (d) => d['binding:host_id'] || undefined,
    // Router interfaces by network and subnet, so that floating IP and port lookups do not walk
    // every port of a large network.
    router_interface_network: (d) => (isRouterInterface(d) ? d.network_id : undefined),
    router_interface_subnet: (d) => (isRouterInterface(d) ? (d.fixed_ips as FixedIp[]).map((f) => f.subnet_id) : undefined),
  },
  security_group: { project_id: byProject },
  security_group_rule: {
    project_id: byProject,
    security_group_id: (d) => d.security_group_id,
    remote_group_id: (d) => d.remote_group_id ?? undefined,
  },
  // HA routers by the hosts of their gateway group (domain/l3-ha.ts): a host's standby routers.
  router: { project_id: byProject, gateway_host: (d) => (Array.isArray(d.gateway_hosts) ? d.gateway_hosts : undefined) },
  floatingip: {
    project_id: byProject,
    port_id: (d) => d.port_id ?? undefined,
    router_id: (d) => d.router_id ?? undefined,
    floating_network_id: (d) => d.floating_network_id,
  },
  // FWaaS: the policies that list a rule, the groups that use a policy or hold a port.
  firewall_rule: { project_id: byProject },
  firewall_policy: { project_id: byProject, firewall_rule: (d) => d.firewall_rules },
  firewall_group: {
    project_id: byProject,
    port: (d) => d.ports,
    ingress_firewall_policy_id: (d) => d.ingress_firewall_policy_id ?? undefined,
    egress_firewall_policy_id: (d) => d.egress_firewall_policy_id ?? undefined,
  },
  // Agent identity (auth/agent-credentials.ts): a secret is looked up by its hash, a host's credential by host.
  agent: { host: (d) => d.host },
  agent_credential: { host: (d) => d.host, secret_hash: (d) => d.secret_hash },
  agent_enrolment: { token_hash: (d) => d.token_hash },
};
