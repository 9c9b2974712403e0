import type { ApiPlugin } from './context.ts';
import { networksApi } from './networks/index.ts';

/** Every API resource, in the order its routes are registered. */
export const apiPlugins: ApiPlugin[] = [networksApi];

import { quotasApi } from './quotas/index.ts';
import { extensionsApi } from './extensions/index.ts';
apiPlugins.push(quotasApi, extensionsApi);

import { securityGroupsApi } from './security-groups/index.ts';
import { securityGroupRulesApi } from './security-group-rules/index.ts';
apiPlugins.push(securityGroupsApi, securityGroupRulesApi);

import { subnetsApi } from './subnets/index.ts';
import { subnetPoolsApi } from './subnetpools/index.ts';
import { portsApi } from './ports/index.ts';
apiPlugins.push(subnetsApi, subnetPoolsApi, portsApi);

import { routersApi } from './routers/index.ts';
import { floatingIpsApi } from './floatingips/index.ts';
import { portForwardingsApi } from './port-forwardings/index.ts';
apiPlugins.push(routersApi, floatingIpsApi, portForwardingsApi);

import { agentsApi } from './agents/index.ts';
import { agentIdentityApi } from './agent-identity/index.ts';
import { legsDownApi } from './agent-identity/legs-down.ts';
import { l3AgentsApi } from './routers/l3-agents.ts';
apiPlugins.push(agentsApi, agentIdentityApi, legsDownApi, l3AgentsApi);

import { fwaasApi } from './fwaas/index.ts';
apiPlugins.push(fwaasApi);

import { statusApi } from './status/index.ts';
apiPlugins.push(statusApi);

import { topologyApi } from './topology/index.ts';
import { dashboardApi } from './dashboard/index.ts';
apiPlugins.push(topologyApi, dashboardApi);
