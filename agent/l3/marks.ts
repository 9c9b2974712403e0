// Packet and connection marks inside a router namespace, shared by the floating IP rewrites
// (floating-nat.ts, nftables) and the NAT and firewall rules (rules.ts, iptables), which read them.
//   packet (meta) mark, set before conntrack:
//     INBOUND          arrived on the gateway for a floating address
//     HAIRPIN          came from inside for a floating address (SNATed so replies come back)
//     FLOATING_SOURCE  came from inside with a source that has a floating IP (not subnet-SNATed)
//   connection (ct) mark: INBOUND and HAIRPIN copied at the first packet; OUTBOUND set when a
//   connection from a floating IP's fixed address leaves through the gateway.
export const MARK = {
  inbound: 0x1,
  hairpin: 0x2,
  floatingSource: 0x4,
  outbound: 0x4,
} as const;

/** `0x2/0x2`, as iptables-save prints a mark match. */
export const markMatch = (bit: number): string => `0x${bit.toString(16)}/0x${bit.toString(16)}`;
