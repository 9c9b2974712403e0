import { z } from 'zod';
import { bool, description, name, ownership, standardAttributes } from '../common.ts';

const networkType = z.enum(['vxlan', 'vlan', 'flat']);
const segId = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().nullable());

export const NetworkCreate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    admin_state_up: bool.optional(),
    shared: bool.optional(),
    'router:external': bool.optional(),
    mtu: z.number().int().min(68).optional(),
    port_security_enabled: bool.optional(),
    'provider:network_type': networkType.optional(),
    'provider:physical_network': z.string().min(1).max(64).nullable().optional(),
    'provider:segmentation_id': segId.optional(),
    availability_zone_hints: z.array(z.string()).optional(),
    tags: z.array(z.string()).optional(),
    ...ownership,
  })
  .strict();
export type NetworkCreate = z.infer<typeof NetworkCreate>;

export const NetworkUpdate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    admin_state_up: bool.optional(),
    shared: bool.optional(),
    'router:external': bool.optional(),
    mtu: z.number().int().min(68).optional(),
    port_security_enabled: bool.optional(),
  })
  .strict();
export type NetworkUpdate = z.infer<typeof NetworkUpdate>;

export const Network = z.object({
  ...standardAttributes,
  admin_state_up: z.boolean(),
  shared: z.boolean(),
  'router:external': z.boolean(),
  mtu: z.number().int(),
  port_security_enabled: z.boolean(),
  status: z.string(),
  subnets: z.array(z.string()),
  'provider:network_type': networkType,
  'provider:physical_network': z.string().nullable(),
  'provider:segmentation_id': z.number().int().nullable(),
  availability_zone_hints: z.array(z.string()),
  availability_zones: z.array(z.string()),
});
export type Network = z.infer<typeof Network>;
