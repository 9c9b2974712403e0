// Provider networks (VLAN and flat) leave br-int through the uplink of their physical network
// (a patch port to the bridge of bridge_mappings). From the uplink: a VLAN network's tag is
// popped, a flat network takes the untagged frames; both are marked FROM_FABRIC and go straight
// to l2_lookup. Towards the uplink, l2 uses uplinkActions() (push the tag for VLAN).
// Only networks this host carries get a classify flow.
import type { NetworkView } from '../../schemas/agent/view.ts';
import type { Action } from '../openflow/actions.ts';
import type { Masked } from '../openflow/fields.ts';
import { FROM_FABRIC } from '../pipeline/fields.ts';
import { flow, output, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import type { CompileState, Feature, HostConfig } from './engine.ts';
import { carriedNetwork, carriedNetworks, networksTouched, setBits, setNetwork } from './placement.ts';

const UNIT = 'uplink:';
/** OFPVID_PRESENT: the bit of vlan_vid that says "a tag is there". */
const VID_PRESENT = 0x1000;

/** The br-int ofport of a provider network's uplink, if this host has one. */
export function uplinkOf(net: NetworkView, host: HostConfig): number | undefined {
  const type = net['provider:network_type'];
  const physnet = net['provider:physical_network'];
  if ((type !== 'vlan' && type !== 'flat') || physnet === null) return undefined;
  return host.uplinks[physnet];
}

/** The VLAN match of a provider network on its uplink: its tag, or no tag (flat). */
function vlanMatch(net: NetworkView): Masked<number> | undefined {
  if (net['provider:network_type'] === 'flat') return { value: 0 };
  const vid = net['provider:segmentation_id'];
  return vid === null ? undefined : { value: VID_PRESENT | vid };
}

/** Sends out of the uplink, tagged for a VLAN network. */
export function uplinkActions(net: NetworkView, uplink: number): Action[] {
  const vid = net['provider:segmentation_id'];
  if (net['provider:network_type'] === 'vlan' && vid !== null) {
    return [{ type: 'pushVlan' }, { type: 'setField', field: 'vlanVid', value: { value: VID_PRESENT | vid } }, output(uplink)];
  }
  return [output(uplink)];
}

export function uplinkClassify(s: CompileState, networkId: string): Flow[] {
  const c = carriedNetwork(s, networkId);
  if (!c) return [];
  const uplink = uplinkOf(c.net, s.host);
  const vlan = vlanMatch(c.net);
  if (uplink === undefined || vlan === undefined) return [];
  const pop: Action[] = c.net['provider:network_type'] === 'vlan' ? [{ type: 'popVlan' }] : [];
  return [flow('provider', networkId, 'classify', {
    priority: PRIORITY.port,
    match: { inPort: uplink, vlanVid: vlan },
    actions: [...pop, setNetwork(c.key), setBits(FROM_FABRIC, 1)],
    goto: 'l2_lookup',
  })];
}

export const providerFeature: Feature = {
  name: 'provider',
  *units(s) {
    for (const net of carriedNetworks(s)) yield `${UNIT}${net}`;
  },
  compile(s, unit) {
    return unit.startsWith(UNIT) ? uplinkClassify(s, unit.slice(UNIT.length)) : [];
  },
  *affected(s, e) {
    for (const net of networksTouched(s, e, false)) yield `${UNIT}${net}`;
  },
};
