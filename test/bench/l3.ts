import { HostModel } from '../../agent/model/host-model.ts';
import { L3Manager, routersTouched, type L3Ops } from '../../agent/l3/manager.ts';
import { networkDoc, portDoc, subnetDoc } from '../helpers/host-scenarios.ts';
import { percentile } from './stats.ts';
import { randomBytes } from 'node:crypto';
import { floatingNatContents, floatingNatTableLine, floatingSetUpdates, NFT_TABLE } from '../../agent/l3/floating-nat.ts';
import { NftSetWriter } from '../../agent/l3/nft-set-writer.ts';
import type { RouterNat } from '../../agent/l3/rules.ts';
import { createNetns, deleteNetns, execInNetns } from '../../agent/host/netns.ts';
import { l3NamespaceBench } from './l3-namespace.ts';

// The gateway agent's L3 work for one floating IP remap: with 10 and with 1,000 routers on the host
// (each with a subnet, a gateway and a floating IP), and with one router carrying 1,000 and 2,000
// floating IPs; the pass that replans what the change touched, compiles it and hands the floating
// IP maps to nft (here a no-op: the pure part alone). Then the kernel's part, in a namespace, and
// the namespace's part of a floating IP created on a built router (l3-namespace.ts).

const HOST = 'gw1';
const noop = async (): Promise<void> => undefined;
const OPS: L3Ops = { ensure: noop, applyRules: noop, nft: noop, releaseNft: () => undefined, remove: noop, list: async () => [], conntrack: noop, announce: noop };

const network = (id: string, external = false) => networkDoc(id, { 'router:external': external });
const subnet = (id: string, networkId: string, cidr: string, gateway: string) => subnetDoc(id, networkId, cidr, { gateway_ip: gateway });
const port = (id: string, networkId: string, owner: string, router: string, subnetId: string, ip: string) => portDoc(id, networkId, 'fa:16:3e:00:00:01', {
  fixed_ips: [{ subnet_id: subnetId, ip_address: ip }], port_security_enabled: false, device_owner: owner, device_id: router, 'binding:host_id': HOST,
});

async function run(routers: number, floatingPerRouter = 1): Promise<void> {
  const docs = {
    network: [network('ext', true)], subnet: [subnet('ext-v4', 'ext', '100.64.0.0/10', '100.64.0.1')],
    port: [] as Record<string, unknown>[], router: [] as Record<string, unknown>[], floatingip: [] as Record<string, unknown>[],
  };
  let fipIndex = 0;
  for (let i = 0; i < routers; i++) {
    const [a, b] = [(i >> 8) & 255, i & 255];
    const prefix = `${10 + a}.${b}`; // a /16 of fixed addresses per router
    docs.network.push(network(`n${i}`));
    docs.subnet.push(subnet(`s${i}`, `n${i}`, `${prefix}.0.0/16`, `${prefix}.0.1`));
    docs.port.push(port(`qr${i}`, `n${i}`, 'network:router_interface', `r${i}`, `s${i}`, `${prefix}.0.1`));
    docs.port.push(port(`qg${i}`, 'ext', 'network:router_gateway', `r${i}`, 'ext-v4', `100.64.${a + 10}.${b}`));
    docs.router.push({ id: `r${i}`, project_id: 'p', admin_state_up: true, external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [] }, routes: [] });
    for (let j = 0; j < floatingPerRouter; j++, fipIndex++) {
      docs.floatingip.push({
        id: j ? `f${i}-${j}` : `f${i}`, project_id: 'p', floating_network_id: 'ext', floating_ip_address: `100.${80 + (fipIndex >> 16)}.${(fipIndex >> 8) & 255}.${fipIndex & 255}`,
        router_id: `r${i}`, port_id: `vm${i}-${j}`, fixed_ip_address: `${prefix}.${(j + 5) >> 8}.${(j + 5) & 255}`, port_forwardings: [],
      });
    }
  }
  const model = new HostModel(HOST);
  model.replace(1, docs);
  const l3 = new L3Manager({ host: HOST, ops: OPS, retryMs: 0, aftermathDelayMs: 0 });
  let t = performance.now();
  await l3.sync(model, 'all');
  const first = performance.now() - t;
  const passes: number[] = [];
  for (let k = 0; k < 200; k++) {
    const e = model.apply('floatingip', 'f0', { ...docs.floatingip[0], fixed_ip_address: k % 2 ? '10.0.255.250' : '10.0.255.251' });
    t = performance.now();
    await l3.sync(model, routersTouched(model, e ? [e] : []));
    passes.push(performance.now() - t);
  }
  console.log(`l3: ${routers > 1 ? `${routers} routers on the gateway, one floating IP each` : `one router on the gateway with ${floatingPerRouter} floating IPs`}: a remap's pass median ${percentile(passes, 50).toFixed(2)} ms, p99 ${percentile(passes, 99).toFixed(2)} ms (the first pass, every router: ${first.toFixed(0)} ms)`);
}

/**
 * The kernel's part of a remap on a router with `count` floating IPs: its nft sets and maps in a
 * namespace of this run, updated over the agent's netlink socket, as the agent does it (only the
 * moved elements) and as it did before (every set flushed and refilled).
 */
async function kernelRun(count: number): Promise<void> {
  const ns = `weftb${randomBytes(3).toString('hex')}`;
  await createNetns(ns);
  const writer = new NftSetWriter();
  try {
    await execInNetns(ns, 'nft', [floatingNatTableLine(natWith(count, 0))!]);
    let before = floatingNatContents(natWith(count, 0));
    await writer.replace(ns, NFT_TABLE, before.sets);
    const [updates, refills]: number[][] = [[], []];
    for (let k = 1; k <= 100; k++) {
      const after = floatingNatContents(natWith(count, k % 2));
      let t = performance.now();
      await writer.update(ns, NFT_TABLE, floatingSetUpdates(before.mapping, after.mapping));
      updates.push(performance.now() - t);
      t = performance.now();
      await writer.replace(ns, NFT_TABLE, after.sets);
      refills.push(performance.now() - t);
      before = after;
    }
    console.log(`l3 kernel: one router with ${count} floating IP${count > 1 ? 's' : ''}, a remap's netlink transaction: the moved elements only median ${percentile(updates, 50).toFixed(2)} ms, p99 ${percentile(updates, 99).toFixed(2)} ms; every set refilled median ${percentile(refills, 50).toFixed(2)} ms, p99 ${percentile(refills, 99).toFixed(2)} ms`);
  } finally {
    writer.close();
    await deleteNetns(ns);
  }
}

/** A router's NAT with `count` floating IPs, the first one's fixed address chosen by `variant`. */
function natWith(count: number, variant: number): RouterNat {
  return {
    gatewayInterface: 'qg-bench', gatewayIp: '100.64.0.2', enableSnat: true, internalCidrs: ['10.0.0.0/16'], portForwardings: [],
    floatingIps: Array.from({ length: count }, (_, i) => ({ floating: `100.80.${i >> 8}.${i & 255}`, fixed: i ? `10.0.${(i + 5) >> 8}.${(i + 5) & 255}` : `10.0.255.${250 + variant}` })),
  };
}

export async function l3Bench(): Promise<void> {
  await run(10);
  await run(1000);
  await run(1, 1000);
  await run(1, 2000);
  for (const count of [1, 1000, 2000]) await kernelRun(count);
  await l3NamespaceBench();
}
