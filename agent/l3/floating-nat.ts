// Floating IPs of one router as STATELESS address rewriting in an nftables table of the router
// namespace (`ip weft`), compiled to nft command lines. PURE: no I/O.
//
// Why stateless: a conntrack-based DNAT binds each connection to the fixed IP it saw first, so after
// a remap the established flows stay on the old VM until their entries are deleted, and deleting
// conntrack entries walks the kernel's whole conntrack hash (about 15 ms here, whatever the table
// holds). Rewriting the address before conntrack instead (raw priority) makes conntrack see only
// fixed addresses: after a remap the next packet of an established flow is rewritten to the new
// fixed IP, becomes a new connection to the new VM, and its replies are rewritten back to the
// floating address. A remap is then one atomic update of the sets and maps, one netlink transaction
// from the agent's own socket in the namespace (nft-set-writer.ts). The old mapping's conntrack
// entries are orphaned and are deleted afterwards, off the failover path, selected by their ct
// marks (marks.ts).
//
//   prerouting, raw (before conntrack):
//     from qg to a floating address        meta mark |= inbound
//     from inside to a floating address    meta mark |= hairpin   (SNATed by iptables, rules.ts)
//     from inside, source has a floating   meta mark |= floatingSource (exempt from subnet SNAT)
//     daddr: floating -> fixed
//   prerouting, mangle (after conntrack):  new connection: ct mark = meta mark & (inbound|hairpin)
//   postrouting, priority 300 (after NAT):
//     out of qg, new, source has a floating  ct mark |= outbound
//     out of qg: saddr fixed -> floating      (replies to inbound flows, and the VM's own outbound)
//     hairpin reply: saddr fixed -> floating  (the inside client addressed the floating IP)
//
// Each change is one transaction: the kernel sees the old or the new mapping.
import { MARK } from './marks.ts';
import { refill, SetBatchTooLarge, type NftSetContents, type NftSetUpdate } from './nft-set-batch.ts';
import { ipv4IntToBytes } from '../net/ipv4.ts';
import { normaliseFloatingIps, RouterRulesError, type RouterNat } from './rules.ts';

export const NFT_TABLE = 'weft';

const hex = (n: number): string => `0x${n.toString(16)}`;

function gatewayName(nat: RouterNat): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(nat.gatewayInterface)) {
    throw new RouterRulesError(`gatewayInterface: '${nat.gatewayInterface}' is not a valid interface name`);
  }
  return nat.gatewayInterface;
}

/**
 * The nft line that (re)creates the table `ip weft` with its chains and empty sets and maps, in one
 * transaction (`add` first so that `delete` never fails). Null when the router has no gateway.
 */
export function floatingNatTableLine(nat: RouterNat): string | null {
  if (nat.gatewayIp === null) return null;
  const gw = `"${gatewayName(nat)}"`;
  const m = MARK;
  const body = [
    'set floating { type ipv4_addr; }',
    'set fixed { type ipv4_addr; }',
    'map fip_to_fixed { type ipv4_addr : ipv4_addr; }',
    'map fixed_to_fip { type ipv4_addr : ipv4_addr; }',
    'chain pre { type filter hook prerouting priority raw; policy accept; ' +
      `iifname ${gw} ip daddr @floating meta mark set meta mark | ${hex(m.inbound)}; ` +
      `iifname != ${gw} ip daddr @floating meta mark set meta mark | ${hex(m.hairpin)}; ` +
      `iifname != ${gw} ip saddr @fixed meta mark set meta mark | ${hex(m.floatingSource)}; ` +
      'ip daddr set ip daddr map @fip_to_fixed; }',
    'chain marks { type filter hook prerouting priority mangle; policy accept; ' +
      `ct state new meta mark & ${hex(m.inbound | m.hairpin)} != 0 ct mark set meta mark & ${hex(m.inbound | m.hairpin)}; }`,
    'chain post { type filter hook postrouting priority 300; policy accept; ' +
      `oifname ${gw} ct state new ip saddr @fixed ct mark set ct mark | ${hex(m.outbound)}; ` +
      `oifname ${gw} ip saddr set ip saddr map @fixed_to_fip; ` +
      `ct mark & ${hex(m.hairpin)} == ${hex(m.hairpin)} ct direction reply ip saddr set ip saddr map @fixed_to_fip; }`,
  ];
  return `add table ip ${NFT_TABLE}; delete table ip ${NFT_TABLE}; table ip ${NFT_TABLE} { ${body.join('; ')}; }`;
}

type Fips = ReturnType<typeof normaliseFloatingIps>;
const tableFips = (nat: RouterNat): Fips => (nat.gatewayIp === null ? [] : normaliseFloatingIps(nat.floatingIps));

/** A router's floating IPs as its table is to hold them, checked once. */
export interface FloatingContents {
  /** The nft commands that refill the sets and maps. */
  elements: string;
  /** The same, as the sets and maps' raw elements (nft-set-batch.ts). */
  sets: NftSetContents[];
  /** Floating -> fixed address, as numbers: what the next change is diffed against. */
  mapping: ReadonlyMap<number, number>;
}

export function floatingNatContents(nat: RouterNat): FloatingContents {
  const fips = tableFips(nat);
  return { elements: elementsLine(fips), sets: elementSets(fips), mapping: new Map(fips.map((x) => [x.floating.n, x.fixed.n])) };
}

/** The nft commands that replace the contents of the sets and maps with `nat`'s floating IPs. */
export function floatingNatElements(nat: RouterNat): string {
  return elementsLine(tableFips(nat));
}

/** The same contents as floatingNatElements, as the sets and maps' raw elements (nft-set-batch.ts). */
export function floatingNatSets(nat: RouterNat): NftSetContents[] {
  return elementSets(tableFips(nat));
}

/**
 * The updates that take the sets and maps from mapping `before` to `after` (floating -> fixed):
 * only the elements that differ. A moved mapping's old map element is taken out and its new one
 * put in, in the same transaction.
 */
export function floatingSetUpdates(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): NftSetUpdate[] {
  const gone: Array<[number, number]> = [];
  const come: Array<[number, number]> = [];
  for (const [f, x] of before) if (after.get(f) !== x) gone.push([f, x]);
  for (const [f, x] of after) if (before.get(f) !== x) come.push([f, x]);
  // A fixed address belongs to one floating IP at most (normaliseFloatingIps): a set of them is exact.
  const fixedBefore = new Set(gone.length || come.length ? before.values() : []);
  const fixedAfter = new Set(gone.length || come.length ? after.values() : []);
  const b = ipv4IntToBytes;
  const update = (name: string, remove: number[], add: number[], values?: number[]): NftSetUpdate =>
    ({ name, flush: false, remove: remove.map(b), keys: add.map(b), ...(values ? { values: values.map(b) } : {}) });
  return [
    update('floating', gone.filter(([f]) => !after.has(f)).map(([f]) => f), come.filter(([f]) => !before.has(f)).map(([f]) => f)),
    update('fixed', gone.filter(([, x]) => !fixedAfter.has(x)).map(([, x]) => x), come.filter(([, x]) => !fixedBefore.has(x)).map(([, x]) => x)),
    update('fip_to_fixed', gone.map(([f]) => f), come.map(([f]) => f), come.map(([, x]) => x)),
    update('fixed_to_fip', gone.map(([, x]) => x), come.map(([, x]) => x), come.map(([f]) => f)),
  ];
}

function elementsLine(fips: Fips): string {
  const t = `ip ${NFT_TABLE}`;
  const cmds = [`flush set ${t} floating`, `flush set ${t} fixed`, `flush map ${t} fip_to_fixed`, `flush map ${t} fixed_to_fip`];
  if (fips.length) {
    const list = (f: (x: (typeof fips)[number]) => string): string => fips.map(f).join(', ');
    cmds.push(
      `add element ${t} floating { ${list((x) => x.floating.text)} }`,
      `add element ${t} fixed { ${list((x) => x.fixed.text)} }`,
      `add element ${t} fip_to_fixed { ${list((x) => `${x.floating.text} : ${x.fixed.text}`)} }`,
      `add element ${t} fixed_to_fip { ${list((x) => `${x.fixed.text} : ${x.floating.text}`)} }`,
    );
  }
  return cmds.join('; ');
}

function elementSets(fips: Fips): NftSetContents[] {
  const floating = fips.map((x) => ipv4IntToBytes(x.floating.n));
  const fixed = fips.map((x) => ipv4IntToBytes(x.fixed.n));
  return [
    { name: 'floating', keys: floating },
    { name: 'fixed', keys: fixed },
    { name: 'fip_to_fixed', keys: floating, values: fixed },
    { name: 'fixed_to_fip', keys: fixed, values: floating },
  ];
}

/** How the floating table reaches the kernel: nft lines (libnftables), and netlink updates of its sets when there is a way. */
export interface FloatingTableIo {
  line(line: string): Promise<void>;
  sets?(table: string, updates: readonly NftSetUpdate[]): Promise<void>;
}

/** A router's table as last applied: its line, and the mapping its sets and maps hold. */
export interface AppliedFloatingTable {
  line: string;
  mapping: ReadonlyMap<number, number>;
}

/** The line that removes the table (nothing to remove is not an error: `add` first). */
export function floatingNatRemoveLine(): string {
  return `add table ip ${NFT_TABLE}; delete table ip ${NFT_TABLE}`;
}

/**
 * The nft table of floating IPs of one router, one transaction per call: recreated (libnftables)
 * when its shape changes, else only the elements of its sets and maps that differ from what was
 * applied last (over netlink when `io` can; through nft, refilling them, when not or when the
 * update is too large for one netlink message). `applied` holds per router what was applied last
 * (null: no table), and is left without the router's entry while a call may have failed.
 */
export async function applyFloatingTable(applied: Map<string, AppliedFloatingTable | null>, id: string, io: FloatingTableIo,
  table: string | null, contents: FloatingContents): Promise<void> {
  const had = applied.get(id);
  if (table === null) {
    if (had !== null) {
      applied.delete(id);
      await io.line(floatingNatRemoveLine());
    }
    applied.set(id, null);
    return;
  }
  applied.delete(id);
  if (had?.line !== table) await io.line(`${table}; ${contents.elements}`);
  else if (!io.sets) await io.line(contents.elements);
  else {
    try {
      await updateSets(io.sets, had.mapping, contents);
    } catch (e) {
      if (!(e instanceof SetBatchTooLarge)) throw e;
      await io.line(contents.elements);
    }
  }
  applied.set(id, { line: table, mapping: contents.mapping });
}

async function updateSets(write: NonNullable<FloatingTableIo['sets']>, before: ReadonlyMap<number, number>, contents: FloatingContents): Promise<void> {
  try {
    await write(NFT_TABLE, floatingSetUpdates(before, contents.mapping));
  } catch (e) {
    if (e instanceof SetBatchTooLarge) throw e;
    // The sets do not hold what was applied last (an element to take out is missing, one to put in
    // is there already: changed behind the agent's back), and the kernel refused the whole update:
    // make them hold exactly the contents.
    await write(NFT_TABLE, contents.sets.map(refill));
  }
}
