import type { ChangeEntry } from '../../schemas/agent/channel.ts';
import { Dataplane, type FlowSink } from '../../agent/dataplane.ts';
import type { FlowChanges, HostConfig } from '../../agent/features/engine.ts';
import { ALL_FEATURES } from '../../agent/features/index.ts';
import { L3Manager, routersTouched, type L3Ops } from '../../agent/l3/manager.ts';
import { RevisionGate } from '../../agent/l3/legs.ts';
import type { LegChange } from '../../agent/l3/namespace.ts';
import { median } from './stats.ts';

// An HA promotion on the new gateway's agent, without a switch or namespaces: the agent's own part
// of a gateway failover (issue 13), from the controller's `changes` message (every router port
// rebound here, every gateway group reordered) to the leg batch started (L3, legs.ts) and to the
// flow changes handed to the switch (dataplane compile). The host model, feature compilers, L3
// planning and the wiring are the agent's (agent.ts); namespace and switch calls return at once,
// so the figures are the agent's event-loop time that sits in front of them. Each router is what
// the gateway-failover bench makes: HA over g1 and g2, one internal network, an external gateway
// (SNAT) and a floating IP. Promotions alternate with demotions (moves back to g1). Prints one
// JSON line per router count. WEFT_BENCH_PROMOTION_ROUTERS (default "1,100"), _ROUNDS (default 20).

const ME = 'g2';
const OTHER = 'g1';

function routerDocs(n: number): { docs: Record<string, Record<string, unknown>[]>; routerPorts: string[] } {
  const mac = (i: number, k: number) => `fa:16:3e:${k.toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const port = (id: string, net: string, owner: string, dev: string, host: string, subnet: string, ip: string, k: number, i: number) => ({
    id, network_id: net, admin_state_up: true, mac_address: mac(i, k), fixed_ips: [{ subnet_id: subnet, ip_address: ip }],
    allowed_address_pairs: [], port_security_enabled: owner.startsWith('compute'), security_groups: owner.startsWith('compute') ? ['sg'] : [],
    device_owner: owner, device_id: dev, 'binding:host_id': host,
  });
  const docs: Record<string, Record<string, unknown>[]> = {
    agent: ['g1', 'g2', 'c1'].map((h, i) => ({ id: `a-${h}`, host: h, tunnel_ip: `192.0.2.${i + 1}` })),
    network: [{ id: 'ext', project_id: 'admin', admin_state_up: true, mtu: 1500, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': null, 'router:external': true }],
    subnet: [{ id: 'exts', network_id: 'ext', ip_version: 4, cidr: '172.29.0.0/16', gateway_ip: '172.29.0.1', enable_dhcp: true, dns_nameservers: [], host_routes: [] }],
    security_group: [{ id: 'sg', project_id: 'p' }],
    port: [], router: [], floatingip: [],
  };
  const routerPorts: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = `r${String(i).padStart(4, '0')}`;
    docs.network!.push({ id: `n${i}`, project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan', 'provider:physical_network': null, 'provider:segmentation_id': 1000 + i, 'router:external': false });
    docs.subnet!.push({ id: `s${i}`, network_id: `n${i}`, ip_version: 4, cidr: `10.40.${i}.0/24`, gateway_ip: `10.40.${i}.1`, enable_dhcp: true, dns_nameservers: [], host_routes: [] });
    docs.router!.push({ id: r, project_id: 'p', admin_state_up: true, routes: [], gateway_hosts: [OTHER, ME],
      external_gateway_info: { network_id: 'ext', enable_snat: true, external_fixed_ips: [{ subnet_id: 'exts', ip_address: `172.29.1.${i + 1}` }] } });
    docs.port!.push(port(`qr${i}`, `n${i}`, 'network:router_interface', r, OTHER, `s${i}`, `10.40.${i}.1`, 1, i));
    docs.port!.push(port(`qg${i}`, 'ext', 'network:router_gateway', r, OTHER, 'exts', `172.29.1.${i + 1}`, 2, i));
    docs.port!.push(port(`vm${i}`, `n${i}`, 'compute:nova', `vm${i}`, 'c1', `s${i}`, `10.40.${i}.5`, 3, i));
    docs.floatingip!.push({ id: `f${i}`, project_id: 'p', floating_network_id: 'ext', floating_ip_address: `172.29.2.${i + 1}`, router_id: r, port_id: `vm${i}`, fixed_ip_address: `10.40.${i}.5`, port_forwardings: [] });
    routerPorts.push(`qr${i}`, `qg${i}`);
  }
  return { docs, routerPorts };
}

interface Marks { legs?: number; flows?: number }

/** What the leg batch's process takes (the gateway-failover bench saw 0.26 s and more under load). */
const LEG_BATCH_MS = 100;

async function promotions(n: number, rounds: number) {
  let marks: Marks = {};
  const sink: FlowSink = {
    resync: async () => undefined,
    apply: async (c: FlowChanges) => { if (c.size) marks.flows ??= performance.now(); },
  };
  const host: HostConfig = { host: ME, tunnelIp: '192.0.2.2', bridgeMappings: { physnet1: 'br-ex' }, tunnelOfport: 60000, uplinks: { physnet1: 50000 } };
  const dataplane = new Dataplane(host, ALL_FEATURES, sink);
  const gate = new RevisionGate();
  dataplane.on('applied', (r) => gate.reached(r.revision));
  const none = async () => undefined;
  const ops: L3Ops = {
    ensure: none, applyRules: none, nft: none, releaseNft: () => undefined, remove: none, list: async () => [], conntrack: none, announce: none, announceMany: none,
    // `ip -batch` runs in another process: the agent's loop is free while it does (LEG_BATCH_MS).
    setLegs: async (changes: readonly LegChange[]) => {
      if (changes.some((c) => c.legs === 'active')) marks.legs ??= performance.now();
      await new Promise((resolve) => setTimeout(resolve, LEG_BATCH_MS));
    },
  };
  const l3 = new L3Manager({ host: ME, ops, retryMs: 0, aftermathDelayMs: 0, flowsApplied: (rev) => gate.wait(rev) });
  dataplane.on('model', (events, snapshot) => void l3.sync(dataplane.model, snapshot ? 'all' : routersTouched(dataplane.model, events)));
  const { docs, routerPorts } = routerDocs(n);
  let revision = 1;
  dataplane.snapshot(revision, docs as never);
  routerPorts.forEach((id, k) => dataplane.plugged(id, k + 1));
  await dataplane.idle();
  await l3.idle();
  const ports = new Map(docs.port!.map((p) => [p.id as string, p]));
  const routers = new Map(docs.router!.map((r) => [r.id as string, r]));
  const move = (to: string): ChangeEntry[] => [
    ...routerPorts.map((id) => ({ kind: 'port', id, op: 'update', doc: { ...ports.get(id)!, 'binding:host_id': to } })),
    ...[...routers.values()].map((r) => ({ kind: 'router', id: r.id as string, op: 'update', doc: { ...r, gateway_hosts: to === ME ? [ME, OTHER] : [OTHER, ME] } })),
  ] as ChangeEntry[];
  const legs: number[] = [];
  const flows: number[] = [];
  const done: number[] = [];
  const modelMs: number[] = [];
  const compileMs: number[] = [];
  for (let k = 0; k < rounds * 2; k++) {
    const to = k % 2 === 0 ? ME : OTHER;
    const entries = move(to);
    marks = {};
    const t0 = performance.now();
    dataplane.changes(++revision, entries);
    await dataplane.idle();
    await l3.idle();
    const t1 = performance.now();
    if (to !== ME) continue;
    const b = dataplane.lastBatch;
    modelMs.push(b.modelMs ?? 0);
    compileMs.push(b.compileMs);
    legs.push(marks.legs! - t0);
    flows.push(marks.flows! - t0);
    done.push(t1 - t0);
  }
  await l3.close();
  const ms = (xs: number[]) => ({ median: Math.round(median(xs) * 10) / 10, max: Math.round(Math.max(...xs) * 10) / 10 });
  console.log(JSON.stringify({ bench: 'promotion', routers: n, ports: routerPorts.length, rounds,
    legBatchStartMs: ms(legs), flowsToSwitchMs: ms(flows), allDoneMs: ms(done),
    breakdown: { modelMs: ms(modelMs), compileMs: ms(compileMs) }, legBatchTakesMs: LEG_BATCH_MS }));
}

export async function promotionBench(): Promise<void> {
  const sizes = (process.env.WEFT_BENCH_PROMOTION_ROUTERS ?? '1,100').split(',').map(Number);
  const rounds = Number(process.env.WEFT_BENCH_PROMOTION_ROUNDS ?? 20);
  await promotions(sizes[0]!, 3); // warm up the JIT
  for (const n of sizes) await promotions(n, rounds);
}
