import { z } from 'zod';
import { description, ipAddress, ownership, uuid } from '../common.ts';

// Floating IPs (Neutron l3 + fip-port-details).

export const FloatingIpCreate = z
  .object({
    floating_network_id: uuid,
    floating_ip_address: ipAddress.optional(),
    subnet_id: uuid.nullable().optional(),
    port_id: uuid.nullable().optional(),
    fixed_ip_address: ipAddress.nullable().optional(),
    description: description.optional(),
    qos_policy_id: z.null().optional(),
    tags: z.array(z.string()).optional(),
    ...ownership,
  })
  .strict();
export type FloatingIpCreate = z.infer<typeof FloatingIpCreate>;

export const FloatingIpUpdate = z
  .object({
    port_id: uuid.nullable().optional(),
    fixed_ip_address: ipAddress.nullable().optional(),
    description: description.optional(),
    qos_policy_id: z.null().optional(),
  })
  .strict();
export type FloatingIpUpdate = z.infer<typeof FloatingIpUpdate>;

export const PortDetails = z.object({
  name: z.string(),
  network_id: z.string(),
  mac_address: z.string(),
  admin_state_up: z.boolean(),
  status: z.string(),
  device_id: z.string(),
  device_owner: z.string(),
});

export const FloatingIp = z.object({
  id: z.string(),
  project_id: z.string(),
  tenant_id: z.string(),
  description: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  revision_number: z.number().int(),
  tags: z.array(z.string()),
  floating_network_id: z.string(),
  floating_ip_address: z.string(),
  port_id: z.string().nullable(),
  fixed_ip_address: z.string().nullable(),
  router_id: z.string().nullable(),
  status: z.string(),
  port_details: PortDetails.nullable(),
  port_forwardings: z.array(z.unknown()),
  qos_policy_id: z.string().nullable(),
  qos_network_policy_id: z.string().nullable(),
});
export type FloatingIp = z.infer<typeof FloatingIp>;
