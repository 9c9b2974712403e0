import { z } from 'zod';
import { description, ipAddress, uuid } from '../common.ts';

// Floating IP port forwardings (Neutron floating-ip-port-forwarding, -port-ranges, -description).
// A sub-resource of a floating IP: /v2.0/floatingips/{floatingip_id}/port_forwardings.

const portNumber = z.number().int().min(1).max(65535);
/** 'lo:hi' or a single 'n' (Neutron's port range strings). */
const portRange = z.string().regex(/^\d{1,5}(:\d{1,5})?$/, 'is not a valid port range');
const protocol = z.enum(['tcp', 'udp']);

export const PortForwardingCreate = z
  .object({
    protocol,
    internal_ip_address: ipAddress,
    internal_port_id: uuid,
    internal_port: portNumber.optional(),
    external_port: portNumber.optional(),
    internal_port_range: portRange.optional(),
    external_port_range: portRange.optional(),
    description: description.optional(),
  })
  .strict();
export type PortForwardingCreate = z.infer<typeof PortForwardingCreate>;

export const PortForwardingUpdate = z
  .object({
    protocol: protocol.optional(),
    internal_ip_address: ipAddress.optional(),
    internal_port_id: uuid.optional(),
    internal_port: portNumber.optional(),
    external_port: portNumber.optional(),
    internal_port_range: portRange.optional(),
    external_port_range: portRange.optional(),
    description: description.optional(),
  })
  .strict();
export type PortForwardingUpdate = z.infer<typeof PortForwardingUpdate>;

/** How a port forwarding is stored inside its floating IP document (`port_forwardings`). */
export const StoredPortForwarding = z.object({
  id: z.string(),
  protocol,
  internal_ip_address: z.string(),
  internal_port_id: z.string(),
  internal_port_start: z.number(),
  internal_port_end: z.number(),
  external_port_start: z.number(),
  external_port_end: z.number(),
  description: z.string(),
});
export type StoredPortForwarding = z.infer<typeof StoredPortForwarding>;
