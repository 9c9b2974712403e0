import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// A real controller process over HTTP on 127.0.0.1: 300 parallel port creates race for the
// addresses of one /24. Exactly the free addresses are handed out, none twice, every MAC is
// unique, the losers get 409 IpAddressGenerationFailure, and the listing agrees.

let ctl: ControllerProcess;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${ctl.url}${path}`, {
    method,
    headers: { 'x-auth-token': ctl.adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

beforeAll(async () => { ctl = await startController(); });
afterAll(async () => ctl?.cleanup());

describe('parallel port creation on one subnet', () => {
  it('hands out exactly the free addresses, each once, and 409s the rest', async () => {
    const net = await api('POST', '/v2.0/networks', { network: { name: 'race' } });
    expect(net.status).toBe(201);
    const networkId = net.body.network.id as string;
    const sub = await api('POST', '/v2.0/subnets', { subnet: { network_id: networkId, cidr: '10.20.0.0/24', ip_version: 4 } });
    expect(sub.status, JSON.stringify(sub.body)).toBe(201);
    const subnet = sub.body.subnet;
    expect(subnet.gateway_ip).toBe('10.20.0.1');

    // Pool size from allocation_pools (253 for a /24 with the gateway at .1), minus anything already holding an address.
    const poolSize = (subnet.allocation_pools as Array<{ start: string; end: string }>)
      .reduce((n, p) => n + ipToInt(p.end) - ipToInt(p.start) + 1, 0);
    expect(poolSize).toBe(253);
    const existing = await api('GET', `/v2.0/ports?network_id=${networkId}`);
    const alreadyHeld = (existing.body.ports as any[]).flatMap((p) => p.fixed_ips).filter((f: any) => f.subnet_id === subnet.id).length;
    const free = poolSize - alreadyHeld;

    const N = 300;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => api('POST', '/v2.0/ports', { port: { network_id: networkId, name: `p${i}` } })),
    );
    const created = results.filter((r) => r.status === 201).map((r) => r.body.port);
    const rejected = results.filter((r) => r.status !== 201);

    expect(created).toHaveLength(free);
    expect(rejected).toHaveLength(N - free);
    for (const r of rejected) {
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.NeutronError.type).toBe('IpAddressGenerationFailure');
      expect(typeof r.body.NeutronError.message).toBe('string');
    }

    const ips = created.flatMap((p) => p.fixed_ips.map((f: any) => f.ip_address as string));
    expect(ips).toHaveLength(free);
    expect(new Set(ips).size).toBe(ips.length); // no duplicate IP
    const macs = created.map((p) => p.mac_address as string);
    expect(new Set(macs).size).toBe(macs.length); // no duplicate MAC
    const [lo, hi] = [ipToInt('10.20.0.2'), ipToInt('10.20.0.254')];
    for (const ip of ips) {
      expect(ipToInt(ip)).toBeGreaterThanOrEqual(lo);
      expect(ipToInt(ip)).toBeLessThanOrEqual(hi);
    }

    // The listing agrees with what was acknowledged.
    const listed = await api('GET', `/v2.0/ports?network_id=${networkId}`);
    expect(listed.status).toBe(200);
    const listedPorts = listed.body.ports as any[];
    expect(listedPorts).toHaveLength(alreadyHeld + free);
    const listedIps = listedPorts.flatMap((p) => p.fixed_ips.map((f: any) => f.ip_address as string));
    expect(new Set(listedIps).size).toBe(listedIps.length);
    expect(new Set(listedPorts.map((p) => p.mac_address)).size).toBe(listedPorts.length);
    const createdIds = new Set(created.map((p) => p.id));
    expect(listedPorts.filter((p) => createdIds.has(p.id))).toHaveLength(free);
    for (const p of listedPorts.filter((q) => createdIds.has(q.id))) {
      const mine = created.find((c) => c.id === p.id);
      expect(p.fixed_ips).toEqual(mine.fixed_ips);
      expect(p.mac_address).toBe(mine.mac_address);
    }

    // One more is refused; freeing one address makes exactly one more possible.
    const extra = await api('POST', '/v2.0/ports', { port: { network_id: networkId } });
    expect(extra.status).toBe(409);
    expect(extra.body.NeutronError.type).toBe('IpAddressGenerationFailure');
    expect((await api('DELETE', `/v2.0/ports/${created[0].id}`)).status).toBe(204);
    const again = await api('POST', '/v2.0/ports', { port: { network_id: networkId } });
    expect(again.status).toBe(201);
    expect(again.body.port.fixed_ips[0].ip_address).toBe(created[0].fixed_ips[0].ip_address);
  }, 120_000);
});
