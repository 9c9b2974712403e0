import { describe, expect, it } from 'vitest';
import { Dataplane, type AppliedReport, type FlowSink } from '../../../agent/dataplane.ts';
import type { Feature, FlowChanges, HostConfig } from '../../../agent/features/engine.ts';
import { localOfport } from '../../../agent/features/common.ts';
import { flow, output, type Flow } from '../../../agent/pipeline/flow.ts';

const HOST: HostConfig = { host: 'h1', tunnelIp: '192.0.2.1', bridgeMappings: {}, tunnelOfport: 60000, uplinks: {} };

// One output flow per plugged local port: enough to watch the loop, not the compilers.
const outputs: Feature = {
  name: 'l2',
  units: (s) => [...s.model.all('port')].map((p) => p.id),
  compile: (s, id) => {
    const ofport = localOfport(s, s.model.get('port', id));
    return ofport === undefined ? [] : [flow('l2', id, 'output', { priority: 100, match: { reg7: { value: ofport } }, actions: [output(ofport)] })];
  },
  affected: (_s, e) => [e.type === 'binding' ? e.portId : e.id],
};

class Recorder implements FlowSink {
  resyncs: string[][] = [];
  applies: FlowChanges[] = [];
  async resync(desired: Iterable<Flow>) {
    this.resyncs.push([...desired].map((f) => f.object).sort());
  }
  async apply(changes: FlowChanges) {
    this.applies.push(changes);
  }
}

const port = (id: string, host = 'h1', extra: Record<string, unknown> = {}) => ({
  id, network_id: 'n1', admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [], allowed_address_pairs: [],
  port_security_enabled: true, security_groups: [], device_owner: '', device_id: '', 'binding:host_id': host, ...extra,
});

function setup() {
  const sink = new Recorder();
  const dp = new Dataplane(HOST, [outputs], sink);
  const reports: AppliedReport[] = [];
  dp.on('applied', (r) => reports.push(r));
  return { sink, dp, reports };
}

describe('Dataplane', () => {
  it('touches nothing before the first snapshot, then replays everything with one resync', async () => {
    const { sink, dp, reports } = setup();
    dp.plugged('p1', 5);
    await dp.idle();
    expect(sink.resyncs).toEqual([]);
    expect(reports).toEqual([]);
    dp.snapshot(7, { port: [port('p1'), port('p2'), port('p3', 'h2')] });
    await dp.idle();
    expect(sink.resyncs).toEqual([['p1']]);
    expect(reports).toEqual([{ revision: 7, ports: { p1: 'up', p2: 'down' } }]);
  });

  it('sends only what a change touches and reports port state transitions once', async () => {
    const { sink, dp, reports } = setup();
    dp.snapshot(1, { port: [port('p1'), port('p2')] });
    await dp.idle();
    dp.plugged('p2', 6);
    await dp.idle();
    expect([...sink.applies[0].keys()]).toHaveLength(1);
    expect(reports.at(-1)).toEqual({ revision: 1, ports: { p2: 'up' } });
    dp.changes(2, [{ kind: 'port', id: 'p2', op: 'update', doc: port('p2', 'h1', { admin_state_up: false }) }]);
    await dp.idle();
    expect(reports.at(-1)).toEqual({ revision: 2, ports: { p2: 'down' } });
    dp.unplugged('p2');
    await dp.idle();
    expect(reports.at(-1)).toEqual({ revision: 2, ports: {} });
    const deleted = sink.applies.at(-1)!;
    expect([...deleted.values()]).toEqual([null]);
  });

  it('coalesces a burst into one compile and one bundle', async () => {
    const { sink, dp } = setup();
    dp.snapshot(1, { port: [] });
    await dp.idle();
    for (let i = 0; i < 50; i++) dp.changes(2 + i, [{ kind: 'port', id: `q${i}`, op: 'create', doc: port(`q${i}`) }]);
    for (let i = 0; i < 50; i++) dp.plugged(`q${i}`, 10 + i);
    await dp.idle();
    expect(sink.applies.length).toBeLessThanOrEqual(2);
    expect(dp.engine.size).toBe(50);
    expect(dp.revision).toBe(51);
  });

  it('replays on request without recompiling', async () => {
    const { sink, dp } = setup();
    dp.snapshot(1, { port: [port('p1')] });
    dp.plugged('p1', 3);
    await dp.idle();
    dp.resync();
    await dp.idle();
    expect(sink.resyncs.at(-1)).toEqual(['p1']);
  });

  it('lets what a model listener started (an HA promotion waiting on a pipe write) run before the compile holds the loop', async () => {
    const order: string[] = [];
    const compiles: Feature = { ...outputs, compile: (s, id) => (order.push(`compile ${id}`), outputs.compile(s, id)) };
    const sink = new Recorder();
    const dp = new Dataplane(HOST, [compiles], sink);
    dp.snapshot(1, { port: [] });
    await dp.idle();
    // L3's pass awaits a pipe write (its callback comes on the next tick), then starts its leg batch.
    dp.on('model', () => process.nextTick(() => order.push('legs started')));
    dp.changes(2, [{ kind: 'port', id: 'p1', op: 'create', doc: port('p1') }]);
    await dp.idle();
    expect(order).toEqual(['legs started', 'compile p1']);
  });
});
