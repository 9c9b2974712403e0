import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';
import { committedRevisions } from '../helpers/etcd-history.ts';

// Two controller replicas (real processes) on one 3-member etcd cluster (real etcd processes):
// parallel writes through both are serialized (no address or MAC handed out twice), a write
// acknowledged by one is read at once from the other, and under a write load through both, a
// replica killed with SIGKILL and then an etcd member killed lose no acknowledged write and leave
// no gap in the revisions.

const TOKEN = `replicas-admin-${Math.random().toString(36).slice(2, 14)}`;
let cluster: EtcdCluster;
let prefix: string;
let replicas: ControllerProcess[] = [];

beforeAll(async () => {
  cluster = await startEtcdCluster({ members: 3 });
  prefix = `/weft-replicas-${process.pid}/`;
  const env = { WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: cluster.endpoints.join(','), WEFT_ETCD_PREFIX: prefix };
  const tokens = [{ token: TOKEN, project_id: 'replicas-admin', roles: ['admin', 'member'] }];
  // One after another: the first offers its tokens (ours among them) to the shared state, the
  // second takes them from there (auth/shared-tokens.ts).
  replicas.push(await startController({ env, tokens }));
  replicas.push(await startController({ env, controllerMakesTokens: true }));
  // The tests here create more ports than Neutron's default quota of 500 allows one project.
  const quota = await api(replicas[0], 'PUT', '/v2.0/quotas/replicas-admin', { quota: { port: -1 } });
  expect(quota.status, JSON.stringify(quota.body)).toBe(200);
}, 90_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.cleanup()));
  await cluster?.cleanup();
});

interface Answer {
  status: number;
  body: any;
}

async function api(replica: ControllerProcess, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${replica.url}${path}`, {
    method,
    headers: { 'x-auth-token': TOKEN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function networkWithSubnet(replica: ControllerProcess, cidr: string): Promise<{ networkId: string; subnet: any }> {
  const net = await api(replica, 'POST', '/v2.0/networks', { network: { name: `net-${cidr}` } });
  expect(net.status, JSON.stringify(net.body)).toBe(201);
  const sub = await api(replica, 'POST', '/v2.0/subnets', { subnet: { network_id: net.body.network.id, cidr, ip_version: 4 } });
  expect(sub.status, JSON.stringify(sub.body)).toBe(201);
  return { networkId: net.body.network.id, subnet: sub.body.subnet };
}

const addressesOf = (ports: any[]) => ports.flatMap((p) => p.fixed_ips.map((f: any) => f.ip_address as string));

describe('two controller replicas on a 3-member etcd cluster', () => {
  it('hands out exactly the free addresses of a /24 to 300 parallel port creates split across both', async () => {
    const [a, b] = replicas;
    const { networkId, subnet } = await networkWithSubnet(a, '10.30.0.0/24');
    const held = addressesOf((await api(a, 'GET', `/v2.0/ports?network_id=${networkId}`)).body.ports);
    const free = 253 - held.length; // .2 .. .254 (the gateway holds .1), less what other ports hold
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => api(i % 2 ? a : b, 'POST', '/v2.0/ports', { port: { network_id: networkId, name: `p${i}` } })),
    );
    const created = results.filter((r) => r.status === 201).map((r) => r.body.port);
    const refused = results.filter((r) => r.status !== 201);
    expect(created).toHaveLength(free);
    for (const r of refused) expect(r.body.NeutronError.type, JSON.stringify(r.body)).toBe('IpAddressGenerationFailure');
    const ips = addressesOf(created);
    expect(new Set(ips).size).toBe(free);
    expect(new Set(created.map((p) => p.mac_address)).size).toBe(free);
    for (const replica of replicas) {
      const listed = await api(replica, 'GET', `/v2.0/ports?network_id=${networkId}`);
      expect(listed.status).toBe(200);
      expect(new Set(addressesOf(listed.body.ports))).toEqual(new Set([...held, ...ips]));
      expect(listed.body.ports.every((p: any) => p.fixed_ips.every((f: any) => f.subnet_id === subnet.id))).toBe(true);
    }
  }, 120_000);

  it('reads on one replica every write the other acknowledged', async () => {
    const [a, b] = replicas;
    for (let i = 0; i < 20; i++) {
      const [writer, reader] = i % 2 ? [a, b] : [b, a];
      const created = await api(writer, 'POST', '/v2.0/networks', { network: { name: `rw-${i}` } });
      expect(created.status).toBe(201);
      const read = await api(reader, 'GET', `/v2.0/networks/${created.body.network.id}`);
      expect(read.status, `read ${i} on the other replica`).toBe(200);
      expect(read.body.network.revision_number).toBe(created.body.network.revision_number);
    }
  });

  it('loses no acknowledged write when a replica, then an etcd member, is killed under load', async () => {
    const [a, b] = replicas;
    const { networkId } = await networkWithSubnet(a, '10.32.0.0/16'); // room for any machine's write rate
    const acknowledged: any[] = [];
    const refusals: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        // Each write goes to one replica, the other when that one does not answer: as a client would.
        const order = (w + i) % 2 ? [a, b] : [b, a];
        for (const replica of order) {
          if (!replica.running) continue;
          const res = await api(replica, 'POST', '/v2.0/ports', { port: { network_id: networkId, name: `w${w}-${i}` } }).catch(() => undefined);
          if (res?.status === 201) {
            acknowledged.push(res.body.port);
            break;
          }
          // Only 'the store is unavailable' is an acceptable answer while etcd elects a leader.
          if (res && res.status !== 503) refusals.push(`${res.status} ${JSON.stringify(res.body)}`);
        }
      }
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    try {
      await sleep(1500);
      const before = acknowledged.length;
      await a.kill('SIGKILL');
      await sleep(1500);
      await cluster.kill(1);
      await sleep(1500);
      expect(acknowledged.length, 'writes went on after the kills').toBeGreaterThan(before + 8);
    } finally {
      stop = true;
      await load;
    }
    expect(refusals).toEqual([]);
    const listed = await api(b, 'GET', `/v2.0/ports?network_id=${networkId}`);
    expect(listed.status).toBe(200);
    const byId = new Map<string, any>(listed.body.ports.map((p: any) => [p.id, p]));
    for (const port of acknowledged) {
      expect(byId.get(port.id)?.fixed_ips, `acknowledged port ${port.name}`).toEqual(port.fixed_ips);
      expect(byId.get(port.id)?.mac_address).toBe(port.mac_address);
    }
    const all = [...byId.values()];
    expect(new Set(addressesOf(all)).size).toBe(addressesOf(all).length);
    expect(new Set(all.map((p) => p.mac_address)).size).toBe(all.length);
    const revisions = await committedRevisions(cluster, prefix);
    expect(revisions, 'one commit per revision, none skipped').toEqual(Array.from({ length: revisions.length }, (_, i) => i + 1));
    // The killed replica comes back and serves the same model.
    await a.restart();
    const again = await api(a, 'GET', `/v2.0/ports?network_id=${networkId}`);
    expect(again.body.ports.length).toBe(all.length);
    await cluster.restart(1);
  }, 180_000);
});
