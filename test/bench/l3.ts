import { HostModel } from '../../agent/model/host-model.ts';
import { L3Manager, routersTouched, type L3Ops } from '../../agent/l3/manager.ts';
import { networkDoc, portDoc, subnetDoc } from '../helpers/host-scenarios.ts';
import { percentile } from './stats.ts';

// The gateway agent's L3 work for one floating IP remap, with 10 and with 1,000 routers on the host
// (each with a subnet, a gateway and a floating IP): the pass that replans what the change touched,
// compiles it and hands the floating IP maps to nft (here a no-op: the pure part alone).

const HOST = 'gw1';
const noop = async (): Promise<void> => undefined;
const OPS: L3Ops = { ensure: noop, applyRules: noop, nft: noop, releaseNft: () => undefined, remove: noop, list: async () => [], conntrack: noop, announce: noop };

const network = (id: string, external = false) => networkDoc(id, { 'router:external': external });
const subnet = (id: string, networkId: string, cidr: string, gateway: string) => subnetDoc(id, networkId, cidr, { gateway_ip: gateway });
const port = (id: string, networkId: string, owner: string, router: string, subnetId: string, ip: string) => portDoc(id, networkId, 'fa:16:3e:00:00:01', {
  fixed_ips: [{ subnet_id: subnetId, ip_address: ip }], port_security_enabled: false, device_owner: owner, device_id: router, 'binding:host_id': HOST,
});

async function run(routers: number): Promise<void> {
  const docs = {
    network: [network('ext', true)], subnet: [subnet('ext-v4', 'ext', '100.64.0.0/16', '100.64.0.1')],
    port: [] as Record<string, unknown>[], router: [] as Record<string, unknown>[], floatingip: [] as Record<string, unknown>[],
  };
  for (let i = 0; i < routers; i++) {
    const [a, b] = [(i >> 8) & 255, i & 255];
    docs.network.push(network(`n${i}`));
    docs.subnet.push(subnet(`s${i}`, `n${i}`, `10.${a}.${b}.0/24`, `10.${a}.${b}.1`));
    docs.port.push(port(`qr${i}`, `n${i}`, 'network:router_interface', `r${i}`, `s${i}`, `10.${a}.${b}.1`));
    docs.port.push(port(`qg${i}`, 'ext', 'network:router_gateway', `r${i}`, 'ext-v4', `100.64.${a + 10}.${b}`));
    docs.router.push({ id: `r${i}`, project_id: 'p', admin_state_up: true, external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [] }, routes: [] });
    docs.floatingip.push({
      id: `f${i}`, project_id: 'p', floating_network_id: 'ext', floating_ip_address: `100.64.${a + 100}.${b}`, router_id: `r${i}`,
      port_id: `vm${i}`, fixed_ip_address: `10.${a}.${b}.5`, port_forwardings: [],
    });
  }
  const model = new HostModel(HOST);
  model.replace(1, docs);
  const l3 = new L3Manager({ host: HOST, ops: OPS, retryMs: 0, aftermathDelayMs: 0 });
  let t = performance.now();
  await l3.sync(model, 'all');
  const first = performance.now() - t;
  const passes: number[] = [];
  for (let k = 0; k < 200; k++) {
    const e = model.apply('floatingip', 'f0', { ...docs.floatingip[0], fixed_ip_address: k % 2 ? '10.0.0.5' : '10.0.0.6' });
    t = performance.now();
    await l3.sync(model, routersTouched(model, e ? [e] : []));
    passes.push(performance.now() - t);
  }
  console.log(`l3: ${routers} routers on the gateway: a remap's pass median ${percentile(passes, 50).toFixed(2)} ms, p99 ${percentile(passes, 99).toFixed(2)} ms (the first pass, every router: ${first.toFixed(0)} ms)`);
}

export async function l3Bench(): Promise<void> {
  await run(10);
  await run(1000);
}
