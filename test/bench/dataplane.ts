import { createFabric } from '../helpers/fabric.ts';
import { network, plug, port, portStatus, subnet } from '../helpers/fabric-model.ts';
import { median } from './stats.ts';

// API-to-dataplane latency of a new port on a real two-host fabric: create it through the API,
// plug it the way Nova does, wait until the API says ACTIVE, and until a VM on the other host
// gets its first ping answered.

const ROUNDS = Number(process.env.WEFT_BENCH_ROUNDS ?? 15);
const max = (xs: number[]) => Math.max(...xs);

/** Polls every 2 ms (the fabric helper's until() sleeps 100 ms between tries, too coarse here). */
async function poll(what: string, ok: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function dataplaneBench(): Promise<void> {
  const f = await createFabric({ hosts: ['h1', 'h2'] });
  try {
    const net = await network(f, 'bench');
    await subnet(f, 'bench', net, '10.90.0.0/16');
    const prober = await plug(f, 'h2', await port(f, 'bench', net, 'h2', { fixed_ips: [{ ip_address: '10.90.0.2' }] }), 'prober', 16);
    const created: number[] = [];
    const active: number[] = [];
    const pinged: number[] = [];
    const plugging: number[] = [];
    const pluggedToActive: number[] = [];
    const pluggedToPing: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const ip = `10.90.1.${i + 10}`;
      const t0 = performance.now();
      const p = await port(f, 'bench', net, 'h1', { fixed_ips: [{ ip_address: ip }] });
      const t1 = performance.now();
      await f.lab.plug('h1', { name: `b${i}`, portId: p.id, mac: p.mac_address, ip: `${ip}/16` });
      const tPlugged = performance.now();
      await poll('ACTIVE', async () => (await portStatus(f, p.id)) === 'ACTIVE');
      const t2 = performance.now();
      await poll('first ping', async () => (await prober.exec(['ping', '-c1', '-W1', ip])).code === 0);
      const t3 = performance.now();
      plugging.push(tPlugged - t1);
      pluggedToActive.push(t2 - tPlugged);
      pluggedToPing.push(t3 - tPlugged);
      created.push(t1 - t0);
      active.push(t2 - t0);
      pinged.push(t3 - t0);
    }
    const row = (name: string, xs: number[]) => console.log(`dataplane: ${name}: median ${median(xs).toFixed(1)} ms, max ${max(xs).toFixed(1)} ms (${ROUNDS} ports)`);
    row('port create answered', created);
    row('create -> plugged -> ACTIVE', active);
    row('create -> plugged -> first ping answered from the other host', pinged);
    row('of which plugging (namespace, veth, ovs-vsctl add-port: the lab, not Weft)', plugging);
    row('plugged -> ACTIVE', pluggedToActive);
    row('plugged -> first ping answered', pluggedToPing);
  } finally {
    await f.destroy();
  }
}
