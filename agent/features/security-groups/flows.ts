// The flows of security groups, by direction. Egress is keyed on the source port (reg5), ingress on
// the destination port (reg7); either register's low 16 bits are that port's conntrack zone, so
// both directions of a port's connections meet in one zone and replies are +rpl there.
//
//   egress_ct / ingress_ct                         egress_acl / ingress_acl
//   guard    egress: skip bit  -> next             guard    +inv+trk                        -> drop
//   control  DHCP, ND/RA/RS, MLD -> next           control  +est+rpl / +rel, ct_mark=0      -> next
//   port     ingress: reg7=P of a port we do not   control  +rpl / +rel, ct_mark=1           -> drop
//            filter -> next                        conj.    clauses (port, traffic[, remote]),
//   fallback ip|ipv6 -> ct(zone=port)                       conj_id=R -> ct(commit,ct_mark=0), next
//   miss     non-IP (ARP, ...) -> next             fallback +est-rpl+trk -> ct(commit,ct_mark=1), drop
//                                                  (miss)   new and not allowed -> drop
//
// Both directions fail closed: IP goes through conntrack and the rules unless the port is known
// not to be filtered (classify's skip bit on egress, a per-port flow on ingress). A filtered port
// without rules (no groups) receives and sends control traffic only, as in Neutron.
//
// Original-direction packets of established connections (+est-rpl) are checked against the rules
// again on every packet: a connection whose rule was removed gets ct_mark=1 at its next packet and
// is dropped both ways from then on; if a rule allows it again, the commit sets ct_mark back to 0.
import type { Action } from '../../openflow/actions.ts';
import type { Match } from '../../openflow/fields.ts';
import { DST_PORT, SKIP_EGRESS_SG, SRC_PORT, bits, zoneOf, type BitField } from '../../pipeline/fields.ts';
import { flow, type Flow } from '../../pipeline/flow.ts';
import { PRIORITY } from '../../pipeline/priorities.ts';
import { tableId, type TableName } from '../../pipeline/tables.ts';
import { ETH_IPV4, ETH_IPV6 } from './rule-matches.ts';

export type Direction = 'egress' | 'ingress';

export interface DirectionTables {
  readonly ct: TableName;
  readonly acl: TableName;
  /** Where allowed packets continue. */
  readonly next: TableName;
  /** The port register: reg5 (source) on egress, reg7 (destination) on ingress. */
  readonly port: BitField;
}

export const DIRECTIONS: Readonly<Record<Direction, DirectionTables>> = {
  egress: { ct: 'egress_ct', acl: 'egress_acl', next: 'l2_lookup', port: SRC_PORT },
  ingress: { ct: 'ingress_ct', acl: 'ingress_acl', next: 'output', port: DST_PORT },
};

const FEATURE = 'security_groups' as const;
export const BASE_OBJECT = 'security-groups';

// ct_state bits (ENVIRONMENT.md §2.2).
export const CT = { new: 0x01, est: 0x02, rel: 0x04, rpl: 0x08, inv: 0x10, trk: 0x20 } as const;
/** ct_state with these bits set (plus) and these clear (minus). */
export const ctState = (plus: number, minus = 0) => ({ value: plus, mask: plus | minus });

export const CT_MARK_ALLOWED = 0;
export const CT_MARK_BLOCKED = 1;

const UDP = 17;
const ICMPV6 = 58;
/** ICMPv6 a port may always send: MLD query/report/done/v2 report, RS, NS, NA. */
export const ICMPV6_EGRESS_TYPES = [130, 131, 132, 133, 135, 136, 143] as const;
/** ICMPv6 a port may always receive: MLD query, RA, NS, NA. */
export const ICMPV6_INGRESS_TYPES = [130, 134, 135, 136] as const;

const IP_TYPES = [ETH_IPV4, ETH_IPV6] as const;

const portMatch = (d: DirectionTables, ofport: number): Match => ({ [d.port.field]: bits(d.port, ofport) });

/** ct in the port's zone (the low 16 bits of the port register). */
function ct(d: DirectionTables, extra: { commit?: boolean; table?: TableName; mark?: number }): Action {
  return {
    type: 'ct',
    ...(extra.commit ? { commit: true } : {}),
    ...(extra.table ? { table: tableId(extra.table) } : {}),
    zone: zoneOf(d.port),
    ...(extra.mark === undefined ? {} : { exec: [{ type: 'setField', field: 'ctMark', value: { value: extra.mark } }] }),
  } as Action;
}

/** Flows that do not depend on the model: the conntrack entry, control traffic and state checks. */
export function baseFlows(): Flow[] {
  const out: Flow[] = [];
  const f = (table: TableName, priority: number, match: Match, actions: Action[], goto?: TableName) =>
    out.push(flow(FEATURE, BASE_OBJECT, table, { priority, match, actions, ...(goto ? { goto } : {}) }));
  const eg = DIRECTIONS.egress;
  const ing = DIRECTIONS.ingress;

  // egress_ct
  f(eg.ct, PRIORITY.guard, { [SKIP_EGRESS_SG.field]: bits(SKIP_EGRESS_SG, 1) }, [], eg.next);
  f(eg.ct, PRIORITY.control, { ethType: ETH_IPV4, ipProto: UDP, udpSrc: 68, udpDst: 67 }, [], eg.next);
  f(eg.ct, PRIORITY.control, { ethType: ETH_IPV6, ipProto: UDP, udpSrc: 546, udpDst: 547 }, [], eg.next);
  for (const t of ICMPV6_EGRESS_TYPES) f(eg.ct, PRIORITY.control, { ethType: ETH_IPV6, ipProto: ICMPV6, icmpv6Type: t }, [], eg.next);
  for (const et of IP_TYPES) f(eg.ct, PRIORITY.fallback, { ethType: et }, [ct(eg, { table: eg.acl })]);
  f(eg.ct, PRIORITY.miss, {}, [], eg.next);

  // ingress_ct (ports we do not filter have their own flow: unfilteredPortFlow)
  f(ing.ct, PRIORITY.control, { ethType: ETH_IPV4, ipProto: UDP, udpSrc: 67, udpDst: 68 }, [], ing.next);
  f(ing.ct, PRIORITY.control, { ethType: ETH_IPV6, ipProto: UDP, udpSrc: 547, udpDst: 546 }, [], ing.next);
  for (const t of ICMPV6_INGRESS_TYPES) f(ing.ct, PRIORITY.control, { ethType: ETH_IPV6, ipProto: ICMPV6, icmpv6Type: t }, [], ing.next);
  for (const et of IP_TYPES) f(ing.ct, PRIORITY.fallback, { ethType: et }, [ct(ing, { table: ing.acl })]);
  f(ing.ct, PRIORITY.miss, {}, [], ing.next);

  for (const d of [eg, ing]) {
    f(d.acl, PRIORITY.guard, { ctState: ctState(CT.inv | CT.trk) }, []);
    const allowed = { ctMark: { value: CT_MARK_ALLOWED } };
    const blocked = { ctMark: { value: CT_MARK_BLOCKED } };
    f(d.acl, PRIORITY.control, { ctState: ctState(CT.est | CT.rpl | CT.trk), ...allowed }, [], d.next);
    f(d.acl, PRIORITY.control, { ctState: ctState(CT.rel | CT.trk), ...allowed }, [], d.next);
    f(d.acl, PRIORITY.control, { ctState: ctState(CT.rpl | CT.trk), ...blocked }, []);
    f(d.acl, PRIORITY.control, { ctState: ctState(CT.rel | CT.trk), ...blocked }, []);
    for (const et of IP_TYPES) {
      f(d.acl, PRIORITY.fallback, { ctState: ctState(CT.est | CT.trk, CT.rpl), ethType: et },
        [ct(d, { commit: true, mark: CT_MARK_BLOCKED })]);
    }
  }
  return out;
}

/** A local port we do not filter (port security off, network-owned): traffic to it is not checked. */
export function unfilteredPortFlow(portId: string, ofport: number): Flow {
  const d = DIRECTIONS.ingress;
  return flow(FEATURE, portId, d.ct, { priority: PRIORITY.port, match: portMatch(d, ofport), goto: d.next });
}

/** Clause 1 of a rule's conjunction: this port, in the rule's family. */
export function portClauseFlow(d: DirectionTables, object: string, ofport: number, ethType: number, conj: ConjRef): Flow {
  return flow(FEATURE, object, d.acl, {
    priority: PRIORITY.conjunction, match: { ...portMatch(d, ofport), ethType }, actions: [conjunction(conj, 1)],
  });
}

export interface ConjRef {
  readonly id: number;
  readonly nClauses: number;
}

export const conjunction = (c: ConjRef, clause: number): Action => ({ type: 'conjunction', id: c.id, clause, nClauses: c.nClauses });

/** A clause flow with this match (ethType included). */
export function clauseFlow(d: DirectionTables, object: string, match: Match, conj: ConjRef, clause: number): Flow {
  return flow(FEATURE, object, d.acl, { priority: PRIORITY.conjunction, match, actions: [conjunction(conj, clause)] });
}

/** What a completed conjunction does: commit with ct_mark=0 (allowed, or allowed again) and go on. */
export function conjIdFlow(d: DirectionTables, object: string, conjId: number, ethType: number): Flow {
  return flow(FEATURE, object, d.acl, {
    priority: PRIORITY.conjunction, match: { conjId, ethType },
    actions: [ct(d, { commit: true, mark: CT_MARK_ALLOWED })], goto: d.next,
  });
}
