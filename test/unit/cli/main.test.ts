import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/main.ts';
import { ADMIN } from '../../helpers/api.ts';
import { syncLab, until, type SyncLab } from '../sync/support.ts';

// `weft` in-process against a listening in-memory controller (no switches): what status and
// fip move print, in text and JSON, where progress goes, and the exit codes.

let l: SyncLab;
let fipAddress: string;
const ids: Record<string, string> = {};

async function weft(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env: { WEFT_URL: l.url, ...env }, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  l = await syncLab();
  const ok = async (method: 'POST' | 'PUT', url: string, body: unknown) => {
    const r = await l.call(ADMIN, method, url, body);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    return r.body;
  };
  const ext = (await ok('POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' } })).network.id;
  await ok('POST', '/v2.0/subnets', { subnet: { network_id: ext, cidr: '203.0.113.0/24', ip_version: 4 } });
  const net = (await ok('POST', '/v2.0/networks', { network: { name: 'n' } })).network.id;
  const sub = (await ok('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.1.0.0/24', ip_version: 4 } })).subnet.id;
  const router = (await ok('POST', '/v2.0/routers', { router: { name: 'r', external_gateway_info: { network_id: ext } } })).router.id;
  await ok('PUT', `/v2.0/routers/${router}/add_router_interface`, { subnet_id: sub });
  ids.a = (await ok('POST', '/v2.0/ports', { port: { network_id: net, name: 'vm-a', 'binding:host_id': 'h1' } })).port.id;
  ids.b = (await ok('POST', '/v2.0/ports', { port: { network_id: net, name: 'vm-b' } })).port.id;
  await ok('POST', '/v2.0/ports', { port: { network_id: net, name: 'twin' } });
  await ok('POST', '/v2.0/ports', { port: { network_id: net, name: 'twin' } });
  const fip = (await ok('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext, port_id: ids.a } })).floatingip;
  ids.fip = fip.id;
  fipAddress = fip.floating_ip_address;
});
afterAll(async () => l?.close());

describe('weft status', () => {
  it('shows each agent with its applied revision and lag, and the ports that are not ACTIVE', async () => {
    const h1 = l.agent('h1');
    await until(() => h1.snapshots.length, 'snapshot');
    h1.channel.reportApplied(h1.snapshots[0]!.revision);
    l.agent('h2'); // connected, never reports: no applied revision, no lag
    await until(async () => (await l.call(ADMIN, 'GET', '/v2.0/agents')).body.agents.filter((a: any) => a.alive).length === 2, 'agents alive');
    await until(async () => (await l.call(ADMIN, 'GET', '/v2.0/agents?host=h1')).body.agents[0].configurations.applied_revision !== null, 'h1 applied');
    const r = await weft(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.revision).toBe(l.store.revision);
    expect(s.agents.map((a: any) => [a.host, a.alive, a.lag === null ? null : a.lag >= 0])).toEqual([['h1', true, true], ['h2', true, null]]);
    expect(s.agents[0].lag).toBe(s.revision - s.agents[0].applied_revision);
    expect(s.ports_not_active.map((p: any) => p.name)).toEqual(expect.arrayContaining(['vm-a', 'vm-b', 'twin']));
    expect(s.ports_not_active.find((p: any) => p.name === 'vm-a')).toEqual({ id: ids.a, name: 'vm-a', status: 'DOWN', host: 'h1', device_owner: '' });
    const text = await weft(['status']);
    expect(text.stdout).toMatch(/^controller http:\/\/127\.0\.0\.1:\d+, revision \d+$/m);
    expect(text.stdout).toMatch(/^ {2}h1 +yes +\d+ +\d+ /m);
    expect(text.stdout).toMatch(/^ {2}h2 +yes +- +- /m);
  });
});

describe('weft fip move', () => {
  it('moves by address to a port by name, timed, and fails when the dataplane does not confirm in time', async () => {
    // The agents of the status test are alive but never apply anything: the wait times out.
    const r = await weft(['fip', 'move', fipAddress, 'vm-b', '--wait', '--timeout', '1', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/waiting for the dataplane \(up to 1 s\)/);
    expect(r.stderr).toMatch(/the dataplane did not apply the move within 1 s/);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ floatingip_id: ids.fip, floating_ip_address: fipAddress, from_port_id: ids.a, to_port_id: ids.b, to_port_name: 'vm-b', dataplane: 'timeout' });
    expect(out.elapsed_ms).toBeGreaterThanOrEqual(900);
    expect((await l.call(ADMIN, 'GET', `/v2.0/floatingips/${ids.fip}`)).body.floatingip.port_id).toBe(ids.b);
    const back = await weft(['fip', 'move', ids.fip!, ids.a!]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(new RegExp(`^moved ${fipAddress.replace(/\./g, '\\.')} to port vm-a \\(${ids.a}\\), 10\\.1\\.0\\.\\d+ in [\\d.]+ m?s: accepted by the API`));
  });

  it('names what it cannot find, and ambiguous names', async () => {
    expect(await weft(['fip', 'move', '203.0.113.254', 'vm-b'])).toMatchObject({ code: 1, stderr: "weft fip move: no floating IP with id or address '203.0.113.254'\n" });
    expect(await weft(['fip', 'move', fipAddress, 'nope'])).toMatchObject({ code: 1, stderr: "weft fip move: no port with id or name 'nope'\n" });
    const twin = await weft(['fip', 'move', fipAddress, 'twin']);
    expect(twin.code).toBe(1);
    expect(twin.stderr).toMatch(/2 ports are named 'twin' \(.*\): give an id/);
    const wrongIp = await weft(['fip', 'move', fipAddress, 'vm-b', '--fixed-ip', '10.9.9.9']);
    expect(wrongIp.stderr).toMatch(/port vm-b has no address 10\.9\.9\.9/);
  });
});

describe('exit codes and messages', () => {
  it('2 for usage, 1 for failures, 0 for help', async () => {
    expect((await weft(['--help'])).code).toBe(0);
    expect(await weft(['trace', 'x'])).toMatchObject({ code: 2 });
    expect((await weft(['status', '--url', 'ftp://x'])).stderr).toMatch(/--url must be http\(s\):\/\/HOST:PORT/);
    const trace = await weft(['trace', 'vm-a', '10.1.0.9', '--ovsdb', 'unix:/nonexistent/db.sock']);
    expect(trace).toMatchObject({ code: 1, stderr: expect.stringMatching(/no Open vSwitch at unix:\/nonexistent\/db\.sock/) });
    const icmpPort = await weft(['trace', 'vm-a', '10.1.0.9', '--dport', '80']);
    expect(icmpPort).toMatchObject({ code: 2, stderr: expect.stringMatching(/--dport and --sport need --proto tcp or udp/) });
  });
});
