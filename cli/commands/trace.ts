// weft trace PORT DST: asks the port's own switch (`ovs-appctl ofproto/trace` on br-int) what it
// would do with a packet from the port to DST, and prints the path with br-int's table names and
// the verdict, naming what each output port is (a VM's port, a tunnel to a host, a provider uplink).
// The packet: in_port = the port's ofport, its MAC and address as source, and as destination MAC
// the port that owns DST in the same network, else the MAC of the subnet's gateway (router) port.
import { runOut } from '../../agent/host/exec.ts';
import { isIpv4 } from '../../schemas/common.ts';
import { parseVsctlRows, vsctl } from '../../lab/vm.ts';
import { CliError, UsageError } from '../args.ts';
import { findPort, getSubnet, type Client, type Port } from '../client.ts';
import { checkSwitchReachable, switchTarget, type SwitchTarget } from '../config.ts';
import { emit, optFlag, optInt, optString, type CommandContext } from '../context.ts';
import { parseTrace, renderTrace, traceFlow, traceVerdict, type TracePacket, type Verdict } from '../trace-text.ts';

const BROADCAST = 'ff:ff:ff:ff:ff:ff';

interface Destination {
  mac: string;
  /** Why that MAC: the port owning DST, the gateway's router port, or nothing known. */
  via: string;
  /** Whom the MAC belongs to, e.g. "port web" or "the gateway 10.0.0.1" (broadcast: undefined). */
  target?: string;
}

/** dl_dst for a packet from `src` to `dst`: the owner's MAC on the same network, else the gateway's. */
async function destinationMac(c: Client, src: Port, srcSubnet: { gateway_ip: string | null }, dst: string): Promise<Destination> {
  const q = encodeURIComponent;
  const owners = (await c.get<{ ports: Port[] }>(`/v2.0/ports?network_id=${q(src.network_id)}&fixed_ips=${q(`ip_address=${dst}`)}`)).ports;
  const owner = owners.find((p) => p.fixed_ips.some((f) => f.ip_address === dst));
  if (owner) return { mac: owner.mac_address, via: `port ${owner.name || owner.id} owns ${dst}`, target: `port ${owner.name || owner.id}` };
  const gw = srcSubnet.gateway_ip;
  if (gw) {
    const gws = (await c.get<{ ports: Port[] }>(`/v2.0/ports?network_id=${q(src.network_id)}&fixed_ips=${q(`ip_address=${gw}`)}`)).ports;
    const router = gws.find((p) => p.fixed_ips.some((f) => f.ip_address === gw));
    if (router) return { mac: router.mac_address, via: `to the gateway ${gw} (port ${router.name || router.id}, ${router.device_owner || 'no owner'})`, target: `the gateway ${gw}` };
    return { mac: BROADCAST, via: `no port owns ${dst} and no router port has the gateway ${gw}: broadcast` };
  }
  return { mac: BROADCAST, via: `no port owns ${dst} and the subnet has no gateway: broadcast` };
}

interface SwitchPort {
  name: string;
  ofport: number;
  type: string;
  portId: string | undefined;
  vm: string | undefined;
  peer: string | undefined;
}

/** br-int's interfaces by OpenFlow port (other bridges' ports reuse the numbers). */
async function brIntPorts(sw: SwitchTarget): Promise<Map<number, SwitchPort>> {
  const names = new Set((await vsctl(sw, 'list-ifaces', 'br-int')).split('\n').filter(Boolean));
  const rows = parseVsctlRows(await vsctl(sw, '--format=json', '--columns=name,ofport,type,options,external_ids', 'list', 'interface'));
  const out = new Map<number, SwitchPort>();
  for (const r of rows) {
    const name = String(r.name);
    const ofport = typeof r.ofport === 'number' ? r.ofport : -1;
    if (!names.has(name) || ofport < 0) continue;
    const ids = (r.external_ids ?? {}) as Record<string, string>;
    const options = (r.options ?? {}) as Record<string, string>;
    out.set(ofport, { name, ofport, type: String(r.type ?? ''), portId: ids['iface-id'], vm: ids['vm-id'], peer: options.peer });
  }
  return out;
}

interface OutputDescription {
  ofport: number;
  interface: string | null;
  kind: 'port' | 'tunnel' | 'patch' | 'other';
  port_id?: string;
  port_name?: string;
  vm?: string;
  tunnel_to?: string;
  host?: string;
  text: string;
}

async function describeOutputs(c: Client, ports: Map<number, SwitchPort>, v: Extract<Verdict, { kind: 'output' }>, dst: Destination): Promise<OutputDescription[]> {
  const agents = (await c.get<{ agents: Array<{ host: string; configurations?: { tunneling_ip?: string | null } }> }>('/v2.0/agents')).agents;
  return Promise.all(v.outputs.map(async (o): Promise<OutputDescription> => {
    const sp = ports.get(o.ofport);
    if (!sp) return { ofport: o.ofport, interface: null, kind: 'other', text: `OpenFlow port ${o.ofport} (not an interface of br-int)` };
    if (sp.type === 'vxlan' || o.tunnelTo) {
      const host = agents.find((a) => a.configurations?.tunneling_ip === o.tunnelTo)?.host;
      return {
        ofport: o.ofport, interface: sp.name, kind: 'tunnel', ...(o.tunnelTo ? { tunnel_to: o.tunnelTo } : {}), ...(host ? { host } : {}),
        text: `${sp.name} (ofport ${o.ofport}): VXLAN tunnel to ${o.tunnelTo ?? '?'}${host ? ` (host ${host})` : ''}${dst.target ? `, towards ${dst.target}` : ''}`,
      };
    }
    if (sp.type === 'patch') return { ofport: o.ofport, interface: sp.name, kind: 'patch', text: `${sp.name} (ofport ${o.ofport}): patch to ${sp.peer ?? '?'} (provider uplink)` };
    if (sp.portId) {
      const p = await c.get<{ port: Port }>(`/v2.0/ports/${sp.portId}`).then((b) => b.port, () => undefined);
      const label = p ? `port ${p.name ? `${p.name} (${p.id})` : p.id}${p.device_owner ? `, ${p.device_owner}` : ''}` : `port ${sp.portId} (unknown to the API)`;
      return {
        ofport: o.ofport, interface: sp.name, kind: 'port', port_id: sp.portId, ...(p?.name ? { port_name: p.name } : {}), ...(sp.vm ? { vm: sp.vm } : {}),
        text: `${sp.name} (ofport ${o.ofport}): ${label}${sp.vm ? `, VM namespace ${sp.vm}` : ''}`,
      };
    }
    return { ofport: o.ofport, interface: sp.name, kind: 'other', text: `${sp.name} (ofport ${o.ofport})` };
  }));
}

export async function traceCommand(ctx: CommandContext): Promise<void> {
  const proto = (optString(ctx, 'proto') ?? 'icmp') as TracePacket['proto'];
  if (proto === 'icmp' && (optInt(ctx, 'dport') !== undefined || optInt(ctx, 'sport') !== undefined)) throw new UsageError('--dport and --sport need --proto tcp or udp');
  const sw = switchTarget(ctx.options, ctx.env);
  checkSwitchReachable(sw);
  const c = ctx.client();
  const src = await findPort(c, ctx.args.PORT!);
  // DST: an address, or a port (its first address).
  let dst = ctx.args.DST!;
  if (!isIpv4(dst) && !dst.includes(':')) dst = (await findPort(c, dst)).fixed_ips[0]?.ip_address ?? '';
  if (!dst) throw new CliError(`port ${ctx.args.DST} has no address`);
  const v6 = dst.includes(':');
  const srcIp = src.fixed_ips.find((f) => f.ip_address.includes(':') === v6);
  if (!srcIp) throw new CliError(`port ${src.name || src.id} has no IPv${v6 ? 6 : 4} address to send from`);
  const ports = await brIntPorts(sw);
  const mine = [...ports.values()].find((p) => p.portId === src.id);
  if (!mine) {
    throw new CliError(`port ${src.name || src.id} is not plugged into the switch at ${sw.ovsdb} (it is bound to host ${src['binding:host_id'] || '(none)'}): trace on that host's switch (--ovsdb, WEFT_RUN_DIR or --lab-host)`);
  }
  const dest = await destinationMac(c, src, await getSubnet(c, srcIp.subnet_id), dst);
  const packet: TracePacket = { inPort: mine.ofport, srcMac: src.mac_address, dstMac: dest.mac, src: srcIp.ip_address, dst, proto };
  if (optInt(ctx, 'dport') !== undefined) packet.dport = optInt(ctx, 'dport')!;
  if (optInt(ctx, 'sport') !== undefined) packet.sport = optInt(ctx, 'sport')!;
  const flow = traceFlow(packet);
  const raw = await runOut('ovs-appctl', ['-t', sw.appctl.target, 'ofproto/trace', 'br-int', flow], sw.appctl.rundir ? { env: { OVS_RUNDIR: sw.appctl.rundir } } : {})
    .catch((e: Error) => Promise.reject(new CliError(`ofproto/trace on the switch at ${sw.ovsdb} failed: ${e.message}`)));
  const sections = parseTrace(raw);
  const verdict = traceVerdict(sections);
  const outputs = verdict.kind === 'output' ? await describeOutputs(c, ports, verdict, dest) : [];
  const verdictText = verdict.kind === 'drop'
    ? `DROP in table ${verdict.table ?? '?'}: ${verdict.reason}`
    : verdict.kind === 'controller' ? 'sent to the agent (packet-in to the controller connection)' : outputs.map((o) => `OUTPUT to ${o.text}`).join('\n         ');
  const what = `${proto}${packet.dport ? ` dport ${packet.dport}` : ''} ${srcIp.ip_address} -> ${dst}`;
  emit(ctx, { flow, destination: dest, verdict: { ...verdict, ...(outputs.length ? { outputs } : {}) }, path: renderTrace(sections), ...(optFlag(ctx, 'raw') ? { raw } : {}) }, () => [
    `trace ${what} from port ${src.name || src.id} (${mine.name}, ofport ${mine.ofport}); dl_dst ${dest.mac}: ${dest.via}`,
    `flow: ${flow}`,
    '',
    ...renderTrace(sections),
    '',
    `verdict: ${verdictText}`,
    ...(optFlag(ctx, 'raw') ? ['', '--- ofproto/trace', raw] : []),
  ].join('\n'));
}
