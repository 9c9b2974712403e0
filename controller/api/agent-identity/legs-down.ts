import { z } from 'zod';
import { HaLegsDownRequest, LEGS_DOWN_PATH } from '../../../schemas/api/agent-identity.ts';
import { isAgentCredential } from '../../auth/agent-credentials.ts';
import { header } from '../../auth/context.ts';
import { NeutronError } from '../../errors.ts';
import { agentCredentialOf, invalidCredential } from '../../sync/channel.ts';
import { parseWith, unwrapBody } from '../body.ts';
import type { ApiPlugin } from '../context.ts';

//   POST /v2.0/weft/ha-legs-down   a host's L3 dead-man watcher, with X-Auth-Token: <that host's agent credential>
// After its agent died, the watcher (agent/l3/dead-man.ts) has set the host's HA router legs down
// and says so here, so that the controller moves the host's HA routers now instead of l3FenceMs +
// margin after the agent's channel closed (sync/hub-failovers.ts legsDown: at once when that agent
// is not alive; while it is still heard, held for a second and acted on if it is lost within it).
// The path is public (app.ts) because the host's own credential is its authentication, checked
// here: nothing but an agent credential of the host named is taken (not even an admin's token: an
// operator who knows a host is dead can set its agent admin-down). The answer (202)
// says whether the routers were moved or why not; the watcher does not read it.

export const hostMismatch = (credentialHost: string, host: string) =>
  new NeutronError(403, 'AgentCredentialHostMismatch', `The agent credential of host ${credentialHost} cannot speak for host ${host}.`);

export const legsDownApi: ApiPlugin = (app, { store, sync }) => {
  app.post(LEGS_DOWN_PATH, { schema: {
    tags: ['weft'], summary: "A host's dead-man watcher (with that host's agent credential): its HA router legs are down",
    body: z.object({ ha_legs_down: HaLegsDownRequest }),
  } }, async (req, reply) => {
    const token = header(req.headers, 'x-auth-token')?.trim();
    if (!token || !isAgentCredential(token)) throw invalidCredential();
    const credential = await agentCredentialOf(store, token);
    const { host } = parseWith(HaLegsDownRequest, unwrapBody(req.body, 'ha_legs_down').items[0]);
    if (credential.host !== host) throw hostMismatch(credential.host, host);
    const result = sync ? await sync.legsDown(host) : { host, action: 'ignored' as const, reason: 'no agent sync on this controller' };
    req.log.info({ host, action: result.action, reason: result.reason, routers: result.routers }, 'dead-man watcher: HA legs down');
    return reply.code(202).send({ ha_legs_down: result });
  });
};
