import { ADMIN, ALICE, testApi } from '../helpers/api.ts';
const api = await testApi({ segments: { tenantNetworkTypes: ['vxlan'], vniRanges: ['100:199'], vlanRanges: [], flatNetworks: ['*'] } });
const ok = async (r: Promise<{ status: number; body: any }>) => { const x = await r; if (x.status >= 300) throw new Error(JSON.stringify(x.body)); return x.body; };
const ext = (await ok(api.call(ADMIN, 'POST', '/v2.0/networks', { network: { 'router:external': true } }))).network;
await ok(api.call(ADMIN, 'POST', '/v2.0/subnets', { subnet: { network_id: ext.id, cidr: '203.0.113.0/24', ip_version: 4 } }));
const net = (await ok(api.call(ALICE, 'POST', '/v2.0/networks', { network: {} }))).network;
const sub = (await ok(api.call(ALICE, 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.0.0.0/16', ip_version: 4 } }))).subnet;
const router = (await ok(api.call(ALICE, 'POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.id } } }))).router;
await ok(api.call(ALICE, 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub.id }));
await ok(api.call(ADMIN, 'PUT', '/v2.0/quotas/alice-project', { quota: { port: -1 } }));
const ports = [];
for (let i = 0; i < Number(process.env.N ?? 1000); i++) ports.push((await ok(api.call(ALICE, 'POST', '/v2.0/ports', { port: { network_id: net.id } }))).port);
const fip = (await ok(api.call(ALICE, 'POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } }))).floatingip;
const t: number[] = [];
for (let i = 0; i < 1000; i++) {
  const t0 = performance.now();
  await ok(api.call(ALICE, 'PUT', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: ports[i % 2].id } }));
  t.push(performance.now() - t0);
}
t.sort((a, b) => a - b);
console.log('PUT floatingip p50', t[500].toFixed(2), 'p90', t[900].toFixed(2));
await api.close();
