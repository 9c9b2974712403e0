import type { Config } from '../config.ts';
import { conflict, invalidInput, NeutronError } from '../errors.ts';
import type { Tx } from '../store/types.ts';

// Network segments: VXLAN VNIs, VLAN ids per physical network, flat physical networks.
// Tenant networks get one from the configured ranges; admins may ask for a specific one.
// Every segment in use is a unique claim, so two networks can never share one.

export type NetworkType = 'vxlan' | 'vlan' | 'flat';

export interface Segment {
  network_type: NetworkType;
  physical_network: string | null;
  segmentation_id: number | null;
}

export interface SegmentRequest {
  network_type?: NetworkType;
  physical_network?: string | null;
  segmentation_id?: number | null;
}

interface Range { min: number; max: number }

export interface SegmentPlan {
  tenantTypes: readonly ('vxlan' | 'vlan')[];
  vni: Range[];
  vlan: Map<string, Range[]>;
  flat: readonly string[];
}

export function segmentPlan(config: Config): SegmentPlan {
  const parse = (s: string): Range => {
    const [min, max] = s.split(':').map(Number);
    return { min: Math.min(min, max), max: Math.max(min, max) };
  };
  const vlan = new Map<string, Range[]>();
  for (const entry of config.segments.vlanRanges) {
    const [physnet, min, max] = entry.split(':');
    const ranges = vlan.get(physnet) ?? [];
    if (min !== undefined) ranges.push(parse(`${min}:${max}`));
    vlan.set(physnet, ranges);
  }
  return {
    tenantTypes: config.segments.tenantNetworkTypes,
    vni: config.segments.vniRanges.map(parse),
    vlan,
    flat: config.segments.flatNetworks,
  };
}

const scope = (s: Segment) =>
  s.network_type === 'vxlan' ? 'segment:vxlan' : s.network_type === 'vlan' ? `segment:vlan:${s.physical_network}` : 'segment:flat';
const key = (s: Segment) => (s.network_type === 'flat' ? String(s.physical_network) : String(s.segmentation_id));

function firstFree(tx: Tx, claimScope: string, ranges: Range[], owner: string): number | undefined {
  for (const { min, max } of ranges) {
    for (let id = min; id <= max; id++) {
      if (tx.claimOwner(claimScope, String(id)) === undefined) {
        tx.claim(claimScope, String(id), owner);
        return id;
      }
    }
  }
  return undefined;
}

const noNetwork = () =>
  new NeutronError(503, 'NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');

/** Allocate a tenant segment from the configured ranges, in the configured order of types. */
export function allocateTenantSegment(tx: Tx, plan: SegmentPlan, owner: string): Segment {
  for (const type of plan.tenantTypes) {
    if (type === 'vxlan') {
      const id = firstFree(tx, 'segment:vxlan', plan.vni, owner);
      if (id !== undefined) return { network_type: 'vxlan', physical_network: null, segmentation_id: id };
    } else {
      for (const [physnet, ranges] of plan.vlan) {
        const id = firstFree(tx, `segment:vlan:${physnet}`, ranges, owner);
        if (id !== undefined) return { network_type: 'vlan', physical_network: physnet, segmentation_id: id };
      }
    }
  }
  throw noNetwork();
}

/** Validate and claim a segment an admin asked for explicitly. */
export function claimProviderSegment(tx: Tx, plan: SegmentPlan, request: SegmentRequest, owner: string): Segment {
  const type = request.network_type;
  if (!type) throw invalidInput('provider:network_type required when provider attributes are given');
  const physnet = request.physical_network ?? null;
  const segId = request.segmentation_id ?? null;
  if (type === 'vxlan') {
    if (physnet !== null) throw invalidInput('provider:physical_network specified for vxlan network');
    if (segId === null) {
      const id = firstFree(tx, 'segment:vxlan', plan.vni, owner);
      if (id === undefined) throw noNetwork();
      return { network_type: 'vxlan', physical_network: null, segmentation_id: id };
    }
    if (segId < 1 || segId > 16777215) throw invalidInput(`segmentation_id ${segId} out of range (1 through 16777215)`);
    const seg: Segment = { network_type: 'vxlan', physical_network: null, segmentation_id: segId };
    if (!tx.claim(scope(seg), key(seg), owner)) {
      throw conflict('TunnelIdInUse', `Unable to create the network. The tunnel ID ${segId} is in use.`);
    }
    return seg;
  }
  if (physnet === null) throw invalidInput(`provider:physical_network required for ${type} provider network`);
  if (type === 'flat') {
    if (segId !== null) throw invalidInput('provider:segmentation_id specified for flat network');
    if (!plan.flat.includes('*') && !plan.flat.includes(physnet)) {
      throw invalidInput(`physical_network '${physnet}' unknown for flat provider network`);
    }
    const seg: Segment = { network_type: 'flat', physical_network: physnet, segmentation_id: null };
    if (!tx.claim(scope(seg), key(seg), owner)) {
      throw conflict('FlatNetworkInUse', `Unable to create the flat network. Physical network ${physnet} is in use.`);
    }
    return seg;
  }
  if (!plan.vlan.has(physnet)) throw invalidInput(`physical_network '${physnet}' unknown for VLAN provider network`);
  if (segId === null) {
    const id = firstFree(tx, `segment:vlan:${physnet}`, plan.vlan.get(physnet)!, owner);
    if (id === undefined) throw noNetwork();
    return { network_type: 'vlan', physical_network: physnet, segmentation_id: id };
  }
  if (segId < 1 || segId > 4094) throw invalidInput(`segmentation_id ${segId} out of range (1 through 4094)`);
  const seg: Segment = { network_type: 'vlan', physical_network: physnet, segmentation_id: segId };
  if (!tx.claim(scope(seg), key(seg), owner)) {
    throw conflict('VlanIdInUse', `Unable to create the network. The VLAN ${segId} on physical network ${physnet} is in use.`);
  }
  return seg;
}

export function releaseSegment(tx: Tx, segment: Segment): void {
  tx.release(scope(segment), key(segment));
}

/** The largest MTU a network of this type can carry over the underlay. */
export function maxMtu(type: NetworkType, physicalMtu: number): number {
  return type === 'vxlan' ? physicalMtu - 50 : physicalMtu;
}
