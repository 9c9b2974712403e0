// Router namespaces for the L3 part of the agent. Each virtual router is a network namespace
// `qrouter-<router id>` on the gateway host, with one interface per attached subnet (`qr-...`) and
// one on the external network (`qg-...`).
//
// Plumbing: a veth pair per router port, NOT an OVS internal port moved into the namespace.
// Checked on this machine (userspace datapath, datapath_type=netdev): an internal port moved with
// `ip link set X netns R` does pass packets at first (ovs-vswitchd keeps the tap's file descriptor),
// but as soon as ovs-vswitchd restarts the tap in the router namespace is orphaned (NO-CARRIER) and
// ovs-vswitchd creates a fresh, unconnected tap with the same name in its own namespace: the router
// is cut off for good. A veth pair survives restarts because OVS opens the host-side end by name
// in its own namespace, which is exactly how the lab plugs VMs.
//
//   host netns (where ovs-vswitchd runs)           router netns qrouter-<id>
//   br-int port  tr-<11 chars of port id>  <-veth->  qr-.../qg-...  (MAC, addresses, MTU)
//
// The host-side name is `tr-` + the first 11 characters of the router port's id (14 bytes, within
// IFNAMSIZ; unique per host as long as port ids differ in their first 11 characters, the same
// assumption Neutron makes for tap/qr/qg names). Its OVS Interface carries external_ids
// iface-id=<port id>, attached-mac=<MAC>, iface-status=active (so br-int's flows treat it like any
// local port) plus weft-router=<router id> and weft-router-if=<name inside the namespace>, which
// is how stale ports are found again after a restart.
//
// Callers must serialise calls for the same router (the L3 agent works router by router).
import { run } from '../host/exec.ts';
import { checkIfName, checkNetnsName, createNetns, createVethPair, deleteLink, deleteNetns, ip, listNetns, netnsExists } from '../host/netns.ts';
import type { OvsdbConnection } from '../ovsdb/connection.ts';
import { mapToRecord, recordToMap } from '../ovsdb/datum.ts';
import { op } from '../ovsdb/ops.ts';
import { VSWITCH_DB } from '../ovsdb/open-vswitch.ts';
import { deletePort, ensurePort, type PortWriteOptions } from '../ovsdb/port.ts';
import { intToIpv4, ipv4ToInt, isIpv4 } from '../net/ipv4.ts';

export const ROUTER_NAMESPACE_PREFIX = 'qrouter-';
export const DEFAULT_ROUTER_BRIDGE = 'br-int';
/** external_ids key on the Interface rows of router ports: the router's id. */
export const ROUTER_ID_KEY = 'weft-router';
/** external_ids key: the interface name inside the router namespace. */
export const ROUTER_IF_KEY = 'weft-router-if';
/** Interfaces in a router namespace whose names start like this belong to us (stale ones are removed). */
const MANAGED_IF = /^(qr|qg)-/;

export interface RouterInterfaceSpec {
  /** The router port's id (Neutron port id). */
  portId: string;
  /** Name inside the namespace: 'qr-' + portId.slice(0, 11) or 'qg-' + portId.slice(0, 11). */
  name: string;
  mac: string;
  /** CIDR form, e.g. '10.0.0.1/24'. */
  addresses: string[];
  mtu?: number;
}

export interface RouterSpec {
  routerId: string;
  interfaces: RouterInterfaceSpec[];
  gateway?: RouterInterfaceSpec & { /** The external subnet's gateway: becomes the default route. */ defaultGateway?: string };
  /** Extra routes (Neutron router `routes`). */
  routes: { destination: string; nexthop: string }[];
}

export interface RouterNamespaceOptions {
  /** Integration bridge that carries the router ports. Default 'br-int'. */
  bridge?: string;
  /** Namespace name prefix. Default 'qrouter-' (tests pass a per-run prefix). */
  namespacePrefix?: string;
  /** Namespace in which ovs-vswitchd runs and the host-side veth ends live. Default: our own. */
  hostNetns?: string;
  /** Passed to the OVSDB writes (wait for ovs-vswitchd, timeout). */
  portWrite?: PortWriteOptions;
}

/**
 * The state of a router's legs: 'active' (host-side veth ends up: the router answers) or
 * 'silent' (host-side ends down: a standby HA router, or a fenced one, built in full but sending
 * and answering nothing; see setRouterLegs).
 */
export type LegState = 'active' | 'silent';

/** Name of the router's namespace: `<prefix><router id>` (prefix default 'qrouter-'). */
export function routerNamespaceName(routerId: string, prefix = ROUTER_NAMESPACE_PREFIX): string {
  return checkNetnsName(`${prefix}${routerId}`);
}

/** Conventional names inside the namespace for a router port. */
export function routerInterfaceName(kind: 'qr' | 'qg', portId: string): string {
  return `${kind}-${portId.slice(0, 11)}`;
}

/** Host-side veth end (the br-int port) of a router port: 'tr-' + the first 11 characters of its id. */
export function hostVethName(portId: string): string {
  return checkIfName(`tr-${portId.slice(0, 11)}`);
}

/** Router ids that have a namespace (for reconciling after an agent restart). */
export async function listRouterNamespaces(opts: { namespacePrefix?: string } = {}): Promise<string[]> {
  const prefix = opts.namespacePrefix ?? ROUTER_NAMESPACE_PREFIX;
  return (await listNetns(prefix)).map((n) => n.slice(prefix.length)).filter((id) => id.length > 0).sort();
}

// ---------------------------------------------------------------------------------------------
// iproute2 JSON views

interface IpLink {
  ifindex: number;
  ifname: string;
  /** Peer's ifindex (veth), in the peer's namespace. */
  link_index?: number;
  flags?: string[];
  mtu?: number;
  address?: string;
  linkinfo?: { info_kind?: string };
}

interface IpAddr {
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

async function ipJson<T>(ns: string | undefined, args: string[]): Promise<T[] | undefined> {
  const r = await ip(ns, ['-j', ...args], { allowFail: true });
  if (r.code !== 0) return undefined;
  const text = r.stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

async function getLink(ns: string | undefined, name: string): Promise<IpLink | undefined> {
  return (await ipJson<IpLink>(ns, ['-d', 'link', 'show', 'dev', name]))?.[0];
}

// ---------------------------------------------------------------------------------------------
// Address and route normalisation

const isV6 = (a: string) => a.includes(':');

const ipv4Value = (a: string): number | undefined => (isIpv4(a) ? ipv4ToInt(a) : undefined);


/** Canonical network prefix: '10.1.0.5/24' -> '10.1.0.0/24', 'default' -> '0.0.0.0/0', a bare host gets /32 (/128). */
export function canonicalPrefix(dst: string, v6Hint = false): string {
  if (dst === 'default') return v6Hint ? '::/0' : '0.0.0.0/0';
  const [addr = '', len] = dst.split('/');
  if (isV6(addr)) return `${addr.toLowerCase()}/${len ?? 128}`;
  const n = ipv4Value(addr);
  const bits = len === undefined ? 32 : Number(len);
  if (n === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`invalid route destination '${dst}'`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return `${intToIpv4((n & mask) >>> 0)}/${bits}`;
}

function checkCidr(cidr: string): string {
  const [addr = '', len] = cidr.split('/');
  if (len === undefined || !/^\d{1,3}$/.test(len)) throw new Error(`address '${cidr}' must be in CIDR form`);
  if (isV6(addr) ? Number(len) > 128 : ipv4Value(addr) === undefined || Number(len) > 32) throw new Error(`invalid address '${cidr}'`);
  return isV6(addr) ? `${addr.toLowerCase()}/${len}` : cidr;
}

// ---------------------------------------------------------------------------------------------

interface WantedIf extends RouterInterfaceSpec {
  hostName: string;
}

function wantedInterfaces(spec: RouterSpec): WantedIf[] {
  const all = [...spec.interfaces, ...(spec.gateway ? [spec.gateway] : [])];
  const names = new Set<string>();
  const hosts = new Set<string>();
  return all.map((i) => {
    checkIfName(i.name);
    if (!MANAGED_IF.test(i.name)) throw new Error(`router interface name '${i.name}' must start with qr- or qg-`);
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(i.mac)) throw new Error(`invalid MAC '${i.mac}' for ${i.name}`);
    const hostName = hostVethName(i.portId);
    if (names.has(i.name)) throw new Error(`router ${spec.routerId}: interface name ${i.name} used twice`);
    if (hosts.has(hostName)) throw new Error(`router ${spec.routerId}: two ports share the host-side name ${hostName}`);
    names.add(i.name);
    hosts.add(hostName);
    return { ...i, mac: i.mac.toLowerCase(), addresses: i.addresses.map(checkCidr), hostName };
  });
}

/** Interface rows (name, external_ids) of this router's ports. */
async function routerOvsInterfaces(conn: OvsdbConnection, routerId: string): Promise<{ name: string; ids: Record<string, string> }[]> {
  const [r] = await conn.transact(VSWITCH_DB, [
    op.select('Interface', [['external_ids', 'includes', recordToMap({ [ROUTER_ID_KEY]: routerId })]], ['name', 'external_ids']),
  ]);
  return (r?.rows ?? []).map((row) => ({ name: String(row.name), ids: mapToRecord(row.external_ids) }));
}

async function ensureInterface(ns: string, hostNs: string | undefined, w: WantedIf, legs: LegState): Promise<void> {
  let inside = await getLink(ns, w.name);
  let host = await getLink(hostNs, w.hostName);
  const paired =
    inside !== undefined &&
    host !== undefined &&
    inside.linkinfo?.info_kind === 'veth' &&
    host.linkinfo?.info_kind === 'veth' &&
    inside.link_index === host.ifindex &&
    host.link_index === inside.ifindex;
  if (!paired) {
    if (inside) await deleteLink(ns, w.name);
    if (host) await deleteLink(hostNs, w.hostName);
    await createVethPair({
      ...(hostNs ? { ns: hostNs } : {}),
      name: w.hostName,
      peerNs: ns,
      peerName: w.name,
      peerMac: w.mac,
      ...(w.mtu ? { mtu: w.mtu } : {}),
      up: false,
    });
    // ENVIRONMENT pitfall 2: frames leaving a namespace through a veth into OVS's userspace datapath
    // keep a partial checksum unless TX offload is off on the sending end.
    await run('ip', ['netns', 'exec', ns, 'ethtool', '-K', w.name, 'tx', 'off']);
    // The host-side end is a bare switch port: no IPv6 (no router solicitations or DAD from the host).
    const sysctl = ['sysctl', '-qw', `net.ipv6.conf.${w.hostName}.disable_ipv6=1`];
    await (hostNs ? run('ip', ['netns', 'exec', hostNs, ...sysctl], { allowFail: true }) : run(sysctl[0]!, sysctl.slice(1), { allowFail: true }));
    inside = await getLink(ns, w.name);
    host = await getLink(hostNs, w.hostName);
  }
  if (!inside || !host) throw new Error(`veth ${w.hostName}/${w.name} vanished right after it was created`);
  if (inside.address?.toLowerCase() !== w.mac) await ip(ns, ['link', 'set', 'dev', w.name, 'address', w.mac]);
  if (w.mtu !== undefined) {
    if (host.mtu !== w.mtu) await ip(hostNs, ['link', 'set', 'dev', w.hostName, 'mtu', String(w.mtu)]);
    if (inside.mtu !== w.mtu) await ip(ns, ['link', 'set', 'dev', w.name, 'mtu', String(w.mtu)]);
  }
  // A leg with no IPv6 address has no IPv6 at all: no link-local address, no DAD, no MLD report
  // or router solicitation with the router's MAC when it comes up (those made the external switch
  // learn the MAC on a standby gateway host, pulling an HA router's traffic to it).
  const v6 = w.addresses.some(isV6) ? '0' : '1';
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${w.name}.disable_ipv6=${v6}`], { allowFail: true });
  const hostUp = host.flags?.includes('UP') ?? false;
  if (legs === 'active' && !hostUp) await ip(hostNs, ['link', 'set', 'dev', w.hostName, 'up'], { diesWithAgent: true });
  if (legs === 'silent' && hostUp) await ip(hostNs, ['link', 'set', 'dev', w.hostName, 'down']);
  if (!inside.flags?.includes('UP')) await ip(ns, ['link', 'set', 'dev', w.name, 'up']);

  await syncLegAddresses(ns, w.name, w.addresses);
}

/**
 * A leg's addresses, exactly `addresses` (IPv6 link-local addresses are the kernel's and stay). A
 * gateway leg carries a /32 per floating IP, thousands on a busy router: one process for all the
 * removals (-force: one already gone does not stop the others), one for all the additions.
 */
async function syncLegAddresses(ns: string, iface: string, addresses: readonly string[]): Promise<void> {
  const cur = (await ipJson<IpAddr>(ns, ['addr', 'show', 'dev', iface]))?.[0]?.addr_info ?? [];
  const wanted = new Set(addresses);
  const have = new Set<string>();
  const remove: string[] = [];
  for (const a of cur) {
    if (a.family !== 'inet' && a.family !== 'inet6') continue;
    if (a.family === 'inet6' && a.scope === 'link') continue;
    const cidr = `${a.family === 'inet6' ? a.local.toLowerCase() : a.local}/${a.prefixlen}`;
    if (wanted.has(cidr)) have.add(cidr);
    else remove.push(`addr del ${cidr} dev ${iface}`);
  }
  if (remove.length) await ip(ns, ['-force', '-batch', '-'], { input: `${remove.join('\n')}\n`, allowFail: true });
  const add = addresses.filter((cidr) => !have.has(cidr)).map((cidr) => `addr replace ${cidr} dev ${iface}${isV6(cidr) ? ' nodad' : ''}`);
  if (add.length) await ip(ns, ['-batch', '-'], { input: `${add.join('\n')}\n` });
}

/**
 * The addresses of a built router's gateway leg, and nothing else: a floating IP that appears or
 * goes changes only its /32 there, which a whole ensureRouterNamespace (a dozen processes) would redo.
 */
export async function setGatewayAddresses(spec: RouterSpec, opts: RouterNamespaceOptions = {}): Promise<void> {
  if (!spec.gateway) return;
  const [gateway] = wantedInterfaces({ ...spec, interfaces: [] });
  await syncLegAddresses(routerNamespaceName(spec.routerId, opts.namespacePrefix), gateway!.name, gateway!.addresses);
}

/** A stale router port: its OVS port, its host-side veth end (and so the whole pair). */
async function removeHostSide(conn: OvsdbConnection, bridge: string, hostNs: string | undefined, hostName: string, pw: PortWriteOptions) {
  await deletePort(conn, bridge, hostName, pw);
  await deleteLink(hostNs, hostName);
}

/**
 * Makes the router's namespace match `spec`. Idempotent: creates what is missing, fixes MACs, MTUs,
 * addresses and routes, and removes interfaces (with their OVS ports) that are no longer in the spec.
 * Also sets ip_forward=1 (IPv4 and IPv6) and brings lo up. Routes that the kernel refuses (e.g. a
 * nexthop on no connected subnet) do not stop the rest: they are reported together at the end.
 */
export async function ensureRouterNamespace(conn: OvsdbConnection, spec: RouterSpec, opts: RouterNamespaceOptions = {}, legs: LegState = 'active'): Promise<void> {
  const bridge = opts.bridge ?? DEFAULT_ROUTER_BRIDGE;
  const hostNs = opts.hostNetns === undefined ? undefined : checkNetnsName(opts.hostNetns);
  const pw = opts.portWrite ?? {};
  const ns = routerNamespaceName(spec.routerId, opts.namespacePrefix);
  const wanted = wantedInterfaces(spec);
  const wantedHost = new Set(wanted.map((w) => w.hostName));
  const wantedInside = new Set(wanted.map((w) => w.name));

  if (!netnsExists(ns)) {
    try {
      await createNetns(ns);
    } catch (e) {
      if (!netnsExists(ns)) throw e;
    }
  }
  await ip(ns, ['link', 'set', 'lo', 'up']);
  await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);

  // 1. Stale interfaces first, so that names freed by a change can be reused below.
  for (const row of await routerOvsInterfaces(conn, spec.routerId)) {
    if (!wantedHost.has(row.name)) await removeHostSide(conn, bridge, hostNs, row.name, pw);
  }
  for (const l of (await ipJson<IpLink>(ns, ['link', 'show'])) ?? []) {
    if (MANAGED_IF.test(l.ifname) && !wantedInside.has(l.ifname)) await deleteLink(ns, l.ifname);
  }

  // 2. Wanted interfaces: the veth pair, MAC/MTU/up, addresses, then the OVS port.
  for (const w of wanted) {
    await ensureInterface(ns, hostNs, w, legs);
    await ensurePort(
      conn,
      bridge,
      w.hostName,
      {
        type: '',
        externalIds: {
          'iface-id': w.portId,
          'attached-mac': w.mac,
          'iface-status': 'active',
          [ROUTER_ID_KEY]: spec.routerId,
          [ROUTER_IF_KEY]: w.name,
        },
      },
      pw,
    );
  }

  // 3. Static routes (proto static): the extra routes and the default route via the external gateway.
  const want = new Map<string, { dst: string; via: string; dev?: string }>();
  for (const r of spec.routes) {
    const dst = canonicalPrefix(r.destination, isV6(r.nexthop));
    want.set(`${dst} ${r.nexthop.toLowerCase()}`, { dst, via: r.nexthop.toLowerCase() });
  }
  const gw = spec.gateway?.defaultGateway;
  if (spec.gateway && gw) {
    const dst = isV6(gw) ? '::/0' : '0.0.0.0/0';
    want.set(`${dst} ${gw.toLowerCase()}`, { dst, via: gw.toLowerCase(), dev: spec.gateway.name });
  }
  const failures: string[] = [];
  const have = new Set<string>();
  for (const fam of ['-4', '-6'] as const) {
    for (const r of (await ipJson<IpRoute>(ns, [fam, 'route', 'show', 'proto', 'static'])) ?? []) {
      const dst = canonicalPrefix(r.dst, fam === '-6');
      const key = `${dst} ${(r.gateway ?? '').toLowerCase()}`;
      const w = want.get(key);
      if (w && (!w.dev || w.dev === r.dev)) have.add(key);
      else {
        const args = [fam, 'route', 'del', dst, ...(r.gateway ? ['via', r.gateway] : []), ...(r.dev ? ['dev', r.dev] : []), 'proto', 'static'];
        await ip(ns, args, { allowFail: true });
      }
    }
  }
  for (const [key, w] of want) {
    if (have.has(key)) continue;
    const res = await ip(ns, ['route', 'replace', w.dst, 'via', w.via, ...(w.dev ? ['dev', w.dev] : []), 'proto', 'static'], { allowFail: true });
    if (res.code !== 0) failures.push(`${w.dst} via ${w.via}: ${res.stderr.trim()}`);
  }
  if (failures.length) throw new Error(`router ${spec.routerId}: routes not installed: ${failures.join('; ')}`);
}

/** One router's legs to bring up ('active') or down ('silent'). */
export interface LegChange { spec: RouterSpec; legs: LegState }

/** The `ip -batch` lines that bring the host-side veth ends of these routers' legs up or down. PURE. */
export function legBatchLines(changes: readonly LegChange[]): string[] {
  return changes.flatMap(({ spec, legs }) => wantedInterfaces(spec).map((w) => `link set dev ${w.hostName} ${legs === 'active' ? 'up' : 'down'}`));
}

/**
 * Brings the host-side veth ends of the routers' legs up ('active') or down ('silent') in one
 * `ip -batch` for all of them: HA routers' switches between standby and active (a whole gateway's
 * routers at a failover), no rebuild. A silent leg's namespace end has no carrier: addresses,
 * routes, iptables and nft stay as they are.
 */
export async function setRouterLegs(changes: readonly LegChange[], opts: RouterNamespaceOptions = {}): Promise<void> {
  const hostNs = opts.hostNetns === undefined ? undefined : checkNetnsName(opts.hostNetns);
  const lines = legBatchLines(changes);
  if (!lines.length) return;
  await run('ip', [...(hostNs ? ['-n', hostNs] : []), '-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, diesWithAgent: true });
}

/** Removes the router's OVS ports, their host-side veth ends and the namespace. Missing pieces are not an error. */
export async function deleteRouterNamespace(conn: OvsdbConnection, routerId: string, opts: RouterNamespaceOptions = {}): Promise<void> {
  const bridge = opts.bridge ?? DEFAULT_ROUTER_BRIDGE;
  const hostNs = opts.hostNetns === undefined ? undefined : checkNetnsName(opts.hostNetns);
  const ns = routerNamespaceName(routerId, opts.namespacePrefix);
  // Deleting the namespace destroys the inside veth ends and so the pairs; delete host ends anyway
  // (a pair whose inside end was never moved, or ports left over from a crash).
  await deleteNetns(ns);
  for (const row of await routerOvsInterfaces(conn, routerId)) {
    await removeHostSide(conn, bridge, hostNs, row.name, opts.portWrite ?? {});
  }
}
