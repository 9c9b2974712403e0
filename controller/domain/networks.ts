import type { RequestContext } from '../auth/context.ts';
import { refreshGatewayCapableOnNetwork } from './gateway-capable.ts';
import type { Config } from '../config.ts';
import { inUse, invalidInput } from '../errors.ts';
import type { Doc, Tx } from '../store/types.ts';
import type { NetworkCreate, NetworkUpdate } from '../../schemas/api/network.ts';
import { releasePortClaims } from './claims.ts';
import { removeFloatingIp } from './floatingips.ts';
import { owningProject, requireAdminFor } from './policy.ts';
import {
  allocateTenantSegment, claimProviderSegment, maxMtu, releaseSegment, segmentPlan, type NetworkType, type Segment,
} from './segments.ts';
import { revise, standard } from './standard-attrs.ts';

export const PROVIDER_ATTRS = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'] as const;
const ADMIN_CREATE = [...PROVIDER_ATTRS, 'shared', 'router:external'] as const;
const ADMIN_UPDATE = ['shared', 'router:external'] as const;

/** Ports that go away with their network instead of keeping it in use. */
const NETWORK_OWNED = new Set(['network:dhcp']);

export function segmentOf(network: Doc): Segment {
  return {
    network_type: network['provider:network_type'] as NetworkType,
    physical_network: (network['provider:physical_network'] as string | null) ?? null,
    segmentation_id: (network['provider:segmentation_id'] as number | null) ?? null,
  };
}

export function networkDomain(config: Config) {
  const plan = segmentPlan(config);

  function checkMtu(mtu: number, type: NetworkType): void {
    const max = maxMtu(type, config.physicalMtu);
    if (mtu > max) throw invalidInput(`Requested MTU is too big, maximum is ${max}`);
  }

  return {
    create(tx: Tx, ctx: RequestContext, input: NetworkCreate): Doc {
      requireAdminFor(ctx, input, ADMIN_CREATE, 'create_network');
      const project = owningProject(ctx, input);
      const base = standard(project);
      const asked = PROVIDER_ATTRS.some((a) => input[a] !== undefined);
      const segment = asked
        ? claimProviderSegment(tx, plan, {
            network_type: input['provider:network_type'],
            physical_network: input['provider:physical_network'],
            segmentation_id: input['provider:segmentation_id'],
          }, base.id)
        : allocateTenantSegment(tx, plan, base.id);
      const mtu = input.mtu ?? maxMtu(segment.network_type, config.physicalMtu);
      checkMtu(mtu, segment.network_type);
      const doc = {
        ...base,
        name: input.name ?? '',
        description: input.description ?? '',
        admin_state_up: input.admin_state_up ?? true,
        shared: input.shared ?? false,
        'router:external': input['router:external'] ?? false,
        mtu,
        port_security_enabled: input.port_security_enabled ?? true,
        status: 'ACTIVE',
        'provider:network_type': segment.network_type,
        'provider:physical_network': segment.physical_network,
        'provider:segmentation_id': segment.segmentation_id,
        availability_zone_hints: input.availability_zone_hints ?? [],
        tags: [...new Set(input.tags ?? [])],
      };
      tx.put('network', doc);
      refreshGatewayCapableOnNetwork(tx, null, doc);
      return doc;
    },

    update(tx: Tx, ctx: RequestContext, current: Doc, input: NetworkUpdate): Doc {
      requireAdminFor(ctx, input, ADMIN_UPDATE, 'update_network');
      if (input.mtu !== undefined) checkMtu(input.mtu, current['provider:network_type'] as NetworkType);
      if (input['router:external'] === false && current['router:external']) {
        const fips = tx.find('floatingip', 'floating_network_id', current.id);
        if (fips.length) throw inUse('NetworkInUse', `Unable to complete operation on network ${current.id}. There are one or more floating IPs on it.`);
      }
      const next = revise(current, input as Partial<Doc>);
      tx.put('network', next);
      refreshGatewayCapableOnNetwork(tx, current, next);
      return next;
    },

    remove(tx: Tx, _ctx: RequestContext, network: Doc): void {
      const ports = tx.find('port', 'network_id', network.id);
      const blocking = ports.filter((p) => !NETWORK_OWNED.has(p.device_owner as string));
      // Unassociated floating IPs go with their network (Neutron's delete_disassociated_floatingips).
      const fips = tx.find('floatingip', 'floating_network_id', network.id);
      const associated = fips.filter((f) => f.port_id);
      const gateways = tx.list('router').filter((r) => (r.external_gateway_info as { network_id?: string } | null)?.network_id === network.id);
      if (blocking.length || associated.length || gateways.length) {
        throw inUse('NetworkInUse', `Unable to complete operation on network ${network.id}. There are one or more ports still in use on the network.`);
      }
      for (const fip of fips) removeFloatingIp(tx, fip);
      for (const port of ports) {
        releasePortClaims(tx, port);
        tx.remove('port', port.id);
      }
      for (const subnet of tx.find('subnet', 'network_id', network.id)) tx.remove('subnet', subnet.id);
      releaseSegment(tx, segmentOf(network));
      tx.remove('network', network.id);
      refreshGatewayCapableOnNetwork(tx, network, null);
    },
  };
}
