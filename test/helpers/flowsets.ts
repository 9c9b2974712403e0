// Synthetic but realistic br-int flows for the reconciler's tests and benchmark: per port, the
// classify flow (in_port + dl_src -> network and source port), the L2 lookup (network + dl_dst ->
// destination port) and the output flow (destination port -> ofport). Built with flow() on the
// declared tables, independent of the feature compilers.
import { flow, flowKey, output, type Flow } from '../../agent/pipeline/flow.ts';
import { PRIORITY } from '../../agent/pipeline/priorities.ts';

export const FLOWS_PER_PORT = 3;

/** fa:16:3e:xx:xx:xx from a port index (up to 2^24 ports). */
export function portMac(i: number): string {
  const b = [(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((x) => x.toString(16).padStart(2, '0'));
  return `fa:16:3e:${b.join(':')}`;
}

export interface PortFlowOptions {
  /** Network key (metadata); default port index / 100 + 1. */
  readonly network?: number;
  /** Changes the actions (not the identity) of the flows: another ofport for the output flow, another reg7. */
  readonly variant?: number;
  /** The object named in the cookie; default `port-<i>`. */
  readonly object?: string;
}

/** The three flows of port `i` (ofport i + 1). */
export function portFlows(i: number, o: PortFlowOptions = {}): Flow[] {
  const ofport = i + 1;
  const net = o.network ?? Math.floor(i / 100) + 1;
  const v = o.variant ?? 0;
  const object = o.object ?? `port-${i}`;
  return [
    flow('classify', object, 'classify', {
      priority: PRIORITY.port, match: { inPort: ofport, ethSrc: portMac(i) },
      actions: [
        { type: 'setField', field: 'metadata', value: { value: BigInt(net) } },
        { type: 'setField', field: 'reg5', value: { value: ofport } },
      ],
      goto: 'l2_lookup',
    }),
    flow('l2', object, 'l2_lookup', {
      priority: PRIORITY.port, match: { metadata: { value: BigInt(net) }, ethDst: portMac(i) },
      actions: [{ type: 'setField', field: 'reg7', value: { value: ofport + v } }],
      goto: 'output',
    }),
    flow('l2', object, 'output', {
      priority: PRIORITY.port, match: { reg7: { value: ofport } },
      actions: [output(ofport + v)],
    }),
  ];
}

/** Exactly `n` flows: the flows of ports first .. first + ceil(n / 3) - 1, cut to n. */
export function syntheticFlows(n: number, first = 0, o: Omit<PortFlowOptions, 'object' | 'network'> = {}): Flow[] {
  const out: Flow[] = [];
  for (let i = first; out.length < n; i++) out.push(...portFlows(i, o));
  return out.slice(0, n);
}

/** flow key -> flow */
export const byKey = (flows: Iterable<Flow>): Map<string, Flow> => new Map([...flows].map((f) => [flowKey(f), f]));
