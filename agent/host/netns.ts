// Network namespace and veth helpers (iproute2). Veth pairs are created directly inside their
// namespaces (`ip -n NS link add X type veth peer name Y netns NS2`) so that no temporary name ever
// appears in the root namespace, where it could collide with someone else's.
import { existsSync } from 'node:fs';
import { run, runOut, type RunOptions, type RunResult } from './exec.ts';

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAMSIZ = 16;

/** Throws unless `name` is a valid Linux interface name (1..15 bytes, no '/', ':' or whitespace). */
export function checkIfName(name: string): string {
  if (!name || Buffer.byteLength(name) > IFNAMSIZ - 1) {
    throw new Error(`interface name '${name}' must be 1..${IFNAMSIZ - 1} bytes`);
  }
  if (/[\s/:]/.test(name) || name === '.' || name === '..') throw new Error(`invalid interface name '${name}'`);
  return name;
}

/** Throws unless `name` is a sane namespace name (a file name under /run/netns, kept short). */
export function checkNetnsName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name === '.' || name === '..') {
    throw new Error(`invalid network namespace name '${name}'`);
  }
  return name;
}

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${checkNetnsName(name)}`);
}

/** Creates the namespace (error if it exists) and brings its loopback up. */
export async function createNetns(name: string): Promise<void> {
  checkNetnsName(name);
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes the namespace; a missing namespace is not an error. Returns whether it existed. */
export async function deleteNetns(name: string): Promise<boolean> {
  checkNetnsName(name);
  if (!netnsExists(name)) return false;
  const r = await run('ip', ['netns', 'del', name], { allowFail: true });
  if (r.code !== 0 && netnsExists(name)) throw new Error(`ip netns del ${name}: ${r.stderr.trim()}`);
  return true;
}

/** Names of the namespaces that start with `prefix` (e.g. to clean up after a crashed test run). */
export async function listNetns(prefix = ''): Promise<string[]> {
  const out = await runOut('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n && n.startsWith(prefix));
}

/** `ip [-n ns] args...` */
export function ip(ns: string | undefined, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', ns ? ['-n', checkNetnsName(ns), ...args] : [...args], opts);
}

/** Runs a command inside a namespace (`ip netns exec NS cmd args...`). */
export function execInNetns(ns: string, cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', ['netns', 'exec', checkNetnsName(ns), cmd, ...args], opts);
}

export interface VethOptions {
  /** Namespace of the first end (undefined = the caller's namespace). */
  ns?: string;
  name: string;
  /** Namespace of the peer end (undefined = same namespace as the first end). */
  peerNs?: string;
  peerName: string;
  mtu?: number;
  /** MAC address of the first end. */
  mac?: string;
  /** MAC address of the peer end. */
  peerMac?: string;
  /** Bring both ends up (default true). */
  up?: boolean;
}

/** Creates a veth pair whose ends are born in their namespaces. */
export async function createVethPair(o: VethOptions): Promise<void> {
  checkIfName(o.name);
  checkIfName(o.peerName);
  const args = ['link', 'add', o.name];
  if (o.mtu) args.push('mtu', String(o.mtu));
  if (o.mac) args.push('address', o.mac);
  args.push('type', 'veth', 'peer', 'name', o.peerName);
  if (o.mtu) args.push('mtu', String(o.mtu));
  if (o.peerMac) args.push('address', o.peerMac);
  if (o.peerNs && o.peerNs !== o.ns) args.push('netns', checkNetnsName(o.peerNs));
  await ip(o.ns, args);
  if (o.up ?? true) {
    await setLinkUp(o.ns, o.name);
    await setLinkUp(o.peerNs ?? o.ns, o.peerName);
  }
}

export async function deleteLink(ns: string | undefined, name: string): Promise<boolean> {
  const r = await ip(ns, ['link', 'del', checkIfName(name)], { allowFail: true });
  return r.code === 0;
}

export async function setLinkUp(ns: string | undefined, name: string): Promise<void> {
  await ip(ns, ['link', 'set', checkIfName(name), 'up']);
}

export async function setLinkMac(ns: string | undefined, name: string, mac: string): Promise<void> {
  await ip(ns, ['link', 'set', checkIfName(name), 'address', mac]);
}

export async function setLinkMtu(ns: string | undefined, name: string, mtu: number): Promise<void> {
  await ip(ns, ['link', 'set', checkIfName(name), 'mtu', String(mtu)]);
}

/** Adds an address in CIDR form (e.g. 10.0.0.5/24); an existing identical address is not an error. */
export async function addAddress(ns: string | undefined, dev: string, cidr: string): Promise<void> {
  await ip(ns, ['addr', 'replace', cidr, 'dev', checkIfName(dev)]);
}

export async function linkExists(ns: string | undefined, name: string): Promise<boolean> {
  const r = await ip(ns, ['link', 'show', 'dev', checkIfName(name)], { allowFail: true });
  return r.code === 0;
}
