import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerChannel } from '../../agent/sync/channel-client.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';
import { decodePng } from '../helpers/png.ts';

// The topology dashboard in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real controller process with a stand-in agent on host compute-1 (the real channel
// client, reporting what a real agent would). The page is logged in with the admin token, must
// show the model built through the API, must follow changes without a reload, must draw status
// colours that a screenshot shows, and must log no console error. A member's page shows only what
// the member may see.

const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
const ALICE_TOKEN = 'alice-token-0123456789abcdef';
const ALICE_PROJECT = 'alice-project';
const VIEWPORT = { width: 1400, height: 900 };
/** dashboard.css: --active and --down. */
const GREEN: [number, number, number] = [0x2e, 0x9e, 0x44];
const GREY: [number, number, number] = [0x8a, 0x8f, 0x98];
/** How long a change may take to show (expect.poll's default, 1 s, is short for a loaded 2-core machine). */
const SOON = { timeout: 10_000 };
const HOSTILE_NAME = '<img src=x onerror="window.pwned=1">';

let ctl: ControllerProcess;
let browser: Browser;
let agent: ControllerChannel;
let tmp: string;
const consoleErrors: string[] = [];

async function api(method: string, path: string, body?: unknown, token = ctl.adminToken): Promise<any> {
  const res = await fetch(`${ctl.url}${path}`, {
    method,
    headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'weft-dashboard-'));
  ctl = await startController({ tokens: [{ token: ALICE_TOKEN, project_id: ALICE_PROJECT, roles: ['member'] }] });
});
afterAll(async () => {
  await agent?.close();
  await browser?.close();
  await ctl?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A page that records console errors and uncaught exceptions, logged in with `token`. */
async function openDashboard(token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') consoleErrors.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));
  await page.goto(`${ctl.url}/dashboard`);
  await page.locator('#token').fill(token);
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('body[data-connection="live"]').waitFor();
  return page;
}

const node = (page: Page, kind: string, id: string) => page.locator(`[data-kind="${kind}"][data-id="${id}"]`);
const closeTo = (actual: number[], wanted: number[]) => wanted.every((v, i) => Math.abs(actual[i] - v) <= 8);

describe('topology dashboard in Chromium', () => {
  it('draws the model, follows changes live, and shows only what a member may see', async () => {
    // Never skipped: without Chromium this test fails, and says how to get it.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`the dashboard test needs Chromium at ${CHROMIUM}: run scripts/system-deps.sh as root (apt-get install chromium), or set WEFT_CHROMIUM`);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    // A stand-in agent on compute-1: it is the external network's gateway host, and reports every revision applied.
    agent = new ControllerChannel({
      urls: [ctl.url], token: ctl.adminToken, minBackoffMs: 50,
      hello: { host: 'compute-1', tunnelIp: '192.0.2.1', bridgeMappings: { ext: 'br-ex' }, datapath: 'netdev' },
    });
    agent.on('snapshot', (m) => agent.reportApplied(m.revision));
    agent.on('changes', (m) => agent.reportApplied(m.revision));
    agent.on('revision', (m) => agent.reportApplied(m.revision));
    agent.start();

    const ext = (await api('POST', '/v2.0/networks', { network: { name: 'ext-net', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'ext' } })).network;
    await api('POST', '/v2.0/subnets', { subnet: { network_id: ext.id, cidr: '172.24.4.0/24', ip_version: 4 } });
    const net1 = (await api('POST', '/v2.0/networks', { network: { name: 'net1' } })).network;
    const sub1 = (await api('POST', '/v2.0/subnets', { subnet: { network_id: net1.id, cidr: '10.0.0.0/24', ip_version: 4, name: 'sub1' } })).subnet;
    const router = (await api('POST', '/v2.0/routers', { router: { name: 'r1', external_gateway_info: { network_id: ext.id } } })).router;
    const iface = await api('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub1.id });
    const p1 = (await api('POST', '/v2.0/ports', { port: { network_id: net1.id, name: 'p1', 'binding:host_id': 'compute-1' } })).port;
    const p2 = (await api('POST', '/v2.0/ports', { port: { network_id: net1.id, name: 'p2' } })).port;
    const fip = (await api('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id, port_id: p1.id } })).floatingip;
    const hostile = (await api('POST', '/v2.0/networks', { network: { name: HOSTILE_NAME } })).network;
    const aliceNet = (await api('POST', '/v2.0/networks', { network: { name: 'alice-net' } }, ALICE_TOKEN)).network;

    const page = await openDashboard(ctl.adminToken);
    // What was built through the API is drawn, grouped where it belongs.
    await expect.poll(() => node(page, 'port', p1.id).count(), SOON).toBe(1);
    expect(await node(page, 'network', net1.id).getAttribute('data-status')).toBe('ACTIVE');
    const subnet = node(page, 'subnet', sub1.id);
    expect([await subnet.getAttribute('data-cidr'), await subnet.getAttribute('data-network-id')]).toEqual(['10.0.0.0/24', net1.id]);
    expect(await node(page, 'router', router.id).textContent()).toContain('r1');
    expect(await page.locator(`[data-kind="router-interface"][data-router-id="${router.id}"][data-network-id="${net1.id}"]`).count()).toBe(1);
    expect(await page.locator(`[data-kind="router-gateway"][data-router-id="${router.id}"][data-network-id="${ext.id}"]`).count()).toBe(1);
    for (const port of [p1, p2]) expect(await node(page, 'port', port.id).getAttribute('data-network-id')).toBe(net1.id);
    expect(await node(page, 'port', iface.port_id).textContent()).toContain('interface of r1');
    expect(await node(page, 'port', p1.id).getAttribute('data-host')).toBe('compute-1');
    expect(await node(page, 'port', p1.id).textContent()).toContain(p1.fixed_ips[0].ip_address);
    const fipNode = node(page, 'floatingip', fip.id);
    expect([await fipNode.getAttribute('data-port-id'), await fipNode.textContent()]).toEqual([p1.id, `floating ${fip.floating_ip_address}`]);
    const host = page.locator('tr[data-kind="host"][data-host="compute-1"]');
    await expect.poll(() => host.getAttribute('data-agent'), SOON).toBe('alive');
    // A tenant-chosen name is text, never markup.
    const hostileTitle = node(page, 'network', hostile.id).locator('title');
    expect(await hostileTitle.textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('#picture img').count()).toBe(0);
    expect(await page.evaluate(() => (window as any).pwned)).toBeUndefined();
    // Admins choose a project: Alice's shows her network and not the admin's.
    const options = await page.locator('#project option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual(expect.arrayContaining(['', ALICE_PROJECT, net1.project_id]));
    await page.locator('#project').selectOption(ALICE_PROJECT);
    await expect.poll(() => node(page, 'network', net1.id).count(), SOON).toBe(0);
    expect(await node(page, 'network', aliceNet.id).count()).toBe(1);
    await page.locator('#project').selectOption('');
    await node(page, 'network', net1.id).waitFor();

    // Changes arrive without a reload: the agent reports p1 up, p2 is deleted, a network is added.
    await page.evaluate(() => { (window as any).samePage = true; });
    expect(agent.reportApplied(agent.revision!, { [p1.id]: 'up' })).toBe(true);
    await expect.poll(() => node(page, 'port', p1.id).getAttribute('data-status'), SOON).toBe('ACTIVE');
    expect(await node(page, 'port', p2.id).getAttribute('data-status')).toBe('DOWN');

    // The screenshot shows the colours: p1's status dot green, p2's grey, net1's green. Where the
    // dots are is read in one go, so that no redraw can fall between two readings.
    const targets = [['port', p1.id, GREEN], ['port', p2.id, GREY], ['network', net1.id, GREEN]] as const;
    const centres = await page.evaluate((wanted) => wanted.map(([kind, id]) => {
      const box = document.querySelector(`[data-kind="${kind}"][data-id="${id}"] circle.status-dot`)?.getBoundingClientRect();
      return box ? { x: box.x + box.width / 2, y: box.y + box.height / 2 } : null;
    }), targets.map(([kind, id]) => [kind, id]));
    const shot = join(tmp, 'dashboard.png');
    await page.screenshot({ path: shot });
    const png = decodePng(readFileSync(shot));
    expect([png.width, png.height]).toEqual([VIEWPORT.width, VIEWPORT.height]);
    targets.forEach(([kind, id, colour], i) => {
      const at = centres[i];
      expect(at, `${kind} ${id} is drawn`).not.toBeNull();
      expect(at!.x < VIEWPORT.width && at!.y < VIEWPORT.height, `${kind} ${id} is in view`).toBe(true);
      const pixel = png.pixel(at!.x, at!.y);
      expect(closeTo(pixel, colour), `${kind} ${id}: ${pixel} is not ${colour}`).toBe(true);
    });
    rmSync(shot);

    await api('DELETE', `/v2.0/ports/${p2.id}`);
    await expect.poll(() => node(page, 'port', p2.id).count(), SOON).toBe(0);
    const net2 = (await api('POST', '/v2.0/networks', { network: { name: 'net2' } })).network;
    await expect.poll(() => node(page, 'network', net2.id).count(), SOON).toBe(1);
    expect(await node(page, 'network', net2.id).textContent()).toContain('net2');
    expect(await page.evaluate(() => (window as any).samePage)).toBe(true);
    // The agent keeps up: once it reports the last revision, the hosts table says it is in sync.
    await expect.poll(() => host.getAttribute('data-lag'), { timeout: 15_000 }).toBe('0');
    expect(Number(await host.getAttribute('data-applied'))).toBe(Number(await page.locator('body').getAttribute('data-revision')));

    // The controller restarts: the page reconnects by itself, with a new ticket and a fresh snapshot.
    // While it is down, the browser logs the refused connections, and only those (and a 503: what
    // fastify answers a request that comes while the controller closes).
    const errorsBefore = consoleErrors.length;
    await ctl.restart();
    const net3 = (await api('POST', '/v2.0/networks', { network: { name: 'net3' } })).network;
    await expect.poll(() => node(page, 'network', net3.id).count(), { timeout: 20_000 }).toBe(1);
    await page.locator('body[data-connection="live"]').waitFor();
    expect(await node(page, 'network', net2.id).count()).toBe(1);
    expect(await page.evaluate(() => (window as any).samePage)).toBe(true);
    const whileDown = consoleErrors.splice(errorsBefore);
    expect(whileDown.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|status of 503 \(Service Unavailable\)/.test(e))).toEqual([]);

    // A member sees their own project, the external network, no other project's and no hosts.
    const member = await openDashboard(ALICE_TOKEN);
    await node(member, 'network', aliceNet.id).waitFor();
    expect(await node(member, 'network', ext.id).count()).toBe(1);
    expect(await node(member, 'network', net1.id).count()).toBe(0);
    expect(await node(member, 'port', p1.id).count()).toBe(0);
    expect(await member.locator('#project option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual([ALICE_PROJECT]);
    expect(await member.locator('#project').isDisabled()).toBe(true);
    expect(await member.locator('tr[data-kind="host"]').count()).toBe(0);
    expect(await member.locator('#hosts-note').textContent()).toContain('admins only');
    const aliceNet2 = (await api('POST', '/v2.0/networks', { network: { name: 'alice-net2' } }, ALICE_TOKEN)).network;
    await expect.poll(() => node(member, 'network', aliceNet2.id).count(), SOON).toBe(1);

    expect(consoleErrors).toEqual([]);
  });
});
