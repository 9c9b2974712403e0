import { z } from 'zod';
import { bool, cidr, description, ipAddress, name, ownership, standardAttributes, uuid } from '../common.ts';

// Routers (Neutron l3 + extraroute + extraroute-atomic extensions).

export const ExternalFixedIp = z
  .object({
    subnet_id: uuid.optional(),
    ip_address: ipAddress.optional(),
  })
  .strict();
export type ExternalFixedIp = z.infer<typeof ExternalFixedIp>;

/**
 * external_gateway_info: an object with network_id, or null / {} to clear the gateway
 * (Neutron's `type:dict_or_nodata` with network_id required when anything is given).
 */
export const ExternalGatewayInfo = z.union([
  z.null(),
  z.object({}).strict(),
  z
    .object({
      network_id: uuid,
      enable_snat: bool.optional(),
      external_fixed_ips: z.array(ExternalFixedIp).optional(),
    })
    .strict(),
]);
export type ExternalGatewayInfo = z.infer<typeof ExternalGatewayInfo>;

export const Route = z
  .object({
    destination: cidr,
    nexthop: ipAddress,
  })
  .strict();
export type Route = z.infer<typeof Route>;

export const Routes = z.array(Route);

export const RouterCreate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    admin_state_up: bool.optional(),
    external_gateway_info: ExternalGatewayInfo.optional(),
    distributed: bool.optional(),
    ha: bool.optional(),
    availability_zone_hints: z.array(z.string()).optional(),
    flavor_id: z.null().optional(),
    tags: z.array(z.string()).optional(),
    ...ownership,
  })
  .strict();
export type RouterCreate = z.infer<typeof RouterCreate>;

export const RouterUpdate = z
  .object({
    name: name.optional(),
    description: description.optional(),
    admin_state_up: bool.optional(),
    external_gateway_info: ExternalGatewayInfo.optional(),
    routes: Routes.nullable().optional(),
    distributed: bool.optional(),
    ha: bool.optional(),
  })
  .strict();
export type RouterUpdate = z.infer<typeof RouterUpdate>;

/** Body of PUT /routers/{id}/add_router_interface and remove_router_interface (not wrapped). */
export const RouterInterfaceInfo = z.object({
  subnet_id: uuid.optional(),
  port_id: uuid.optional(),
});
export type RouterInterfaceInfo = z.infer<typeof RouterInterfaceInfo>;

/** Body of PUT /routers/{id}/add_extraroutes and remove_extraroutes. */
export const ExtraRoutesBody = z.object({ router: z.object({ routes: Routes }).strict() }).strict();

export const RouterInterface = z.object({
  id: z.string(),
  tenant_id: z.string(),
  project_id: z.string(),
  port_id: z.string(),
  network_id: z.string(),
  subnet_id: z.string(),
  subnet_ids: z.array(z.string()),
});
export type RouterInterface = z.infer<typeof RouterInterface>;

export const Router = z.object({
  ...standardAttributes,
  admin_state_up: z.boolean(),
  status: z.string(),
  external_gateway_info: z
    .object({
      network_id: z.string(),
      enable_snat: z.boolean(),
      external_fixed_ips: z.array(z.object({ subnet_id: z.string(), ip_address: z.string() })),
    })
    .nullable(),
  routes: z.array(z.object({ destination: z.string(), nexthop: z.string() })),
  distributed: z.boolean().optional(),
  ha: z.boolean().optional(),
  flavor_id: z.string().nullable(),
  availability_zone_hints: z.array(z.string()),
  availability_zones: z.array(z.string()),
});
export type Router = z.infer<typeof Router>;
