import { Address4, Address6 } from 'ip-address';
import type { RequestContext } from '../auth/context.ts';
import { NeutronError, conflict, notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';
import type { SecurityGroupRuleCreate } from '../../schemas/api/security-group.ts';
import { isIpv4, isIpv6 } from '../../schemas/common.ts';
import { owningProject } from './policy.ts';
import { revise, standard } from './standard-attrs.ts';

// Security group rules, validated and normalised the way Neutron's securitygroups_db does:
// protocol names are lower-cased and numbers kept as text ('6'), IPv6 'icmp'/'icmpv6'/'1'
// become 'ipv6-icmp'/'58', remote_ip_prefix keeps what was given (with a prefix length
// added) and normalized_cidr holds its network address. Rules are never updated.

export const RULE_KIND = 'security_group_rule';
export const GROUP_KIND = 'security_group';

/** neutron_lib.constants.IP_PROTOCOL_MAP */
export const IP_PROTOCOL_MAP: Readonly<Record<string, number>> = {
  ah: 51, dccp: 33, egp: 8, esp: 50, gre: 47, hopopt: 0, icmp: 1, igmp: 2, ip: 0, ipip: 4,
  'ipv6-encap': 41, 'ipv6-frag': 44, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60,
  'ipv6-route': 43, ospf: 89, pgm: 113, rsvp: 46, sctp: 132, tcp: 6, udp: 17, udplite: 136, vrrp: 112,
};

/** Protocols whose rules take a port range (Neutron's SG_PORT_PROTO_NUMS). */
const PORT_PROTOCOLS = new Set([6, 17, 33, 132, 136]);
const ICMP_PROTOCOLS = new Set([1, 58]);
/** Protocols that only make sense over IPv6 (Neutron's _validate_ethertype_and_protocol). */
const IPV6_ONLY = new Set(['ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', '41', '44', '58', '59', '60', '43']);

export interface RuleFields {
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  normalized_cidr: string | null;
  remote_group_id: string | null;
}

const invalid = (type: string, message: string) => new NeutronError(400, type, message);

/** The protocol as Neutron stores it: null, a lower-case name, or a number as text. */
export function convertProtocol(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined || value === 'any') return null;
  const text = String(value).trim();
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 0 && n <= 255) return String(n);
  } else if (text.toLowerCase() in IP_PROTOCOL_MAP) {
    return text.toLowerCase();
  }
  const names = ['None', ...Object.keys(IP_PROTOCOL_MAP)].map((n) => (n === 'None' ? n : `'${n}'`)).join(', ');
  throw invalid('SecurityGroupRuleInvalidProtocol',
    `Security group rule protocol ${value} not supported. Only protocol values [${names}] and integer representations [0 to 255] are supported.`);
}

/** The IP protocol number of a stored protocol (null for any). */
export function protocolNumber(protocol: string | null): number | null {
  if (protocol === null) return null;
  return protocol in IP_PROTOCOL_MAP ? IP_PROTOCOL_MAP[protocol] : Number(protocol);
}

function checkPortValue(port: number | null | undefined): number | null {
  if (port === null || port === undefined) return null;
  if (port < 0 || port > 65535) throw invalid('SecurityGroupInvalidPortValue', `Invalid value for port ${port}`);
  return port;
}

function validatePortRange(protocol: string | null, min: number | null, max: number | null): void {
  if (min === null && max === null) return;
  if (protocol === null) throw invalid('SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given.');
  const num = protocolNumber(protocol) as number;
  if (PORT_PROTOCOLS.has(num)) {
    if (min === 0 || max === 0) throw invalid('SecurityGroupInvalidPortValue', 'Invalid value for port 0');
    if (min === null || max === null || min > max) {
      throw invalid('SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max');
    }
  } else if (ICMP_PROTOCOLS.has(num)) {
    for (const [attr, field, value] of [['port_range_min', 'type', min], ['port_range_max', 'code', max]] as const) {
      if (value !== null && (value < 0 || value > 255)) {
        throw invalid('SecurityGroupInvalidIcmpValue', `Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`);
      }
    }
    if (min === null && max !== null) {
      throw invalid('SecurityGroupMissingIcmpType', `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`);
    }
  } else {
    throw invalid('SecurityGroupInvalidProtocolForPort',
      `Invalid protocol ${num} for port range, only supported for TCP, UDP, DCCP, SCTP, UDPLITE protocols.`);
  }
}

/** Parse '10.0.0.5/24', '10.0.0.5' or an IPv6 form: [canonical prefix, network prefix, version]. */
export function parsePrefix(text: string): { prefix: string; network: string; version: 4 | 6 } {
  const [addr, len, extra] = text.split('/');
  const lenOk = len === undefined || /^\d{1,3}$/.test(len);
  if (extra === undefined && lenOk && isIpv4(addr) && (len === undefined || Number(len) <= 32)) {
    const bits = len === undefined ? 32 : Number(len);
    const canonical = addr.split('.').map((o) => String(Number(o))).join('.');
    const network = new Address4(`${canonical}/${bits}`).startAddress().address;
    return { prefix: `${canonical}/${bits}`, network: `${network}/${bits}`, version: 4 };
  }
  if (extra === undefined && lenOk && isIpv6(addr) && (len === undefined || Number(len) <= 128)) {
    const bits = len === undefined ? 128 : Number(len);
    const canonical = new Address6(addr).correctForm();
    const network = new Address6(`${canonical}/${bits}`).startAddress().correctForm();
    return { prefix: `${canonical}/${bits}`, network: `${network}/${bits}`, version: 6 };
  }
  throw invalid('InvalidCIDR', `Invalid CIDR ${text} given as IP prefix.`);
}

/** Validate and normalise a rule body; throws Neutron's 400s. Does not look at the store. */
export function normaliseRule(input: SecurityGroupRuleCreate): RuleFields {
  const ethertype = input.ethertype ?? 'IPv4';
  let protocol = convertProtocol(input.protocol);
  const min = checkPortValue(input.port_range_min);
  const max = checkPortValue(input.port_range_max);
  if (ethertype === 'IPv6') {
    if (protocol === 'icmp' || protocol === 'icmpv6') protocol = 'ipv6-icmp';
    else if (protocol === '1') protocol = '58';
  }
  validatePortRange(protocol, min, max);
  let remote_ip_prefix: string | null = null;
  let normalized_cidr: string | null = null;
  if (input.remote_ip_prefix) {
    const parsed = parsePrefix(input.remote_ip_prefix);
    if (`IPv${parsed.version}` !== ethertype) {
      throw invalid('SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${ethertype} for CIDR ${input.remote_ip_prefix}`);
    }
    remote_ip_prefix = parsed.prefix;
    normalized_cidr = parsed.network;
  }
  if (protocol !== null && IPV6_ONLY.has(protocol) && ethertype === 'IPv4') {
    throw invalid('SecurityGroupEthertypeConflictWithProtocol', `Ethertype ${ethertype} is not supported for protocol ${protocol}.`);
  }
  const remote_group_id = input.remote_group_id ?? null;
  if (remote_ip_prefix !== null && remote_group_id !== null) {
    throw invalid('SecurityGroupRemoteGroupAndRemoteIpPrefix', 'Only remote_ip_prefix or remote_group_id may be provided.');
  }
  return { direction: input.direction, ethertype, protocol, port_range_min: min, port_range_max: max, remote_ip_prefix, normalized_cidr, remote_group_id };
}

/** What makes two rules of a group the same (Neutron's _rule_to_key, on normalised values). */
export function ruleKey(rule: Doc | (RuleFields & { security_group_id: string })): string {
  const r = rule as unknown as RuleFields & { security_group_id: string };
  const anyAddress = r.normalized_cidr === null || r.normalized_cidr === '0.0.0.0/0' || r.normalized_cidr === '::/0';
  let num = protocolNumber(r.protocol);
  if (r.ethertype === 'IPv6' && num === 1) num = 58;
  return JSON.stringify([r.direction, r.ethertype, r.port_range_max, r.port_range_min, num, r.remote_group_id, anyAddress ? null : r.normalized_cidr, r.security_group_id]);
}

/** A new rule document (no tags: Neutron does not tag rules). */
export function ruleDoc(projectId: string, groupId: string, fields: Partial<RuleFields> & Pick<RuleFields, 'direction' | 'ethertype'>, description = ''): Doc {
  const { tags: _tags, ...base } = standard(projectId);
  return {
    ...base,
    security_group_id: groupId,
    direction: fields.direction,
    ethertype: fields.ethertype,
    protocol: fields.protocol ?? null,
    port_range_min: fields.port_range_min ?? null,
    port_range_max: fields.port_range_max ?? null,
    remote_ip_prefix: fields.remote_ip_prefix ?? null,
    normalized_cidr: fields.normalized_cidr ?? null,
    remote_group_id: fields.remote_group_id ?? null,
    remote_address_group_id: null,
    description,
  };
}

/** Rules of one group, in creation order. */
export function groupRules(view: ReadView, groupId: string): Doc[] {
  return view.find(RULE_KIND, 'security_group_id', groupId).sort((a, b) =>
    String(a.created_at).localeCompare(String(b.created_at)));
}

/** Bump a group's revision (a rule of it was added or removed). */
export function touchGroup(tx: Tx, groupId: string): void {
  const group = tx.get(GROUP_KIND, groupId);
  if (group) tx.put(GROUP_KIND, revise(group, {}));
}

/** Members may use (add rules to, reference) their own groups; admins any. */
export function groupUsable(ctx: RequestContext, group: Doc | undefined): group is Doc {
  return !!group && (ctx.isAdmin || group.project_id === ctx.projectId);
}

/** Members see their own rules and every rule of their own groups. */
export function ruleVisible(view: ReadView, ctx: RequestContext, rule: Doc): boolean {
  if (ctx.isAdmin || rule.project_id === ctx.projectId) return true;
  return view.get(GROUP_KIND, rule.security_group_id as string)?.project_id === ctx.projectId;
}

export function presentRule(view: ReadView, rule: Doc): Record<string, unknown> {
  const group = view.get(GROUP_KIND, rule.security_group_id as string);
  return { ...rule, belongs_to_default_sg: group?.is_default === true };
}

export function createRule(tx: Tx, ctx: RequestContext, input: SecurityGroupRuleCreate): Doc {
  const fields = normaliseRule(input);
  const group = tx.get(GROUP_KIND, input.security_group_id);
  if (!groupUsable(ctx, group)) throw notFound(GROUP_KIND, input.security_group_id);
  if (fields.remote_group_id !== null && !groupUsable(ctx, tx.get(GROUP_KIND, fields.remote_group_id))) {
    throw notFound(GROUP_KIND, fields.remote_group_id);
  }
  const explicit = input.project_id !== undefined || input.tenant_id !== undefined;
  const project = explicit ? owningProject(ctx, input) : (group.project_id as string);
  const key = ruleKey({ ...fields, security_group_id: group.id });
  const same = groupRules(tx, group.id).find((r) => ruleKey(r) === key);
  if (same) throw conflict('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${same.id}.`);
  const doc = ruleDoc(project, group.id, fields, input.description ?? '');
  tx.put(RULE_KIND, doc);
  touchGroup(tx, group.id);
  return doc;
}

export function removeRule(tx: Tx, _ctx: RequestContext, rule: Doc): void {
  tx.remove(RULE_KIND, rule.id);
  touchGroup(tx, rule.security_group_id as string);
}
