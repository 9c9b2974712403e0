// weft plug PORT / weft unplug PORT|NAME: a VM namespace for a Neutron port on a switch of this
// machine, made by lab/vm.ts exactly as the tests make theirs. plug binds the port to the host if
// asked (as Nova does), reads its MAC, addresses, subnets' gateways and network MTU from the API,
// plugs, optionally runs DHCP in the VM, and waits until the port is ACTIVE.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../agent/host/exec.ts';
import { netnsExists } from '../../agent/host/netns.ts';
import { listVmInterfaces, ofportOf, plugVm, unplugVm, type FoundVm } from '../../lab/vm.ts';
import { CliError } from '../args.ts';
import { findPort, getSubnet, type Client, type Port } from '../client.ts';
import { checkSwitchReachable, switchTarget, type SwitchTarget } from '../config.ts';
import { emit, optFlag, optInt, optString, type CommandContext } from '../context.ts';

const UDHCPC_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../lab/udhcpc.sh');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Addressing {
  ip?: string;
  gateway?: string;
  ip6?: string;
  gateway6?: string;
  mtu: number | undefined;
}

/** The port's first IPv4 and first IPv6 address with their subnets' prefix lengths and gateways, and the network's MTU. */
async function addressing(c: Client, port: Port): Promise<Addressing> {
  const out: Addressing = { mtu: undefined };
  for (const f of port.fixed_ips) {
    const s = await getSubnet(c, f.subnet_id);
    const cidr = `${f.ip_address}/${s.cidr.split('/')[1]}`;
    if (s.ip_version === 4 && !out.ip) Object.assign(out, { ip: cidr }, s.gateway_ip ? { gateway: s.gateway_ip } : {});
    if (s.ip_version === 6 && !out.ip6) Object.assign(out, { ip6: cidr }, s.gateway_ip ? { gateway6: s.gateway_ip } : {});
  }
  const { network } = await c.get<{ network: { mtu?: number } }>(`/v2.0/networks/${port.network_id}`);
  out.mtu = network.mtu;
  return out;
}

async function bindIfAsked(ctx: CommandContext, sw: SwitchTarget, port: Port): Promise<Port> {
  const host = optString(ctx, 'host') ?? sw.host;
  const bound = port['binding:host_id'] || undefined;
  if (!host && !bound && sw.unboundHost) return bindTo(ctx, port, sw.unboundHost);
  if (!host) {
    if (!bound) throw new CliError(`port ${port.id} is not bound to a host, so no agent would wire it: pass --host HOST (the agent's WEFT_HOST)`);
    return port;
  }
  if (bound === host) return port;
  return bindTo(ctx, port, host);
}

async function bindTo(ctx: CommandContext, port: Port, host: string): Promise<Port> {
  const bound = port['binding:host_id'] || undefined;
  ctx.progress(`binding port ${port.id} to host ${host}${bound ? ` (was ${bound})` : ''}`);
  const { body } = await ctx.client().request<{ port: Port }>('PUT', `/v2.0/ports/${port.id}`, { port: { 'binding:host_id': host } });
  return body.port;
}

async function waitActive(ctx: CommandContext, portId: string, timeoutS: number): Promise<string> {
  ctx.progress(`waiting for port ${portId} to go ACTIVE (up to ${timeoutS} s)`);
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const { port } = await ctx.client().get<{ port: Port }>(`/v2.0/ports/${portId}`);
    if (port.status === 'ACTIVE') return port.status;
    if (Date.now() > deadline) {
      throw new CliError(`port ${portId} is plugged but still ${port.status} after ${timeoutS} s: is the agent of host ${port['binding:host_id'] || '(none)'} running and connected? (weft status)`);
    }
    await sleep(200);
  }
}

export async function plugCommand(ctx: CommandContext): Promise<void> {
  const sw = switchTarget(ctx.options, ctx.env);
  checkSwitchReachable(sw);
  const c = ctx.client();
  let port = await findPort(c, ctx.args.PORT!);
  const existing = (await listVmInterfaces(sw)).find((v) => v.portId === port.id);
  if (existing) throw new CliError(`port ${port.id} is plugged already (${existing.tap}${existing.netns ? `, namespace ${existing.netns}` : ''})`);
  port = await bindIfAsked(ctx, sw, port);
  const dhcp = optFlag(ctx, 'dhcp');
  const a = await addressing(c, port);
  const short = port.id.slice(0, 8);
  const netns = optString(ctx, 'name') ?? (sw.lab ? `${sw.lab.state.prefix}-vm-${short}` : `vm-${short}`);
  if (netnsExists(netns)) throw new CliError(`a network namespace named ${netns} exists already: choose another --name`);
  ctx.progress(`plugging port ${port.name || port.id} into br-int at ${sw.ovsdb} as namespace ${netns}`);
  const vm = await plugVm(sw, {
    netns, portId: port.id, mac: port.mac_address,
    ...(a.mtu ? { mtu: a.mtu } : {}),
    ...(dhcp ? {} : { ...(a.ip ? { ip: a.ip } : {}), ...(a.gateway ? { gateway: a.gateway } : {}), ...(a.ip6 ? { ip6: a.ip6 } : {}), ...(a.gateway6 ? { gateway6: a.gateway6 } : {}) }),
  });
  const ofport = await ofportOf(sw, vm.tap).catch(() => undefined);
  let status = port.status;
  if (!optFlag(ctx, 'no-wait')) status = await waitActive(ctx, port.id, optInt(ctx, 'timeout') ?? 30);
  let leased: string | undefined;
  if (dhcp) {
    ctx.progress(`asking for an address by DHCP in ${netns}`);
    const r = await run('ip', ['netns', 'exec', netns, 'busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '5', '-T', '1', '-A', '1', '-s', UDHCPC_SCRIPT], { allowFail: true, timeoutMs: 20_000 });
    if (r.code !== 0) throw new CliError(`DHCP in ${netns} got no lease (busybox udhcpc: ${(r.stderr || r.stdout).trim().split('\n').pop()}); the VM stays plugged: weft unplug ${netns}`);
    leased = (await run('ip', ['-n', netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout.match(/inet (\S+)/)?.[1];
  }
  const result = {
    port_id: port.id, port_name: port.name, netns: vm.netns, tap: vm.tap, ofport: ofport ?? null, mac: vm.mac,
    ip: leased ?? a.ip ?? null, gateway: dhcp ? null : (a.gateway ?? null), ip6: dhcp ? null : (a.ip6 ?? null), mtu: a.mtu ?? null,
    host: port['binding:host_id'] || null, status, dhcp,
  };
  emit(ctx, result, () => [
    `plugged port ${port.name ? `${port.name} (${port.id})` : port.id} into namespace ${vm.netns}: eth0 ${vm.mac}` +
      `${result.ip ? ` ${result.ip}` : ''}${result.ip6 ? ` ${result.ip6}` : ''}${result.gateway ? ` via ${result.gateway}` : ''}${dhcp ? ' (DHCP)' : ''}`,
    `switch port ${vm.tap} (ofport ${ofport ?? '?'}) on br-int, host ${result.host ?? '-'}, port status ${status}`,
    `try: ip netns exec ${vm.netns} ping -c1 <address>; remove: weft unplug ${vm.netns}`,
  ].join('\n'));
}

/** The VM of ARG on the switch: by namespace name or port id, else ARG is a port name or id for the API. */
async function findPlugged(ctx: CommandContext, sw: SwitchTarget, arg: string): Promise<FoundVm> {
  const found = await listVmInterfaces(sw);
  const local = found.find((v) => v.netns === arg || v.portId === arg);
  if (local) return local;
  let portId: string;
  try {
    portId = (await findPort(ctx.client(), arg)).id;
  } catch (e) {
    throw new CliError(`nothing named '${arg}' is plugged into the switch at ${sw.ovsdb}, and the API says: ${(e as Error).message}`);
  }
  const byPort = found.find((v) => v.portId === portId);
  if (!byPort) throw new CliError(`port ${portId} is not plugged into the switch at ${sw.ovsdb}`);
  return byPort;
}

export async function unplugCommand(ctx: CommandContext): Promise<void> {
  const sw = switchTarget(ctx.options, ctx.env);
  checkSwitchReachable(sw);
  const vm = await findPlugged(ctx, sw, ctx.args['PORT|NAME']!);
  if (!vm.netns) throw new CliError(`${vm.tap} (port ${vm.portId}) was not plugged by weft plug (no external_ids:vm-id): leaving it alone`);
  await unplugVm(sw, { netns: vm.netns, tap: vm.tap });
  emit(ctx, { port_id: vm.portId, netns: vm.netns, tap: vm.tap }, () => `unplugged port ${vm.portId}: removed ${vm.tap} from br-int and namespace ${vm.netns}`);
}
