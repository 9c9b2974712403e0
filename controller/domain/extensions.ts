// The Neutron API extensions Weft implements, as GET /v2.0/extensions lists them.
// Aliases, names, descriptions and dates are Neutron's (neutron-lib api/definitions and
// neutron/extensions), so clients that branch on an alias (openstacksdk, Terraform, the
// CLI) behave as they would against Neutron.
//
// `requires` names the collections (GET /v2.0/<path>) an extension needs: the API lists an
// extension only while all of them are served, so a half-built controller never
// advertises a feature it lacks. Add an entry here only once the feature works, and add
// its probe to test/unit/api/extensions.test.ts.

export interface ExtensionDef {
  readonly alias: string;
  readonly name: string;
  readonly description: string;
  readonly updated: string;
  /** Collection paths under /v2.0 that must be served for the extension to be listed. */
  readonly requires: readonly string[];
}

const NET = ['networks'];
const PORTS = ['ports'];
const ROUTERS = ['routers'];
const PORT_FORWARDINGS = ['floatingips', 'floatingips/:floatingip_id/port_forwardings'];
const FWAAS = ['fwaas/firewall_rules', 'fwaas/firewall_policies', 'fwaas/firewall_groups'];
const SUBNET_POOLS = ['subnetpools', 'subnets'];

export const EXTENSIONS: readonly ExtensionDef[] = [
  { alias: 'external-net', name: 'Neutron external network', description: 'Adds external network attribute to network resource.', updated: '2013-01-14T10:00:00-00:00', requires: NET },
  { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks', updated: '2012-09-07T10:00:00-00:00', requires: NET },
  { alias: 'net-mtu-writable', name: 'Network MTU (writable)', description: 'Provides a writable MTU attribute for a network resource.', updated: '2017-07-12T00:00:00-00:00', requires: NET },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.', updated: '2015-03-25T10:00:00-00:00', requires: NET },
  { alias: 'router', name: 'Neutron L3 Router', description: 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.', updated: '2012-07-20T10:00:00-00:00', requires: [...ROUTERS, 'floatingips'] },
  { alias: 'extraroute', name: 'Neutron Extra Route', description: 'Extra routes configuration for L3 router', updated: '2013-02-01T10:00:00-00:00', requires: ROUTERS },
  { alias: 'extraroute-atomic', name: 'Atomically add/remove extra routes', description: 'Edit extra routes of a router on server side by atomically adding/removing extra routes', updated: '2019-07-10T00:00:00-00:00', requires: ROUTERS },
  { alias: 'ext-gw-mode', name: 'Neutron L3 Configurable external gateway mode', description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway', updated: '2013-03-28T10:00:00-00:00', requires: [...ROUTERS, 'subnets'] },
  { alias: 'fip-port-details', name: 'Floating IP Port Details Extension', description: 'Add port_details attribute to Floating IP resource', updated: '2018-04-09T10:00:00-00:00', requires: ['floatingips', 'subnets'] },
  { alias: 'floating-ip-port-forwarding', name: 'Floating IP Port Forwarding', description: 'Provide a way to configure port forwarding on Floating IP', updated: '2018-01-01T01:00:00-00:00', requires: PORT_FORWARDINGS },
  { alias: 'floating-ip-port-forwarding-port-ranges', name: 'Floating IP Port Forwarding support port ranges', description: 'Add suport to port ranges on floating IP port forwarding.', updated: '2022-01-01T10:00:00-00:00', requires: PORT_FORWARDINGS },
  { alias: 'floating-ip-port-forwarding-description', name: 'Floating IP Port Forwarding new attribute description', description: 'Add a description field to Port Forwarding rules', updated: '2019-11-01T10:00:00-00:00', requires: PORT_FORWARDINGS },
  { alias: 'expose-port-forwarding-in-fip', name: 'Expose port forwarding in fip', description: 'Expose port forwardings in floating IP', updated: '2019-04-24T10:00:00-00:00', requires: PORT_FORWARDINGS },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.', updated: '2012-10-05T10:00:00-00:00', requires: ['security-groups', 'security-group-rules'] },
  { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per project', updated: '2012-07-29T10:00:00-00:00', requires: ['quotas'] },
  { alias: 'quota_details', name: 'Quota details management support', description: 'Expose functions for quotas usage statistics per project', updated: '2017-02-10T10:00:00-00:00', requires: ['quotas'] },
  { alias: 'quota-check-limit', name: 'Quota engine limit check', description: 'Support for checking the resource usage before applying a new quota limit', updated: '2021-09-08T16:00:00-00:00', requires: ['quotas'] },
  { alias: 'binding', name: 'Port Binding', description: 'Expose port bindings of a virtual port to external application', updated: '2014-02-03T10:00:00-00:00', requires: PORTS },
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs', updated: '2013-07-23T10:00:00-00:00', requires: PORTS },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security', updated: '2012-07-23T10:00:00-00:00', requires: PORTS },
  { alias: 'standard-attr-revisions', name: 'Resource revision numbers', description: 'This extension will display the revision number of neutron resources.', updated: '2016-04-11T10:00:00-00:00', requires: NET },
  { alias: 'standard-attr-timestamp', name: 'Resource timestamps', description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.', updated: '2016-09-12T10:00:00-00:00', requires: NET },
  { alias: 'standard-attr-description', name: 'standard-attr-description', description: 'Extension to add descriptions to standard attributes', updated: '2016-02-10T10:00:00-00:00', requires: NET },
  { alias: 'standard-attr-tag', name: 'Tag support for resources with standard attribute: network, subnet, port, router, floatingip, security_group, subnetpool', description: 'Enables to set tag on resources with standard attribute.', updated: '2017-01-01T00:00:00-00:00', requires: NET },
  { alias: 'tag-ports-during-bulk-creation', name: 'Tag Ports During Bulk Creation', description: 'Allow to tag ports during bulk creation', updated: '2019-12-29T19:00:00-00:00', requires: PORTS },
  { alias: 'project-id', name: 'project_id field enabled', description: 'Extension that indicates that project_id field is enabled.', updated: '2016-09-09T09:09:09-09:09', requires: NET },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.', updated: '2016-06-12T00:00:00-00:00', requires: NET },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.', updated: '2016-06-12T00:00:00-00:00', requires: NET },
  { alias: 'filter-validation', name: 'Filter parameters validation', description: 'Provides validation on filter parameters.', updated: '2018-07-04T10:00:00-00:00', requires: NET },
  // neutron-lib api/definitions/l3_ext_ha_mode.py: the router's admin-only `ha` (domain/l3-ha.ts).
  { alias: 'l3-ha', name: 'HA Router extension', description: 'Adds HA capability to routers.', updated: '2014-04-26T00:00:00-00:00', requires: [...ROUTERS, 'agents'] },
  { alias: 'agent', name: 'agent', description: 'The agent management extension.', updated: '2013-02-03T10:00:00-00:00', requires: ['agents'] },
  // neutron-lib api/definitions/firewall_v2.py. Its companion standard-attr-fwaas-v2 is not listed:
  // Neutron dates it '2023-04-027T01:00:00-00:00', which is not a timestamp clients can parse.
  { alias: 'fwaas_v2', name: 'FWaaS v2', description: 'Provides support for firewall-as-a-service version 2', updated: '2016-10-06T10:00:00-00:00', requires: FWAAS },
  // neutron/extensions/subnetallocation.py and neutron-lib's default_subnetpools / subnetpool_prefix_ops.
  { alias: 'subnet_allocation', name: 'Subnet Allocation', description: 'Enables allocation of subnets from a subnet pool', updated: '2015-03-30T10:00:00-00:00', requires: SUBNET_POOLS },
  { alias: 'default-subnetpools', name: 'Default Subnetpools', description: 'Provides ability to mark and use a subnetpool as the default.', updated: '2016-02-18T18:00:00-00:00', requires: SUBNET_POOLS },
  { alias: 'subnetpool-prefix-ops', name: 'Subnet Pool Prefix Operations', description: 'Provides support for adjusting the prefix list of subnet pools', updated: '2019-02-08T10:00:00-00:00', requires: SUBNET_POOLS },
  { alias: 'revision-if-match', name: 'If-Match constraints based on revision_number', description: 'Extension indicating that If-Match based on revision_number is supported.', updated: '2016-12-11T00:00:00-00:00', requires: NET },
];

/** The wire form of one extension. */
export function presentExtension(e: ExtensionDef) {
  return { alias: e.alias, name: e.name, description: e.description, updated: e.updated, links: [] as never[] };
}

/** The extensions whose required collections are all served. */
export function availableExtensions(serves: (collectionPath: string) => boolean): ExtensionDef[] {
  return EXTENSIONS.filter((e) => e.requires.every(serves));
}
