// Table classify, for local ports: in_port (and, with port security, the source MAC) -> network
// (metadata) and source port (reg5). A port with port security sends only from its own MAC or
// one of its allowed address pairs' MACs; any other source MAC misses and is dropped. Trusted
// ports (port security off, network-owned) skip spoof_guard and mark SKIP_EGRESS_SG.
// The tunnel and uplink classify flows are in tunnels.ts and provider.ts.
import type { PortView } from '../../schemas/agent/view.ts';
import { SKIP_EGRESS_SG, SRC_PORT } from '../pipeline/fields.ts';
import { flow, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import { isTrusted } from './common.ts';
import type { CompileState, Feature } from './engine.ts';
import { activeOfport, localPortsTouched, normMac, pairMacs, setBits, setNetwork, usableNetwork } from './placement.ts';

export const PORT_UNIT = 'port:';

/** The classify flows of one active local port. */
export function classifyPort(port: PortView, ofport: number, key: number): Flow[] {
  const head = [setNetwork(key), setBits(SRC_PORT, ofport)];
  if (isTrusted(port)) {
    return [flow('classify', port.id, 'classify', {
      priority: PRIORITY.port, match: { inPort: ofport },
      actions: [...head, setBits(SKIP_EGRESS_SG, 1)],
      goto: 'egress_ct',
    })];
  }
  const own = normMac(port.mac_address);
  const macs = [...(own ? [own] : []), ...pairMacs(port)];
  return macs.map((mac) => flow('classify', port.id, 'classify', {
    priority: PRIORITY.port, match: { inPort: ofport, ethSrc: mac }, actions: head, goto: 'spoof_guard',
  }));
}

export const classifyFeature: Feature = {
  name: 'classify',
  *units(s) {
    for (const id of s.bindings.keys()) yield `${PORT_UNIT}${id}`;
  },
  compile(s: CompileState, unit: string): readonly Flow[] {
    if (!unit.startsWith(PORT_UNIT)) return [];
    const port = s.model.get('port', unit.slice(PORT_UNIT.length));
    const ofport = activeOfport(s, port);
    if (!port || ofport === undefined) return [];
    return classifyPort(port, ofport, usableNetwork(s, port.network_id)!.key);
  },
  *affected(s, e) {
    for (const id of localPortsTouched(s, e)) yield `${PORT_UNIT}${id}`;
  },
};
