// tempest.conf for a run of Tempest's and neutron-tempest-plugin's API tests against Weft:
// Keystone for identity (dynamic credentials: Tempest makes a project and users per test class),
// Weft as the only service, the public network made for the run, and the extensions Weft serves.

export interface TempestSettings {
  keystoneUrl: string; // with /v3
  adminPassword: string;
  region: string;
  publicNetworkId: string;
  publicNetworkName: string;
  /** Extension aliases Tempest may assume (Weft's /v2.0/extensions). */
  extensions: readonly string[];
  logDir: string;
  /** Physical network of flat/VLAN provider networks the tests may create. */
  physicalNetwork: string;
  /** Segment types Weft accepts for provider networks. */
  typeDrivers: readonly string[];
}

export function tempestConf(s: TempestSettings): string {
  const sections: Record<string, Record<string, string>> = {
    DEFAULT: { log_dir: s.logDir, log_file: 'tempest.log', use_stderr: 'false' },
    auth: {
      use_dynamic_credentials: 'true',
      // Tempest's own per-project networks: each test makes what it needs.
      create_isolated_networks: 'false',
      admin_username: 'admin',
      admin_password: s.adminPassword,
      admin_project_name: 'admin',
      admin_domain_name: 'Default',
      default_credentials_domain_name: 'Default',
    },
    identity: { uri_v3: s.keystoneUrl, auth_version: 'v3', region: s.region, disable_ssl_certificate_validation: 'true' },
    'identity-feature-enabled': { api_v2: 'false', api_v3: 'true' },
    service_available: { neutron: 'true', nova: 'false', glance: 'false', cinder: 'false', swift: 'false', heat: 'false', horizon: 'false' },
    network: {
      catalog_type: 'network',
      region: s.region,
      endpoint_type: 'publicURL',
      public_network_id: s.publicNetworkId,
      floating_network_name: s.publicNetworkName,
      project_network_cidr: '10.100.0.0/16',
      project_network_mask_bits: '28',
      project_network_v6_cidr: '2001:db8::/48',
      project_network_v6_mask_bits: '64',
      // No VMs boot in an API run: nothing is reached over the network.
      project_networks_reachable: 'false',
      shared_physical_network: 'false',
      build_timeout: '60',
      build_interval: '1',
    },
    'network-feature-enabled': {
      api_extensions: s.extensions.join(','),
      ipv6: 'true',
      ipv6_subnet_attributes: 'true',
      port_admin_state_change: 'true',
      port_security: String(s.extensions.includes('port-security')),
      floating_ips: 'true',
    },
    neutron_plugin_options: {
      available_type_drivers: s.typeDrivers.join(','),
      provider_vlans: s.physicalNetwork,
      specify_floating_ip_address_available: 'true',
      max_networks_per_project: '0',
    },
    validation: { run_validation: 'false' },
  };
  return Object.entries(sections)
    .map(([name, opts]) => `[${name}]\n${Object.entries(opts).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`)
    .join('\n');
}
