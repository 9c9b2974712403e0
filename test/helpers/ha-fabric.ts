// The lab the HA router tests share: gateway hosts g1 and g2 and a compute host c1 (its agent
// admin-down, so it gets no routers: g1 is active, g2 standby), an external host on a flat external
// network, and an HA router with a tenant subnet, a VM on c1 and a floating IP to it. Addresses:
// the external network <outside>.0/24 (the external host is .100, the pool .10-.99), the tenant
// subnet <tenant>.0/24 (gateway .1, the VM .5).
import { attachExternal, type ExternalHost } from '../../lab/lab-external.ts';
import type { LabVm } from '../../lab/lab.ts';
import { createFabric, type Fabric } from './fabric.ts';
import { network, port, portStatus, subnet } from './fabric-model.ts';

export interface HaRouterFabric {
  f: Fabric;
  ext: ExternalHost;
  /** The external host's address. */
  outside: string;
  router: Record<string, any>;
  tenantNetworkId: string;
  vm: LabVm;
  fipAddress: string;
  /** The router's legs as the gateway hosts' switches see them (host-side veth ends tr-<port id[:11]>). */
  legs: string[];
}

export interface HaRouterFabricOptions {
  project: string;
  routerName: string;
  /** First three octets of the external network, e.g. '172.31.201'. */
  outsidePrefix: string;
  /** First three octets of the tenant subnet, e.g. '10.30.0'. */
  tenantPrefix: string;
  /** What the VM's security group lets in from anywhere: UDP to 7001 always, ICMP when asked. */
  icmp?: boolean;
  controllerEnv?: Record<string, string>;
}

export async function haRouterFabric(o: HaRouterFabricOptions): Promise<HaRouterFabric> {
  const outside = `${o.outsidePrefix}.100`;
  const f = await createFabric({ hosts: ['g1', 'g2', 'c1'], provider: true, controllerEnv: o.controllerEnv });
  try {
    const ext = await attachExternal(f.lab, `${outside}/24`);
    const { agents } = await f.api('GET', '/v2.0/agents');
    await f.api('PUT', `/v2.0/agents/${agents.find((a: any) => a.host === 'c1').id}`, { agent: { admin_state_up: false } });
    const extNet = await network(f, 'admin-project', {
      'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1',
    });
    await subnet(f, 'admin-project', extNet, `${o.outsidePrefix}.0/24`, {
      gateway_ip: outside, allocation_pools: [{ start: `${o.outsidePrefix}.10`, end: `${o.outsidePrefix}.99` }],
    });
    const net = await network(f, o.project);
    const sub = await subnet(f, o.project, net, `${o.tenantPrefix}.0/24`, { gateway_ip: `${o.tenantPrefix}.1` });
    const { router } = await f.api('POST', '/v2.0/routers', {
      router: { name: o.routerName, project_id: o.project, ha: true, external_gateway_info: { network_id: extNet } },
    });
    await f.api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub });
    const p = await port(f, o.project, net, 'c1', { name: 'vm', fixed_ips: [{ ip_address: `${o.tenantPrefix}.5` }] });
    const vm = await f.lab.plug('c1', { name: 'vm', portId: p.id, mac: p.mac_address, ip: `${o.tenantPrefix}.5/24`, gateway: `${o.tenantPrefix}.1` });
    await f.until('vm ACTIVE', async () => (await portStatus(f, p.id)) === 'ACTIVE');
    for (const proto of o.icmp ? ['udp', 'icmp'] : ['udp']) {
      await f.api('POST', '/v2.0/security-group-rules', { security_group_rule: {
        security_group_id: p.security_groups[0], direction: 'ingress', ethertype: 'IPv4', protocol: proto,
        ...(proto === 'udp' ? { port_range_min: 7001, port_range_max: 7001 } : {}), remote_ip_prefix: '0.0.0.0/0',
      } });
    }
    const { floatingip } = await f.api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: extNet, project_id: o.project, port_id: p.id } });
    const { ports } = await f.api('GET', `/v2.0/ports?device_id=${router.id}`);
    return {
      f, ext, outside, router, tenantNetworkId: net, vm, fipAddress: floatingip.floating_ip_address,
      legs: ports.map((x: any) => `tr-${x.id.slice(0, 11)}`),
    };
  } catch (err) {
    await f.destroy();
    throw err;
  }
}

/** The router's hosts as GET /v2.0/routers/{id}/l3-agents lists them. */
export async function l3AgentsOf(f: Fabric, routerId: string): Promise<Array<{ host: string; ha_state: string; alive: boolean }>> {
  return (await f.api('GET', `/v2.0/routers/${routerId}/l3-agents`)).agents;
}
