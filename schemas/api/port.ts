import { z } from 'zod';
import { bool, description, ipAddress, isCidr, isIpv4, isIpv6, macAddress, name, ownership, standardAttributes, tags, uuid } from '../common.ts';

// Ports (Neutron v2.0) with the port-security, allowed-address-pairs and port-binding
// extensions. Semantics live in controller/domain/ports.ts.

/** Neutron rejects the all-zero and broadcast MACs. */
export const portMac = macAddress.refine((m) => m !== '00:00:00:00:00:00' && m !== 'ff:ff:ff:ff:ff:ff', { message: 'is not a valid MAC address' });

export const FixedIpRequest = z
  .object({ subnet_id: uuid.optional(), ip_address: ipAddress.optional() })
  .strict();
export type FixedIpRequest = z.infer<typeof FixedIpRequest>;

const ipOrCidr = z.string().refine((s) => isIpv4(s) || isIpv6(s) || isCidr(s), { message: 'is not a valid IP address or CIDR' });

export const AddressPairRequest = z.object({ ip_address: ipOrCidr, mac_address: portMac.optional() }).strict();
export type AddressPairRequest = z.infer<typeof AddressPairRequest>;

export const vnicType = z.enum(['normal']);
const hostId = z.string().max(255);
const profile = z.record(z.string(), z.unknown());

/** What a port's owner may set at creation and change later. */
const portMutable = {
  name: name.optional(),
  description: description.optional(),
  admin_state_up: bool.optional(),
  mac_address: portMac.optional(),
  fixed_ips: z.array(FixedIpRequest).optional(),
  device_id: z.string().max(255).optional(),
  device_owner: z.string().max(255).optional(),
  // type:uuid_list: the same group twice is refused (Neutron's "Duplicate items in the list").
  security_groups: z.array(uuid).nullable().refine((l) => l === null || new Set(l).size === l.length, { message: 'has duplicate items' }).optional(),
  allowed_address_pairs: z.array(AddressPairRequest).nullable().optional(),
  port_security_enabled: bool.optional(),
  'binding:host_id': hostId.optional(),
  'binding:vnic_type': vnicType.optional(),
  'binding:profile': profile.nullable().optional(),
};

export const PortCreate = z
  .object({ network_id: uuid, ...portMutable, tags: tags.optional(), ...ownership })
  .strict();
export type PortCreate = z.infer<typeof PortCreate>;

export const PortUpdate = z.object(portMutable).strict();
export type PortUpdate = z.infer<typeof PortUpdate>;

export const FixedIp = z.object({ subnet_id: z.string(), ip_address: z.string() });
export const AddressPair = z.object({ ip_address: z.string(), mac_address: z.string() });

export const Port = z.object({
  ...standardAttributes,
  network_id: z.string(),
  admin_state_up: z.boolean(),
  mac_address: z.string(),
  fixed_ips: z.array(FixedIp),
  device_id: z.string(),
  device_owner: z.string(),
  status: z.string(),
  security_groups: z.array(z.string()),
  allowed_address_pairs: z.array(AddressPair),
  port_security_enabled: z.boolean(),
  ip_allocation: z.string(),
  extra_dhcp_opts: z.array(z.unknown()),
  'binding:host_id': z.string().optional(),
  'binding:vif_type': z.string().optional(),
  'binding:vif_details': z.record(z.string(), z.unknown()).optional(),
  'binding:vnic_type': z.string(),
  'binding:profile': z.record(z.string(), z.unknown()).optional(),
});
export type Port = z.infer<typeof Port>;
