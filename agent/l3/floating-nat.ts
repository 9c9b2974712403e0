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
import { ipv4Bytes, SetBatchTooLarge, type NftSetContents } from './nft-set-batch.ts';
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

/** The table's contents for `nat`'s floating IPs, checked once: as nft commands and as raw elements. */
export function floatingNatContents(nat: RouterNat): { elements: string; sets: NftSetContents[] } {
  const fips = tableFips(nat);
  return { elements: elementsLine(fips), sets: elementSets(fips) };
}

/** The nft commands that replace the contents of the sets and maps with `nat`'s floating IPs. */
export function floatingNatElements(nat: RouterNat): string {
  return elementsLine(tableFips(nat));
}

/** The same contents as floatingNatElements, as the sets and maps' raw elements (nft-set-batch.ts). */
export function floatingNatSets(nat: RouterNat): NftSetContents[] {
  return elementSets(tableFips(nat));
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
  const floating = fips.map((x) => ipv4Bytes(x.floating.text));
  const fixed = fips.map((x) => ipv4Bytes(x.fixed.text));
  return [
    { name: 'floating', keys: floating },
    { name: 'fixed', keys: fixed },
    { name: 'fip_to_fixed', keys: floating, values: fixed },
    { name: 'fixed_to_fip', keys: fixed, values: floating },
  ];
}

/** How the floating table reaches the kernel: nft lines (libnftables), and a netlink refill of its sets when there is one. */
export interface FloatingTableIo {
  line(line: string): Promise<void>;
  sets?(table: string, sets: readonly NftSetContents[]): Promise<void>;
}

/** The line that removes the table (nothing to remove is not an error: `add` first). */
export function floatingNatRemoveLine(): string {
  return `add table ip ${NFT_TABLE}; delete table ip ${NFT_TABLE}`;
}

/**
 * The nft table of floating IPs of one router, one transaction per call: recreated (libnftables)
 * when its shape changes, else only its sets and maps refilled (over netlink when `io` can, through
 * nft when the batch is too large for one netlink message). `applied` holds the table line last
 * applied per router (null: no table), and is left without the router's entry while a call may
 * have failed.
 */
export async function applyFloatingTable(applied: Map<string, string | null>, id: string, io: FloatingTableIo,
  table: string | null, elements: string, sets: readonly NftSetContents[]): Promise<void> {
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
  if (had !== table) await io.line(`${table}; ${elements}`);
  else if (!io.sets) await io.line(elements);
  else {
    try {
      await io.sets(NFT_TABLE, sets);
    } catch (e) {
      if (!(e instanceof SetBatchTooLarge)) throw e;
      await io.line(elements);
    }
  }
  applied.set(id, table);
}
