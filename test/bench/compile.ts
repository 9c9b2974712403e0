import { DesiredFlows, type CompileState, type HostConfig } from '../../agent/features/engine.ts';
import { ALL_FEATURES } from '../../agent/features/index.ts';
import { HostModel, type ModelEvent } from '../../agent/model/host-model.ts';
import { median, percentile } from './stats.ts';

// Compile figures for one host: a full compile of a big deployment, and what one change costs
// at that size and at a tenth of it (it must not grow with the deployment).

const HOSTS = 10;
const ME = 'h0';

interface Size { ports: number; rules: number }

function build(size: Size) {
  const model = new HostModel(ME);
  const bindings = new Map<string, number>();
  const host: HostConfig = { host: ME, tunnelIp: '192.0.2.100', bridgeMappings: {}, tunnelOfport: 60000, uplinks: {} };
  const state: CompileState = { model, host, bindings };
  const networks = Math.max(1, size.ports / 100);
  const groups = Math.max(1, size.rules / 10);
  for (let h = 0; h < HOSTS; h++) model.apply('agent', `a${h}`, { id: `a${h}`, host: `h${h}`, tunnel_ip: `192.0.2.${100 + h}` });
  for (let n = 0; n < networks; n++) {
    model.apply('network', `n${n}`, {
      id: `n${n}`, project_id: 'p', admin_state_up: true, mtu: 1450, 'provider:network_type': 'vxlan',
      'provider:physical_network': null, 'provider:segmentation_id': 1000 + n, 'router:external': false,
    });
  }
  for (let g = 0; g < groups; g++) {
    model.apply('security_group', `g${g}`, { id: `g${g}`, project_id: 'p' });
    for (let r = 0; r < 10; r++) addRule(model, `g${g}`, `r${g}-${r}`, r, g);
  }
  let ofport = 1;
  for (let i = 0; i < size.ports; i++) {
    const hostOf = `h${i % HOSTS}`;
    model.apply('port', `p${i}`, portDoc(i, `n${Math.floor(i / 100) % networks}`, hostOf, `g${i % groups}`));
    if (hostOf === ME) bindings.set(`p${i}`, ofport++);
  }
  return { model, bindings, state, nextOfport: ofport, groups };
}

function portDoc(i: number, network: string, host: string, group: string) {
  const mac = `fa:16:3e:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  return {
    id: `p${i}`, network_id: network, admin_state_up: true, mac_address: mac,
    fixed_ips: [{ subnet_id: 's', ip_address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }], allowed_address_pairs: [],
    port_security_enabled: true, security_groups: [group], device_owner: 'compute:nova', device_id: `vm${i}`, 'binding:host_id': host,
  };
}

/** A mix like real groups: egress any, ingress from the group itself, tcp ports, a port range, icmp, a CIDR. */
function addRule(model: HostModel, group: string, id: string, kind: number, g: number): ModelEvent | undefined {
  const base = { id, security_group_id: group, ethertype: 'IPv4', protocol: null, port_range_min: null, port_range_max: null, normalized_cidr: null, remote_group_id: null };
  const variants: Record<string, unknown>[] = [
    { direction: 'egress' },
    { direction: 'egress', ethertype: 'IPv6' },
    { direction: 'ingress', remote_group_id: group },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, normalized_cidr: '10.0.0.0/8' },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443, remote_group_id: `g${(g + 1) % 10}` },
    { direction: 'ingress', protocol: 'udp', port_range_min: 8000, port_range_max: 8999 },
    { direction: 'ingress', protocol: 'icmp', port_range_min: 8, port_range_max: 0 },
    { direction: 'ingress', protocol: '112' },
    { direction: 'ingress', protocol: 'tcp', port_range_min: 3306, port_range_max: 3306, normalized_cidr: `172.16.${g % 256}.0/24` },
  ];
  return model.apply('security_group_rule', id, { ...base, ...variants[kind % variants.length] });
}

const p99 = (xs: number[]) => percentile(xs, 99);

function measure(size: Size, print: boolean) {
  const world = build(size);
  const engine = new DesiredFlows(ALL_FEATURES);
  const t0 = performance.now();
  engine.full(world.state);
  const fullMs = performance.now() - t0;
  engine.takeChanges();
  const local = world.bindings.size;
  if (print) {
    const byTable = new Map<string, number>();
    for (const f of engine.flows()) byTable.set(f.table, (byTable.get(f.table) ?? 0) + 1);
    console.log(`compile: ${size.ports} ports deployment-wide, ${local} local, ${size.rules} rules: full compile ${fullMs.toFixed(0)} ms, ${engine.size} flows`);
    console.log(`compile: flows per local port ${(engine.size / local).toFixed(2)}; per port in this host's view ${(engine.size / world.model.count('port')).toFixed(2)}`);
    console.log(`compile: by table ${[...byTable].map(([t, n]) => `${t}=${n}`).join(', ')}`);
  }
  const portAdd: number[] = [];
  const ruleAdd: number[] = [];
  const portDel: number[] = [];
  for (let i = 0; i < 200; i++) {
    const idx = size.ports + i;
    const t = performance.now();
    const e1 = world.model.apply('port', `p${idx}`, portDoc(idx, 'n0', ME, `g${i % world.groups}`))!;
    const ofport = world.nextOfport++;
    world.bindings.set(`p${idx}`, ofport);
    engine.update(world.state, [e1, { type: 'binding', portId: `p${idx}`, prev: undefined, next: ofport }]);
    engine.takeChanges();
    portAdd.push(performance.now() - t);

    const t2 = performance.now();
    const e2 = addRule(world.model, `g${i % world.groups}`, `extra${i}`, i, i)!;
    engine.update(world.state, [e2]);
    engine.takeChanges();
    ruleAdd.push(performance.now() - t2);
  }
  for (let i = 0; i < 200; i++) {
    const idx = size.ports + i;
    const t = performance.now();
    world.bindings.delete(`p${idx}`);
    const e = world.model.apply('port', `p${idx}`, null)!;
    engine.update(world.state, [{ type: 'binding', portId: `p${idx}`, prev: 1, next: undefined }, e]);
    engine.takeChanges();
    portDel.push(performance.now() - t);
  }
  return { portAdd, ruleAdd, portDel };
}

export function compileBench(): void {
  const big = { ports: 10_000, rules: 5_000 };
  const small = { ports: 1_000, rules: 500 };
  measure(small, false); // warm up the JIT
  const s = measure(small, false);
  const b = measure(big, true);
  const row = (name: string, xs: number[], ys: number[]) =>
    console.log(`compile: one ${name}: median ${median(ys).toFixed(2)} ms (p99 ${p99(ys).toFixed(2)}) at ${big.ports} ports; median ${median(xs).toFixed(2)} ms at ${small.ports} ports`);
  row('local port add (create + plug)', s.portAdd, b.portAdd);
  row('rule add', s.ruleAdd, b.ruleAdd);
  row('local port delete', s.portDel, b.portDel);
}
