// DHCPv4 is answered by this host's agent for its own ports (packet-in / packet-out, like OVN):
// a local port on a network with a DHCP-enabled IPv4 subnet has its DHCP client packets
// (udp 68 -> 67) punted to the agent from classify, before any other check. The agent answers
// only with the port's own address for the port's own MAC (agent/dhcp/responder.ts), so the punt
// needs no spoof guard, and security groups never see (or block) DHCP. Ports on networks without
// DHCP keep the normal path, so a VM's own DHCP server can still answer them. The network's own
// ports (router legs: `network:*` owners) run no DHCP client and get no punt.
import { OFPCML_NO_BUFFER, OFPP } from '../openflow/actions.ts';
import { flow, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import type { CompileState, Feature } from './engine.ts';
import { activeOfport, localPortsTouched } from './placement.ts';

const UNIT = 'port:';

/** Does the port's network have an IPv4 subnet with DHCP on, holding one of the port's addresses? */
export function servesDhcp(s: CompileState, portId: string): boolean {
  const port = s.model.get('port', portId);
  if (!port) return false;
  return port.fixed_ips.some((f) => {
    const subnet = s.model.get('subnet', f.subnet_id);
    return subnet !== undefined && subnet.ip_version === 4 && subnet.enable_dhcp;
  });
}

export const dhcpFeature: Feature = {
  name: 'dhcp',
  *units(s) {
    for (const id of s.bindings.keys()) yield `${UNIT}${id}`;
  },
  compile(s: CompileState, unit: string): readonly Flow[] {
    const id = unit.slice(UNIT.length);
    const port = s.model.get('port', id);
    const ofport = activeOfport(s, port);
    if (!port || ofport === undefined || port.device_owner.startsWith('network:') || !servesDhcp(s, id)) return [];
    return [flow('dhcp', id, 'classify', {
      priority: PRIORITY.control,
      match: { inPort: ofport, ethType: 0x0800, ipProto: 17, udpSrc: 68, udpDst: 67 },
      actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: OFPCML_NO_BUFFER }],
    })];
  },
  *affected(s, e) {
    yield* [...localPortsTouched(s, e)].map((id) => `${UNIT}${id}`);
    if (e.type === 'doc' && e.kind === 'subnet') {
      const subnet = (e.next ?? e.prev) as { network_id: string };
      for (const id of s.model.portsOnHost(subnet.network_id, s.host.host)) yield `${UNIT}${id}`;
      const before = e.prev as { network_id: string } | undefined;
      if (before && before.network_id !== subnet.network_id) {
        for (const id of s.model.portsOnHost(before.network_id, s.host.host)) yield `${UNIT}${id}`;
      }
    }
  },
};
