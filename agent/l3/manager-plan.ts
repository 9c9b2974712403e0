// What the L3 part of the agent wants on this host, computed from the host model. PURE: no I/O.
//
// A router is planned on this host when it is admin-up and at least one of its ports
// ('network:router_interface' / 'network:router_gateway', device_id = router id) is bound here
// (role 'active'): only the ports bound here become interfaces (plugged into this host's br-int).
// An HA router whose gateway group (`gateway_hosts`, controller/domain/l3-ha.ts) holds this host
// while its ports are bound elsewhere is planned too, in full, with all its router ports (role
// 'standby'): the manager builds it but keeps its legs silent until it becomes active here.
//
//   qr-<port id[:11]>  one per router_interface port: each fixed IP with its subnet's prefix length
//   qg-<port id[:11]>  the router_gateway port: its fixed IPs, plus every floating IP of the router
//                      as /32 (so the router answers ARP for them on the external network, as
//                      Neutron's L3 agent does); default route via the external subnet's gateway_ip
//
// NAT (agent/l3/rules.ts): SNAT to the first IPv4 of the gateway port for the IPv4 subnets behind
// the qr ports, 1:1 DNAT/SNAT for the router's floating IPs that are associated (port_id and
// fixed_ip_address set), and DNAT of the port forwardings of the router's floating IPs that are
// not associated with a port (their floating address is also added to qg as /32).
//
// Firewall (agent/l3/firewall-plan.ts, compiled by firewall-rules.ts): the qr legs that are in a
// firewall group, with the group's admin state and its ingress and egress policies' enabled rules.
import type { HostModel } from '../model/host-model.ts';
import type { PortView } from '../../schemas/agent/view.ts';
import { routerFirewallPlan } from './firewall-plan.ts';
import type { FirewallPortSpec } from './firewall-rules.ts';
import { routerInterfaceName, type RouterInterfaceSpec, type RouterSpec } from './namespace.ts';
import type { RouterNat } from './rules.ts';

export const ROUTER_INTERFACE_OWNER = 'network:router_interface';
export const ROUTER_GATEWAY_OWNER = 'network:router_gateway';

/** An HA router's role on this host ('active' for every router whose ports are bound here). */
export type RouterRole = 'active' | 'standby';

export interface RouterPlan {
  role: RouterRole;
  /** An HA router (it has a gateway group): only those are silenced by the self-fence. */
  ha: boolean;
  spec: RouterSpec;
  nat: RouterNat;
  /** Ids of the floating IPs the NAT maps (the ones that become 'active' once applied). */
  floatingIpIds: string[];
  /** The router's qr legs that are in a firewall group, sorted by interface name. */
  firewall: FirewallPortSpec[];
}

const isV4 = (a: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(a);
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Addresses in CIDR form (fixed IP + its subnet's prefix length); fixed IPs of unknown subnets are skipped. */
function portAddresses(model: HostModel, port: PortView): string[] {
  const out: string[] = [];
  for (const f of port.fixed_ips) {
    const subnet = model.get('subnet', f.subnet_id);
    const len = subnet?.cidr.split('/')[1];
    if (len === undefined) continue;
    out.push(`${f.ip_address}/${len}`);
  }
  return out;
}

function interfaceSpec(model: HostModel, kind: 'qr' | 'qg', port: PortView): RouterInterfaceSpec {
  const mtu = model.get('network', port.network_id)?.mtu;
  return {
    portId: port.id,
    name: routerInterfaceName(kind, port.id),
    mac: port.mac_address,
    addresses: portAddresses(model, port),
    ...(mtu !== undefined ? { mtu } : {}),
  };
}

/** This host's role for a router: active where its ports are bound, standby in its gateway group; else none. Pure. */
export function roleOf(boundHere: boolean, gatewayHosts: readonly string[] | null, host: string): RouterRole | undefined {
  if (boundHere) return 'active';
  return gatewayHosts?.includes(host) ? 'standby' : undefined;
}

/** The routers this host should carry, by router id. */
export function routerPlan(model: HostModel, host: string): Map<string, RouterPlan> {
  const plan = new Map<string, RouterPlan>();
  for (const router of [...model.all('router')].sort(byId)) {
    const p = planRouter(model, host, router.id);
    if (p) plan.set(router.id, p);
  }
  return plan;
}

/** One router's plan on this host; undefined when the host does not carry it. */
export function planRouter(model: HostModel, host: string, routerId: string): RouterPlan | undefined {
  const router = model.get('router', routerId);
  if (!router?.admin_state_up) return undefined;
  const routerPorts = [...model.portsOfDevice(router.id)]
    .map((id) => model.get('port', id))
    .filter((p): p is PortView => p !== undefined && (p.device_owner === ROUTER_INTERFACE_OWNER || p.device_owner === ROUTER_GATEWAY_OWNER))
    .sort(byId);
  const here = routerPorts.filter((p) => p['binding:host_id'] === host);
  const role = roleOf(here.length > 0, router.gateway_hosts ?? null, host);
  if (!role) return undefined;
  const ports = role === 'active' ? here : routerPorts;
  const ifPorts = ports.filter((p) => p.device_owner === ROUTER_INTERFACE_OWNER);
  const gwPort = ports.find((p) => p.device_owner === ROUTER_GATEWAY_OWNER);
  if (ifPorts.length === 0 && !gwPort) return undefined;

  const interfaces = ifPorts.map((p) => interfaceSpec(model, 'qr', p));
  const internalCidrs: string[] = [];
  for (const p of ifPorts) {
    for (const f of p.fixed_ips) {
      const s = model.get('subnet', f.subnet_id);
      if (s && s.ip_version === 4 && !internalCidrs.includes(s.cidr)) internalCidrs.push(s.cidr);
    }
  }

  let gateway: RouterSpec['gateway'];
  let gatewayIp: string | null = null;
  const floatingIps: RouterNat['floatingIps'] = [];
  const portForwardings: RouterNat['portForwardings'] = [];
  const floatingIpIds: string[] = [];
  if (gwPort) {
    gateway = interfaceSpec(model, 'qg', gwPort);
    const v4 = gwPort.fixed_ips.find((f) => isV4(f.ip_address));
    gatewayIp = v4?.ip_address ?? null;
    // The external subnet's gateway: that of the subnet of the first IPv4 address, else of any.
    const candidates = v4 ? [v4, ...gwPort.fixed_ips] : gwPort.fixed_ips;
    for (const f of candidates) {
      const gw = model.get('subnet', f.subnet_id)?.gateway_ip;
      if (gw) {
        gateway.defaultGateway = gw;
        break;
      }
    }
    if (gatewayIp !== null) {
      const floatingAddresses = new Set<string>();
      const fips = [...model.floatingIpsOfRouter(router.id)]
        .map((id) => model.get('floatingip', id))
        .filter((f) => f !== undefined)
        .sort(byId);
      for (const f of fips) {
        if (!f.port_id && f.port_forwardings.length && isV4(f.floating_ip_address)) {
          // Port forwardings of an unassociated floating IP (Neutron's port_forwarding L3 extension).
          const pfs = [...f.port_forwardings].filter((p) => isV4(p.internal_ip_address)).sort(byId);
          for (const p of pfs) {
            portForwardings.push({
              floating: f.floating_ip_address,
              protocol: p.protocol,
              externalPort: p.external_port_start === p.external_port_end ? p.external_port_start : [p.external_port_start, p.external_port_end],
              internalIp: p.internal_ip_address,
              internalPort: p.internal_port_start === p.internal_port_end ? p.internal_port_start : [p.internal_port_start, p.internal_port_end],
            });
          }
          if (!pfs.length) continue;
          floatingIpIds.push(f.id);
          floatingAddresses.add(`${f.floating_ip_address}/32`);
          continue;
        }
        if (!f.port_id || !f.fixed_ip_address) continue;
        if (!isV4(f.floating_ip_address) || !isV4(f.fixed_ip_address)) continue;
        floatingIps.push({ floating: f.floating_ip_address, fixed: f.fixed_ip_address });
        floatingIpIds.push(f.id);
        floatingAddresses.add(`${f.floating_ip_address}/32`);
      }
      // A Set: a router may carry thousands of floating IPs, and a remap replans it whole.
      const own = new Set(gateway.addresses);
      for (const host32 of floatingAddresses) if (!own.has(host32)) gateway.addresses.push(host32);
    }
  }

  return {
    role,
    ha: (router.gateway_hosts?.length ?? 0) > 0,
    spec: {
      routerId: router.id,
      interfaces,
      ...(gateway ? { gateway } : {}),
      routes: router.routes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
    },
    nat: {
      gatewayInterface: gateway?.name ?? '',
      gatewayIp,
      enableSnat: router.external_gateway_info?.enable_snat ?? true,
      internalCidrs,
      floatingIps,
      portForwardings,
    },
    floatingIpIds,
    firewall: routerFirewallPlan(model, interfaces.map((i) => ({ portId: i.portId, interfaceName: i.name }))),
  };
}

/**
 * The plan after a model change: every router again ('all'), or only the dirty and failed ones,
 * updated in `plan` in place. `before`: the previous plans of the routers considered (their
 * floating IPs' statuses are taken back). PURE (but for `plan`, which it updates).
 */
export function replan(model: HostModel, host: string, plan: Map<string, RouterPlan>, dirty: Set<string> | 'all', failed: ReadonlySet<string>):
  { plan: Map<string, RouterPlan>; before: Map<string, RouterPlan>; considered: Set<string> } {
  if (dirty === 'all') {
    const next = routerPlan(model, host);
    return { plan: next, before: plan, considered: new Set([...plan.keys(), ...next.keys()]) };
  }
  const considered = new Set([...dirty, ...failed]);
  const before = new Map<string, RouterPlan>();
  for (const id of considered) {
    const old = plan.get(id);
    if (old) before.set(id, old);
    const p = planRouter(model, host, id);
    if (p) plan.set(id, p);
    else plan.delete(id);
  }
  return { plan, before, considered };
}
