// VXLAN: packets from the tunnel port are classified by VNI (tun_id) into their network, marked
// FROM_FABRIC and go straight to l2_lookup; l2 sends to other hosts through tunnelActions().
// One flow-based tunnel port (remote_ip=flow, key=flow) serves every peer: the flows set tun_id
// and tun_dst. Only networks this host carries get a classify flow, so traffic for networks
// without a local port is dropped at the door.
import type { Action } from '../openflow/actions.ts';
import { FROM_FABRIC } from '../pipeline/fields.ts';
import { flow, output, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import type { CompileState, Feature } from './engine.ts';
import { carriedNetwork, carriedNetworks, ipv4Number, networksTouched, setBits, setNetwork } from './placement.ts';

const UNIT = 'tunnel:';

/** Sends to each tunnel endpoint in turn (sorted, once each) with the network's VNI. */
export function tunnelActions(vni: number, tunnelOfport: number, endpoints: Iterable<string>): Action[] {
  const ips = [...new Set(endpoints)].sort((a, b) => ipv4Number(a) - ipv4Number(b));
  if (ips.length === 0) return [];
  const out: Action[] = [{ type: 'setField', field: 'tunnelId', value: { value: BigInt(vni) } }];
  for (const ip of ips) out.push({ type: 'setField', field: 'tunDst', value: ip }, output(tunnelOfport));
  return out;
}

export function tunnelClassify(s: CompileState, networkId: string): Flow[] {
  const c = carriedNetwork(s, networkId);
  const tunnel = s.host.tunnelOfport;
  const vni = c?.net['provider:segmentation_id'];
  if (!c || c.net['provider:network_type'] !== 'vxlan' || tunnel === null || vni === null || vni === undefined) return [];
  return [flow('tunnels', networkId, 'classify', {
    priority: PRIORITY.port,
    match: { inPort: tunnel, tunnelId: { value: BigInt(vni) } },
    actions: [setNetwork(c.key), setBits(FROM_FABRIC, 1)],
    goto: 'l2_lookup',
  })];
}

export const tunnelsFeature: Feature = {
  name: 'tunnels',
  *units(s) {
    for (const net of carriedNetworks(s)) yield `${UNIT}${net}`;
  },
  compile(s, unit) {
    return unit.startsWith(UNIT) ? tunnelClassify(s, unit.slice(UNIT.length)) : [];
  },
  *affected(s, e) {
    for (const net of networksTouched(s, e, false)) yield `${UNIT}${net}`;
  },
};
