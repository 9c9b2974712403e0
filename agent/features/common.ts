// Small lookups every feature compiler shares.
import type { NetworkView, PortView } from '../../schemas/agent/view.ts';
import type { CompileState, HostConfig } from './engine.ts';

const TYPE_BITS = { vxlan: 1, vlan: 2, flat: 3 } as const;

/**
 * The network's key in metadata: | type (8) | segment (24) |. VXLAN uses its VNI. A VLAN
 * network's segment is | physical network (12) | VLAN id (12) | (the same VLAN id on two physical
 * networks is two networks); a flat network uses its physical network alone. The physical
 * network is its position in the host's sorted bridge mappings (1-based).
 * Returns undefined when this host cannot carry the network (no tunnel IP, no mapping).
 */
export function networkKey(net: NetworkView, host: HostConfig): number | undefined {
  const type = net['provider:network_type'];
  const seg = net['provider:segmentation_id'];
  const physnet = net['provider:physical_network'];
  if (type === 'vxlan') return seg === null ? undefined : ((TYPE_BITS.vxlan << 24) | seg) >>> 0;
  if (physnet === null || host.uplinks[physnet] === undefined) return undefined;
  const index = Object.keys(host.bridgeMappings).sort().indexOf(physnet) + 1;
  if (index === 0 || index > 0xfff) return undefined;
  if (type === 'vlan') return seg === null ? undefined : ((TYPE_BITS.vlan << 24) | (index << 12) | (seg & 0xfff)) >>> 0;
  return ((TYPE_BITS.flat << 24) | index) >>> 0;
}

/** The ofport of a port that is bound to this host and plugged here, else undefined. */
export function localOfport(s: CompileState, port: PortView | undefined): number | undefined {
  if (!port || port['binding:host_id'] !== s.host.host) return undefined;
  return s.bindings.get(port.id);
}

/** Ports without filtering: port security off, or owned by the network itself (router, DHCP). */
export function isTrusted(port: PortView): boolean {
  return !port.port_security_enabled || port.device_owner.startsWith('network:');
}

/** The tunnel endpoint of another host, from its agent's registration. */
export function tunnelIpOf(s: CompileState, host: string): string | undefined {
  if (host === s.host.host) return undefined;
  return s.model.agentOfHost(host)?.tunnel_ip ?? undefined;
}
