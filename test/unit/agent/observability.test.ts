import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Dataplane, type AppliedReport, type FlowSink } from '../../../agent/dataplane.ts';
import type { HostConfig } from '../../../agent/features/engine.ts';
import { L3Manager } from '../../../agent/l3/manager.ts';
import { HostModel } from '../../../agent/model/host-model.ts';
import { AgentMetrics, instrumentAgent, type AgentParts } from '../../../agent/metrics/agent-metrics.ts';
import { serveMetrics, type MetricsServer } from '../../../agent/metrics/server.ts';

// The agent's metrics endpoint and what feeds it, and the request ids the dataplane reports.

const HOST: HostConfig = { host: 'h1', tunnelIp: '192.0.2.1', bridgeMappings: {}, tunnelOfport: 60000, uplinks: {} };
const sink: FlowSink = { resync: async () => undefined, apply: async () => undefined };
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('agent metrics endpoint', () => {
  it('serves GET /metrics in the Prometheus text format, and nothing else', async () => {
    let scrapes = 0;
    server = await serveMetrics('127.0.0.1:0', () => `# TYPE fake gauge\nfake ${++scrapes}\n`);
    const url = `http://127.0.0.1:${server.port}`;
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe('# TYPE fake gauge\nfake 1\n');
    expect(await (await fetch(`${url}/metrics?x=1`)).text()).toContain('fake 2');
    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses an address already taken (the agent logs it and runs on)', async () => {
    server = await serveMetrics('127.0.0.1:0', () => '');
    await expect(serveMetrics(`127.0.0.1:${server.port}`, () => '')).rejects.toThrow(/EADDRINUSE/);
  });

  it("shows the agent's figures from a fake source", async () => {
    const m = new AgentMetrics();
    m.read({
      flowsInstalled: () => 42,
      controllerConnected: () => true,
      l3Statuses: () => ({ routers: { r1: 'active', r2: 'active', r3: 'error' }, floatingips: { f1: 'down' } }),
      dhcpReplies: () => 7,
    });
    m.applied(12);
    m.batch(2, 30);
    m.reconciled('apply', 5);
    m.reconciled('resync', 800);
    m.routerApplied(true, 40);
    server = await serveMetrics('127.0.0.1:0', () => m.registry.render());
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    const expected: Array<[string, number]> = [
      ['weft_agent_applied_revision', 12],
      ['weft_agent_controller_connected', 1],
      ['weft_agent_flows_installed', 42],
      ['weft_agent_routers{status="active"}', 2],
      ['weft_agent_routers{status="error"}', 1],
      ['weft_agent_floatingips{status="active"}', 0],
      ['weft_agent_floatingips{status="down"}', 1],
      ['weft_agent_dhcp_replies_total', 7],
      ['weft_agent_resyncs_total', 1],
      ['weft_agent_batch_compile_duration_seconds_count', 1],
      ['weft_agent_batch_compile_duration_seconds_bucket{le="0.0025"}', 1],
      ['weft_agent_batch_compile_duration_seconds_bucket{le="0.001"}', 0],
      ['weft_agent_batch_duration_seconds_sum', 0.03],
      ['weft_agent_reconcile_duration_seconds_count{step="apply"}', 1],
      ['weft_agent_reconcile_duration_seconds_count{step="resync"}', 1],
      ['weft_agent_router_apply_duration_seconds_count{outcome="applied"}', 1],
    ];
    for (const [series, value] of expected) expect(sample(text, series), series).toBe(value);
    expect(text).toContain('# TYPE weft_agent_reconcile_duration_seconds histogram');
    expect(text).toContain('# TYPE weft_agent_dhcp_replies_total counter');
  });
});

describe('instrumentAgent', () => {
  it("follows the dataplane's batches and the parts' events; the report names the batch's request ids", async () => {
    const dataplane = new Dataplane(HOST, [], sink);
    const reports: AppliedReport[] = [];
    dataplane.on('applied', (r) => reports.push(r));
    const reconciler = Object.assign(new EventEmitter(), { installed: new Map([['k', {}]]) });
    const l3 = Object.assign(new EventEmitter(), { statuses: () => ({ routers: {}, floatingips: {} }) });
    const parts = {
      dataplane, reconciler, l3, punt: { answered: 3 }, channel: { connected: false },
    } as unknown as AgentParts;
    const m = instrumentAgent(parts);

    const port = (id: string) => ({
      kind: 'port', id, op: 'create' as const, doc: {
        id, network_id: 'n1', admin_state_up: true, mac_address: 'fa:16:3e:00:00:01', fixed_ips: [], allowed_address_pairs: [],
        port_security_enabled: true, security_groups: [], device_owner: '', device_id: '', 'binding:host_id': 'h2',
      },
    });
    dataplane.snapshot(5, {});
    await dataplane.idle();
    dataplane.changes(6, [port('p1')], ['req-a']);
    dataplane.changes(7, [port('p2')], ['req-b', 'req-c']);
    dataplane.changes(8, [], ['req-elsewhere']); // touched nothing here: not named
    dataplane.changes(9, [port('p3')]); // no request behind it
    await dataplane.idle();
    reconciler.emit('synced', { durationMs: 100 });
    reconciler.emit('applied', { durationMs: 1 });
    l3.emit('routerApplied', { router: 'r1', ok: false, ms: 3 });

    expect(reports[0]).toEqual({ revision: 5, ports: {} });
    // The first change goes alone, the two queued behind it make one batch: each report names its batch's ids.
    expect(reports.slice(1)).toEqual([
      { revision: 6, ports: {}, requestIds: ['req-a'] },
      { revision: 9, ports: {}, requestIds: ['req-b', 'req-c'] },
    ]);
    const text = m.registry.render();
    expect(sample(text, 'weft_agent_applied_revision')).toBe(9);
    expect(sample(text, 'weft_agent_batch_duration_seconds_count')).toBe(reports.length);
    expect(sample(text, 'weft_agent_flows_installed')).toBe(1);
    expect(sample(text, 'weft_agent_controller_connected')).toBe(0);
    expect(sample(text, 'weft_agent_dhcp_replies_total')).toBe(3);
    expect(sample(text, 'weft_agent_resyncs_total')).toBe(1);
    expect(sample(text, 'weft_agent_reconcile_duration_seconds_count{step="apply"}')).toBe(1);
    expect(sample(text, 'weft_agent_router_apply_duration_seconds_count{outcome="failed"}')).toBe(1);
  });
});

describe("L3Manager's routerApplied event", () => {
  it('times each changed router, applied or failed', async () => {
    const R = 'r0000000-aaaa-bbbb-cccc-000000000001';
    const model = new HostModel('gw1');
    model.replace(1, {
      network: [{ id: 'n1', project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan', 'provider:physical_network': null, 'provider:segmentation_id': 100, 'router:external': false }],
      subnet: [{ id: 's1', network_id: 'n1', ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', enable_dhcp: true, dns_nameservers: [], host_routes: [] }],
      port: [{
        id: 'qr1-port-0001', network_id: 'n1', admin_state_up: true, mac_address: 'fa:16:3e:00:00:11', fixed_ips: [{ subnet_id: 's1', ip_address: '10.0.0.1' }],
        allowed_address_pairs: [], port_security_enabled: false, security_groups: [], device_owner: 'network:router_interface', device_id: R, 'binding:host_id': 'gw1',
      }],
      router: [{ id: R, project_id: 'p', admin_state_up: true, external_gateway_info: null, routes: [] }],
    });
    let fail = true;
    const l3 = new L3Manager({
      host: 'gw1', retryMs: 0,
      ops: {
        ensure: async () => { if (fail) throw new Error('no netns'); },
        applyRules: async () => undefined, nft: async () => undefined, releaseNft: () => undefined, remove: async () => undefined,
        list: async () => [], conntrack: async () => undefined, announce: async () => undefined,
      },
    });
    const events: Array<{ router: string; ok: boolean; ms: number }> = [];
    l3.on('routerApplied', (e) => events.push(e));
    await l3.sync(model);
    fail = false;
    await l3.sync(model); // retried: the failed router was not marked applied
    await l3.sync(model); // unchanged: no work, no event
    await l3.close();
    expect(events.map((e) => [e.router, e.ok])).toEqual([[R, false], [R, true]]);
    for (const e of events) expect(e.ms).toBeGreaterThanOrEqual(0);
  });
});
