import type { RequestContext } from '../../auth/context.ts';
import { PROVIDER_ATTRS } from '../../domain/networks.ts';
import { BINDING_ADMIN_ATTRS, portVisible } from '../../domain/ports.ts';
import { subnetVisible } from '../../domain/subnets.ts';
import type { Change, Doc, ReadView } from '../../store/types.ts';
import { networkVisible } from '../networks/index.ts';
import { ownerOrAdmin } from '../resource.ts';

// What one caller sees of the topology, for the dashboard's event stream: the networks, subnets,
// ports, routers and floating IPs the REST API would list for them (the same visibility
// predicates as the resources' ResourceDefs), each cut down to the attributes the picture needs.
// A fixed list of attributes rather than the REST presentation, for two reasons: nothing derived
// from other documents (a network's `subnets`, a floating IP's `port_details`) can go stale
// between commits, and a field added to a document later is never streamed by accident.

export const TOPOLOGY_KINDS = ['network', 'subnet', 'port', 'router', 'floatingip'] as const;
export type TopologyKind = (typeof TOPOLOGY_KINDS)[number];

interface KindRule {
  visible(view: ReadView, ctx: RequestContext, doc: Doc): boolean;
  attributes: readonly string[];
  /** Attributes only admins read through the REST API (policy.ts hideFrom lists). */
  adminAttributes?: readonly string[];
}

const RULES: Record<TopologyKind, KindRule> = {
  network: {
    visible: networkVisible,
    attributes: ['id', 'name', 'project_id', 'status', 'admin_state_up', 'shared', 'router:external', 'mtu'],
    adminAttributes: PROVIDER_ATTRS,
  },
  subnet: {
    visible: subnetVisible,
    attributes: ['id', 'name', 'project_id', 'network_id', 'cidr', 'ip_version', 'gateway_ip', 'enable_dhcp'],
  },
  port: {
    visible: portVisible,
    attributes: ['id', 'name', 'project_id', 'network_id', 'status', 'admin_state_up', 'device_owner', 'device_id', 'mac_address', 'fixed_ips'],
    adminAttributes: ['binding:host_id'] satisfies Array<(typeof BINDING_ADMIN_ATTRS)[number]>,
  },
  router: {
    visible: ownerOrAdmin,
    attributes: ['id', 'name', 'project_id', 'status', 'admin_state_up', 'external_gateway_info'],
    // HA routers (domain/l3-ha.ts): admins see the gateway group, active host first.
    adminAttributes: ['ha', 'gateway_hosts'],
  },
  floatingip: {
    visible: ownerOrAdmin,
    attributes: ['id', 'project_id', 'floating_ip_address', 'floating_network_id', 'port_id', 'fixed_ip_address', 'router_id', 'status'],
  },
};

const isTopologyKind = (kind: string): kind is TopologyKind => Object.hasOwn(RULES, kind);

/** A network attribute that decides who sees the network's subnets and ports. */
const NETWORK_AUDIENCE = ['project_id', 'shared', 'router:external'];

export type TopologyDoc = Record<string, unknown> & { id: string };
export type TopologySnapshot = Record<TopologyKind, TopologyDoc[]>;
export type TopologyChange =
  | { op: 'upsert'; kind: TopologyKind; doc: TopologyDoc }
  | { op: 'delete'; kind: TopologyKind; id: string };

export function projectDoc(kind: TopologyKind, ctx: RequestContext, doc: Doc): TopologyDoc {
  const rule = RULES[kind];
  const out: TopologyDoc = { id: doc.id };
  const names = ctx.isAdmin && rule.adminAttributes ? [...rule.attributes, ...rule.adminAttributes] : rule.attributes;
  for (const name of names) if (doc[name] !== undefined) out[name] = doc[name];
  return out;
}

/**
 * One caller's view, kept across commits: which documents the caller holds, so that a document
 * that leaves their sight (deleted, or a network no longer shared) becomes a delete, and nothing
 * they never saw is ever named to them.
 */
export class TopologyView {
  private readonly held = new Set<string>();

  constructor(readonly ctx: RequestContext) {}

  /** Everything visible now; resets what the caller holds. */
  snapshot(view: ReadView): TopologySnapshot {
    this.held.clear();
    const out = {} as TopologySnapshot;
    for (const kind of TOPOLOGY_KINDS) {
      out[kind] = [];
      for (const doc of view.list(kind)) {
        if (!RULES[kind].visible(view, this.ctx, doc)) continue;
        this.held.add(`${kind}:${doc.id}`);
        out[kind].push(projectDoc(kind, this.ctx, doc));
      }
    }
    return out;
  }

  /** What one commit changes in the caller's view; `view` is the model after the commit. */
  apply(changes: readonly Change[], view: ReadView): TopologyChange[] {
    const touched = new Map<string, { kind: TopologyKind; id: string }>();
    const touch = (kind: TopologyKind, id: string) => touched.set(`${kind}:${id}`, { kind, id });
    for (const change of changes) {
      if (!isTopologyKind(change.kind)) continue;
      touch(change.kind, change.id);
      // Subnets and ports are seen through their network: when its audience changes, so may theirs.
      const { doc, prev } = change;
      if (change.kind === 'network' && doc && prev && NETWORK_AUDIENCE.some((a) => doc[a] !== prev[a])) {
        for (const subnet of view.find('subnet', 'network_id', change.id)) touch('subnet', subnet.id);
        for (const port of view.find('port', 'network_id', change.id)) touch('port', port.id);
      }
    }
    const out: TopologyChange[] = [];
    for (const [key, { kind, id }] of touched) {
      const doc = view.get(kind, id);
      if (doc && RULES[kind].visible(view, this.ctx, doc)) {
        this.held.add(key);
        out.push({ op: 'upsert', kind, doc: projectDoc(kind, this.ctx, doc) });
      } else if (this.held.delete(key)) {
        out.push({ op: 'delete', kind, id });
      }
    }
    return out;
  }

  /** How many documents the caller holds (tests, diagnostics). */
  get size(): number {
    return this.held.size;
  }
}
