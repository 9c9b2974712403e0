// Provider networks: a VLAN network and a flat network on physnet1 across two hosts; and, on the
// same fabric, an API request's id carried to the log of the agent that applies its change, and
// the agent's metrics endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFabric, type Fabric } from '../helpers/fabric.ts';
import { expectPing, network, plug, port, subnet } from '../helpers/fabric-model.ts';

const P = 'project-p';
let f: Fabric;

beforeAll(async () => {
  f = await createFabric({ hosts: ['h1', 'h2'], provider: true });
}, 120_000);
afterAll(async () => f?.destroy(), 60_000);

describe('provider networks', () => {
  it('carries a VLAN network with its tag on the physical network', async () => {
    const net = await network(f, P, {
      shared: true, 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 150,
    });
    await subnet(f, P, net, '10.70.0.0/24');
    const v1 = await plug(f, 'h1', await port(f, P, net, 'h1', { fixed_ips: [{ ip_address: '10.70.0.11' }] }), 'v1');
    await plug(f, 'h2', await port(f, P, net, 'h2', { fixed_ips: [{ ip_address: '10.70.0.12' }] }), 'v2');
    await expectPing(f, v1, '10.70.0.12', true);
    const capture = await f.lab.tcpdump('fabric', ['-c', '2', 'vlan 150 and icmp'], async () => {
      await v1.exec(['ping', '-c', '3', '-i', '0.2', '10.70.0.12']);
    });
    expect(capture).toMatch(/vlan 150/);
  }, 90_000);

  it('carries a flat network untagged', async () => {
    const net = await network(f, P, { shared: true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' });
    await subnet(f, P, net, '10.71.0.0/24');
    const u1 = await plug(f, 'h1', await port(f, P, net, 'h1', { fixed_ips: [{ ip_address: '10.71.0.11' }] }), 'u1');
    await plug(f, 'h2', await port(f, P, net, 'h2', { fixed_ips: [{ ip_address: '10.71.0.12' }] }), 'u2');
    await expectPing(f, u1, '10.71.0.12', true);
    const capture = await f.lab.tcpdump('fabric', ['-c', '2', 'icmp and host 10.71.0.12'], async () => {
      await u1.exec(['ping', '-c', '3', '-i', '0.2', '10.71.0.12']);
    });
    expect(capture).toMatch(/10\.71\.0\.12/);
    expect(capture).not.toMatch(/vlan/);
  }, 90_000);

  it("names the API request in the log of the agent that applies its change (only there), and serves the agent's metrics", async () => {
    const requestId = `req-${crypto.randomUUID()}`;
    // Another project: the port is in no security group that h2's ports watch, so h2's view is untouched.
    const Q = 'project-q';
    const net = await network(f, Q);
    const answer = await fetch(`${f.controller.url}/v2.0/ports`, {
      method: 'POST',
      headers: { 'x-auth-token': f.controller.adminToken, 'content-type': 'application/json', 'x-openstack-request-id': requestId },
      body: JSON.stringify({ port: { network_id: net, project_id: Q, 'binding:host_id': 'h1' } }),
    });
    expect(answer.status).toBe(201);
    expect(answer.headers.get('x-openstack-request-id')).toBe(requestId);
    const h1 = f.agents.get('h1')!;
    const line = await f.until(`${requestId} in h1's log`, async () => h1.output().split('\n').find((l) => l.includes(requestId)));
    expect(JSON.parse(line)).toMatchObject({ msg: 'changes applied', requestIds: [requestId], host: 'h1' });
    // h2 holds nothing of that network: the commit reached it empty, and once h2 has applied a later
    // revision (a change that waits for every agent), its log still does not name the request.
    await f.api('PUT', `/v2.0/networks/${net}`, { network: { name: 'renamed' } }, { 'x-weft-wait-dataplane': '20' });
    expect(f.agents.get('h2')!.output()).not.toContain(requestId);
    // The agent's metrics endpoint, at the default 127.0.0.1:9697 inside its host namespace.
    const script = "fetch('http://127.0.0.1:9697/metrics').then(async (r) => console.log(r.status, await r.text()))";
    const scrape = await f.lab.host('h1').exec([process.execPath, '-e', script]);
    expect(scrape.stdout, scrape.stderr).toMatch(/^200 /);
    expect(scrape.stdout).toMatch(/^weft_agent_controller_connected 1$/m);
    expect(scrape.stdout).toMatch(/^weft_agent_flows_installed [1-9]\d*$/m);
    expect(scrape.stdout).toMatch(/^weft_agent_resyncs_total [1-9]\d*$/m);
  }, 60_000);
});
