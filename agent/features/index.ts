// Every feature compiler, in pipeline order. The engine (engine.ts) compiles their units.
import { classifyFeature } from './classify.ts';
import { dhcpFeature } from './dhcp.ts';
import type { Feature } from './engine.ts';
import { l2Feature } from './l2.ts';
import { outputFeature } from './output.ts';
import { portSecurityFeature } from './port-security.ts';
import { providerFeature } from './provider.ts';
import { tunnelsFeature } from './tunnels.ts';
import { securityGroupsFeature } from './security-groups.ts';

/** The forwarding features: classify, spoof_guard, l2_lookup, output (no security groups). */
export const FORWARDING_FEATURES: readonly Feature[] = [
  classifyFeature, tunnelsFeature, providerFeature, portSecurityFeature, l2Feature, outputFeature,
];

export const ALL_FEATURES: Feature[] = [
  classifyFeature, dhcpFeature, tunnelsFeature, providerFeature, portSecurityFeature,
  securityGroupsFeature,
  l2Feature, outputFeature,
];

export { classifyFeature, dhcpFeature, l2Feature, outputFeature, portSecurityFeature, providerFeature, tunnelsFeature };
