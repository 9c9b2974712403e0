// What a host's agent should hold, worked out from the model as the admin API lists it, written
// apart from controller/sync/interest.ts (which keeps it incrementally with reference counts) so
// that the scale test can check one against the other. The rule (docs/NOTES.md, "Sync"):
//   ports:   bound to the host; on a network with a port bound to the host; members of a group
//            that a rule of a local port's group names as its remote group
//   network: those with a local port, and their subnets
//   groups:  the local ports' groups with all their rules, plus the remote groups of those rules
//   routers: those with a port bound to the host, with their floating IPs
//   HA:      a standby gateway host of an HA router (GET /v2.0/routers/{id}/l3-agents) gets all of
//            the above as if the router's ports were bound to it (controller/sync/interest-gateway-group.ts)
//   FWaaS:   firewall groups holding a local router interface port, their policies and those
//            policies' rules
//   agents:  all of them
import type { ApiCall } from './scale-model.ts';

export type Doc = Record<string, any> & { id: string };

export interface ListedModel {
  network: Doc[];
  subnet: Doc[];
  port: Doc[];
  security_group: Doc[];
  security_group_rule: Doc[];
  agent: Doc[];
  router: Doc[];
  floatingip: Doc[];
  firewall_group: Doc[];
  firewall_policy: Doc[];
  firewall_rule: Doc[];
}

export type HostView = { [K in keyof ListedModel]: Set<string> };

const COLLECTIONS: Array<[keyof ListedModel, string, string]> = [
  ['network', 'networks', 'networks'], ['subnet', 'subnets', 'subnets'], ['port', 'ports', 'ports'],
  ['security_group', 'security-groups', 'security_groups'], ['security_group_rule', 'security-group-rules', 'security_group_rules'],
  ['agent', 'agents', 'agents'], ['router', 'routers', 'routers'], ['floatingip', 'floatingips', 'floatingips'],
  ['firewall_group', 'fwaas/firewall_groups', 'firewall_groups'], ['firewall_policy', 'fwaas/firewall_policies', 'firewall_policies'],
  ['firewall_rule', 'fwaas/firewall_rules', 'firewall_rules'],
];

/** Every document of the kinds agents hold, as the admin sees them. */
export async function listModel(api: ApiCall): Promise<ListedModel> {
  const out = {} as ListedModel;
  for (const [kind, path, key] of COLLECTIONS) out[kind] = (await api('GET', `/v2.0/${path}`))[key];
  // The API never shows a router's gateway group; its l3-agents list does (active first), and the
  // agents' view carries it as `gateway_hosts` (null without HA).
  for (const r of out.router) {
    r.gateway_hosts = r.ha ? (await api('GET', `/v2.0/routers/${r.id}/l3-agents`)).agents.map((a: Doc) => a.host) : null;
  }
  return out;
}

const ROUTER_OWNERS = new Set(['network:router_interface', 'network:router_interface_distributed', 'network:router_gateway']);
const INTERFACE_OWNERS = new Set(['network:router_interface', 'network:router_interface_distributed']);

export function expectedView(model: ListedModel, host: string): HostView {
  const standbyOf = new Set(model.router.filter((r) => ((r.gateway_hosts as string[] | null) ?? []).includes(host)).map((r) => r.id));
  const local = model.port.filter((p) => p['binding:host_id'] === host
    || (ROUTER_OWNERS.has(p.device_owner) && standbyOf.has(p.device_id)));
  const networks = new Set(local.map((p) => p.network_id as string));
  const groups = new Set(local.flatMap((p) => p.security_groups as string[]));
  const rules = model.security_group_rule.filter((r) => groups.has(r.security_group_id));
  const remotes = new Set(rules.flatMap((r) => (r.remote_group_id ? [r.remote_group_id as string] : [])));
  const routers = new Set(local.filter((p) => ROUTER_OWNERS.has(p.device_owner) && p.device_id).map((p) => p.device_id as string));
  const interfaces = new Set(local.filter((p) => INTERFACE_OWNERS.has(p.device_owner) && p.device_id).map((p) => p.id));
  const fwGroups = model.firewall_group.filter((g) => (g.ports as string[]).some((p) => interfaces.has(p)));
  const fwPolicies = new Set(fwGroups.flatMap((g) => [g.ingress_firewall_policy_id, g.egress_firewall_policy_id].filter(Boolean) as string[]));
  const fwRules = new Set(model.firewall_policy.filter((p) => fwPolicies.has(p.id)).flatMap((p) => p.firewall_rules as string[]));
  const ids = (docs: Doc[]) => new Set(docs.map((d) => d.id));
  return {
    port: ids(model.port.filter((p) => local.includes(p) || networks.has(p.network_id)
      || (p.security_groups as string[]).some((g) => remotes.has(g)))),
    network: ids(model.network.filter((n) => networks.has(n.id))),
    subnet: ids(model.subnet.filter((s) => networks.has(s.network_id))),
    security_group: ids(model.security_group.filter((g) => groups.has(g.id) || remotes.has(g.id))),
    security_group_rule: ids(rules),
    agent: ids(model.agent),
    router: ids(model.router.filter((r) => routers.has(r.id))),
    floatingip: ids(model.floatingip.filter((f) => f.router_id && routers.has(f.router_id))),
    firewall_group: ids(fwGroups),
    firewall_policy: ids(model.firewall_policy.filter((p) => fwPolicies.has(p.id))),
    firewall_rule: ids(model.firewall_rule.filter((r) => fwRules.has(r.id))),
  };
}

/** Ids missing from `held` and ids it has beyond `expected`, per kind (empty when they agree). */
export function viewDifferences(expected: HostView, held: (kind: keyof HostView) => Set<string>): Record<string, { missing: string[]; extra: string[] }> {
  const out: Record<string, { missing: string[]; extra: string[] }> = {};
  for (const kind of Object.keys(expected) as Array<keyof HostView>) {
    const has = held(kind);
    const missing = [...expected[kind]].filter((id) => !has.has(id));
    const extra = [...has].filter((id) => !expected[kind].has(id));
    if (missing.length || extra.length) out[kind] = { missing, extra };
  }
  return out;
}

/** Held documents whose fields differ from the API's document (for the fields the view has). */
export function contentDifferences(listed: Doc[], held: Iterable<Record<string, unknown> & { id: string }>): string[] {
  const byId = new Map(listed.map((d) => [d.id, d]));
  const out: string[] = [];
  for (const doc of held) {
    const api = byId.get(doc.id);
    const differs = !api || Object.keys(doc).some((k) => JSON.stringify(doc[k]) !== JSON.stringify(api[k] ?? null));
    if (differs) out.push(doc.id);
  }
  return out;
}
