import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipScope, macScope } from '../../controller/domain/claims.ts';
import { openStore } from '../../controller/store/open.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// kill -9 in the middle of a concurrent write load, restart on the same data directory:
// every resource is whole, no address is held twice, every acknowledged write survived,
// and the global revision continues from where the crash left it.

let ctl: ControllerProcess;
beforeAll(async () => { ctl = await startController(); });
afterAll(async () => ctl?.cleanup());

type Res = { status: number; body: any };
async function api(method: string, path: string, body?: unknown): Promise<Res> {
  const res = await fetch(`${ctl.url}${path}`, {
    method,
    headers: { 'x-auth-token': ctl.adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
/** Like api() but a dead server is an answer, not an exception. */
let unanswered = 0;
const attempt = (method: string, path: string, body?: unknown): Promise<Res | undefined> =>
  api(method, path, body).catch(() => { unanswered++; return undefined; });

/** The global revision persisted in a data directory, read from a copy of its SQLite files. */
async function persistedRevision(dataDir: string): Promise<{ revision: number; claims: (scope: string, key: string) => string | undefined; close(): Promise<void> }> {
  const copy = mkdtempSync(join(tmpdir(), 'weft-crash-copy-'));
  for (const f of ['weft.db', 'weft.db-wal']) if (existsSync(join(dataDir, f))) cpSync(join(dataDir, f), join(copy, f));
  const store = openStore(copy);
  return {
    revision: store.revision,
    claims: (scope, key) => store.view().claimOwner(scope, key),
    async close() { await store.close(); rmSync(copy, { recursive: true, force: true }); },
  };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(base) & mask) >>> 0);
}

interface Ledger {
  networks: Set<string>; subnets: Map<string, string>; ports: Set<string>;
  deleted: Set<string>; deleting: Set<string>;
  /** id -> highest acknowledged revision_number and the name it set. */
  updates: Map<string, { rev: number; name: string }>;
  acknowledgedWrites: number;
}

const pickFrom = <T>(xs: Iterable<T>): T | undefined => {
  const arr = [...xs];
  return arr.length ? arr[Math.floor(Math.random() * arr.length)] : undefined;
};

async function worker(ledger: Ledger, stop: { now: boolean }, nextCidr: () => string): Promise<void> {
  let n = 0;
  while (!stop.now) {
    n++;
    const live = (ids: Iterable<string>) => [...ids].filter((id) => !ledger.deleted.has(id) && !ledger.deleting.has(id));
    const netWithSubnet = pickFrom(new Set([...ledger.subnets.values()].filter((id) => live([id]).length)));
    const r = Math.random();
    if (r < 0.15 || !ledger.networks.size) {
      const res = await attempt('POST', '/v2.0/networks', { network: { name: `n${n}` } });
      if (res?.status === 201) { ledger.networks.add(res.body.network.id); ledger.acknowledgedWrites++; }
    } else if (r < 0.3 || !netWithSubnet) {
      const net = pickFrom(live(ledger.networks));
      if (!net) continue;
      const res = await attempt('POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: nextCidr(), ip_version: 4 } });
      if (res?.status === 201) { ledger.subnets.set(res.body.subnet.id, net); ledger.acknowledgedWrites++; }
    } else if (r < 0.6) {
      const res = await attempt('POST', '/v2.0/ports', { port: { network_id: netWithSubnet, name: `p${n}` } });
      if (res?.status === 201) { ledger.ports.add(res.body.port.id); ledger.acknowledgedWrites++; }
    } else if (r < 0.7) {
      const res = await attempt('POST', '/v2.0/ports', { ports: [1, 2, 3].map((i) => ({ network_id: netWithSubnet, name: `bulk${n}.${i}` })) });
      if (res?.status === 201) { for (const p of res.body.ports) ledger.ports.add(p.id); ledger.acknowledgedWrites++; }
    } else if (r < 0.85) {
      const [kind, id] = Math.random() < 0.5 ? ['ports', pickFrom(live(ledger.ports))] : ['networks', pickFrom(live(ledger.networks))];
      if (!id) continue;
      const name = `u${n}-${Math.random().toString(36).slice(2, 8)}`;
      const res = await attempt('PUT', `/v2.0/${kind}/${id}`, { [kind.slice(0, -1)]: { name } });
      if (res?.status === 200) {
        const rev = res.body[kind.slice(0, -1)].revision_number as number;
        const prev = ledger.updates.get(id);
        if (!prev || rev > prev.rev) ledger.updates.set(id, { rev, name });
        ledger.acknowledgedWrites++;
      }
    } else {
      const id = pickFrom(live(ledger.ports));
      if (!id) continue;
      ledger.deleting.add(id);
      const res = await attempt('DELETE', `/v2.0/ports/${id}`);
      if (res?.status === 204) { ledger.deleted.add(id); ledger.deleting.delete(id); ledger.acknowledgedWrites++; }
      // an unanswered delete stays in `deleting`: either outcome is allowed after the crash
    }
  }
}

describe('crash recovery', () => {
  it('survives kill -9 during a write load with whole, unique, acknowledged state', async () => {
    const ledger: Ledger = { networks: new Set(), subnets: new Map(), ports: new Set(), deleted: new Set(), deleting: new Set(), updates: new Map(), acknowledgedWrites: 0 };
    let cidrs = 0;
    const nextCidr = () => { cidrs++; return `10.${100 + (cidrs >> 8)}.${cidrs & 255}.0/24`; };

    const stop = { now: false };
    const workers = Array.from({ length: 12 }, () => worker(ledger, stop, nextCidr));
    // Let the load build up, then pull the plug while requests are in flight.
    const deadline = Date.now() + 20_000;
    while ((ledger.ports.size < 40 || ledger.updates.size < 5) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const killed = await ctl.kill('SIGKILL');
    stop.now = true;
    await Promise.all(workers);
    expect(killed.signal).toBe('SIGKILL');
    expect(ledger.ports.size).toBeGreaterThanOrEqual(40);
    expect(unanswered, 'requests were in flight when the controller died').toBeGreaterThan(0);

    // The revision the crash left on disk covers every acknowledged write.
    const atCrash = await persistedRevision(ctl.dataDir);
    const crashRevision = atCrash.revision;
    await atCrash.close();
    expect(crashRevision).toBeGreaterThanOrEqual(ledger.acknowledgedWrites);
    if (process.env.WEFT_TEST_VERBOSE) console.log({ crashRevision, acked: ledger.acknowledgedWrites, unanswered, ports: ledger.ports.size, deleted: ledger.deleted.size, inFlightDeletes: ledger.deleting.size });

    await ctl.restart();
    const networks = (await api('GET', '/v2.0/networks')).body.networks as any[];
    const subnets = (await api('GET', '/v2.0/subnets')).body.subnets as any[];
    const ports = (await api('GET', '/v2.0/ports')).body.ports as any[];
    const netById = new Map(networks.map((n) => [n.id, n]));
    const subById = new Map(subnets.map((s) => [s.id, s]));
    const portIds = new Set(ports.map((p) => p.id));

    // Acknowledged creates are all present (unless acknowledged or in-flight deletes took them).
    for (const id of ledger.networks) expect(netById.has(id), `network ${id}`).toBe(true);
    for (const id of ledger.subnets.keys()) expect(subById.has(id), `subnet ${id}`).toBe(true);
    for (const id of ledger.ports) {
      if (ledger.deleted.has(id)) expect(portIds.has(id), `deleted port ${id}`).toBe(false);
      else if (!ledger.deleting.has(id)) expect(portIds.has(id), `port ${id}`).toBe(true);
    }
    // Acknowledged updates survived: the revision_number is at least the acknowledged one, with its name when equal.
    for (const [id, { rev, name }] of ledger.updates) {
      const doc = netById.get(id) ?? ports.find((p) => p.id === id);
      if (!doc) { expect(ledger.deleting.has(id) || ledger.deleted.has(id), `updated ${id} vanished`).toBe(true); continue; }
      expect(doc.revision_number).toBeGreaterThanOrEqual(rev);
      if (doc.revision_number === rev) expect(doc.name).toBe(name);
    }

    // Every resource is whole.
    for (const s of subnets) expect(netById.has(s.network_id), `subnet ${s.id} network`).toBe(true);
    for (const n of networks) {
      expect([...n.subnets].sort()).toEqual(subnets.filter((s) => s.network_id === n.id).map((s) => s.id).sort());
    }
    const heldIps = new Set<string>();
    const heldMacs = new Set<string>();
    const disk = await persistedRevision(ctl.dataDir); // read-only copy of the live store for claims
    try {
      for (const p of ports) {
        expect(netById.has(p.network_id), `port ${p.id} network`).toBe(true);
        expect(p.fixed_ips.length).toBeGreaterThan(0);
        for (const f of p.fixed_ips) {
          const s = subById.get(f.subnet_id);
          expect(s, `port ${p.id} subnet ${f.subnet_id}`).toBeDefined();
          expect(s.network_id).toBe(p.network_id);
          expect(inCidr(f.ip_address, s.cidr), `${f.ip_address} in ${s.cidr}`).toBe(true);
          const key = `${f.subnet_id}/${f.ip_address}`;
          expect(heldIps.has(key), `address ${key} allocated twice`).toBe(false);
          heldIps.add(key);
          expect(disk.claims(ipScope(f.subnet_id), f.ip_address), `claim of ${key}`).toBe(p.id);
        }
        const mac = `${p.network_id}/${p.mac_address}`;
        expect(heldMacs.has(mac), `MAC ${mac} twice`).toBe(false);
        heldMacs.add(mac);
        expect(disk.claims(macScope(p.network_id), p.mac_address)).toBe(p.id);
      }
    } finally {
      await disk.close();
    }

    // The revision continues: a new write lands after the crash revision, per resource and globally.
    const updated = [...ledger.updates.entries()].find(([id]) => netById.has(id));
    if (updated) {
      const [id, { rev }] = updated;
      const again = await api('PUT', `/v2.0/networks/${id}`, { network: { name: 'after-crash' } });
      expect(again.status).toBe(200);
      expect(again.body.network.revision_number).toBeGreaterThan(rev);
    }
    const fresh = await api('POST', '/v2.0/networks', { network: { name: 'after-crash' } });
    expect(fresh.status).toBe(201);
    await ctl.stop();
    const after = await persistedRevision(ctl.dataDir);
    expect(after.revision).toBeGreaterThan(crashRevision);
    await after.close();
    await ctl.restart();
    expect((await api('GET', `/v2.0/networks/${fresh.body.network.id}`)).status).toBe(200);
  }, 120_000);
});

describe('one controller per data directory', () => {
  it('a second controller on a data directory in use refuses to start, and the first keeps serving', async () => {
    expect(ctl.running).toBe(true);
    await expect(startController({ dataDir: ctl.dataDir, keepDataDir: true, startTimeoutMs: 20_000 })).rejects.toThrow(/in use by another process|exited during start/);
    const res = await api('POST', '/v2.0/networks', { network: { name: 'still-here' } });
    expect(res.status).toBe(201);
  }, 60_000);
});
