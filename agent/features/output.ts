// Table output: reg7 (DST_PORT) -> the local port. One flow per active local port. A packet whose
// reg7 is its own in_port (a port's own broadcast, flooded back by l2) is dropped by OVS itself:
// output to the in_port is skipped.
import { DST_PORT } from '../pipeline/fields.ts';
import { flow, output, type Flow } from '../pipeline/flow.ts';
import { PRIORITY } from '../pipeline/priorities.ts';
import type { Feature } from './engine.ts';
import { activeOfport, localPortsTouched, matchBits } from './placement.ts';

const PORT_UNIT = 'port:';

export const outputFeature: Feature = {
  name: 'output',
  *units(s) {
    for (const id of s.bindings.keys()) yield `${PORT_UNIT}${id}`;
  },
  compile(s, unit): readonly Flow[] {
    if (!unit.startsWith(PORT_UNIT)) return [];
    const port = s.model.get('port', unit.slice(PORT_UNIT.length));
    const ofport = activeOfport(s, port);
    if (!port || ofport === undefined) return [];
    return [flow('output', port.id, 'output', { priority: PRIORITY.port, match: matchBits(DST_PORT, ofport), actions: [output(ofport)] })];
  },
  *affected(s, e) {
    for (const id of localPortsTouched(s, e)) yield `${PORT_UNIT}${id}`;
  },
};
