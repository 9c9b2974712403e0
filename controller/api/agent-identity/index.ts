import { z } from 'zod';
import {
  AgentCredentialRequest, AgentEnrolmentCreate, CREDENTIALS_PATH, ENROL_PATH, ENROLMENTS_PATH,
} from '../../../schemas/api/agent-identity.ts';
import {
  AGENT_CREDENTIAL_KIND, AGENT_ENROLMENT_KIND, credentialOfHost, createEnrolment, enrolmentRefused, presentCredential,
  presentEnrolment, redeemEnrolment, revokeCredential, type AgentCredentialDoc, type AgentEnrolmentDoc,
} from '../../auth/agent-credentials.ts';
import { header } from '../../auth/context.ts';
import { NeutronError, forbidden } from '../../errors.ts';
import { parseWith, unwrapBody } from '../body.ts';
import type { ApiPlugin } from '../context.ts';

// Agent identity (auth/agent-credentials.ts), under Weft's own path:
//   POST   /v2.0/weft/agent-enrolments          admin: a one-time enrolment token for a host (shown once)
//   GET    /v2.0/weft/agent-enrolments          admin: the enrolments, used or not (never their tokens)
//   DELETE /v2.0/weft/agent-enrolments/{id}     admin: withdraw one
//   POST   /v2.0/weft/enrol                     the agent, with X-Auth-Token: <enrolment token>: its credential (shown once)
//   GET    /v2.0/weft/agent-credentials         admin: which hosts hold a credential
//   DELETE /v2.0/weft/agent-credentials/{host}  admin: revoke a host's credential (its connection is closed)
// The enrol path is public (app.ts): the enrolment token is its credential, checked here.

const notFoundOf = (what: string, ref: string) => new NeutronError(404, `${what}NotFound`, `${what === 'AgentEnrolment' ? 'Agent enrolment' : 'Agent credential for host'} ${ref} could not be found.`);

export const agentIdentityApi: ApiPlugin = (app, { store }) => {
  const docs = (summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: ['weft'], summary, ...extra } });
  const adminOnly = (isAdmin: boolean, action: string) => {
    if (!isAdmin) throw forbidden(action);
  };

  app.post(ENROLMENTS_PATH, docs('Make a one-time enrolment token for a host (admin); the token is shown once', {
    body: z.object({ agent_enrolment: AgentEnrolmentCreate }),
  }), async (req, reply) => {
    adminOnly(req.ctx.isAdmin, 'create_agent_enrolment');
    const input = parseWith(AgentEnrolmentCreate, unwrapBody(req.body, 'agent_enrolment').items[0]);
    const now = Date.now();
    const { result } = await store.transact((tx) => createEnrolment(tx, input.host, now, input.expires_in));
    return reply.code(201).send({ agent_enrolment: { ...presentEnrolment(result.doc), token: result.token } });
  });

  app.get(ENROLMENTS_PATH, docs('List enrolments (admin)'), async (req) => {
    adminOnly(req.ctx.isAdmin, 'get_agent_enrolments');
    const list = store.view().list<AgentEnrolmentDoc>(AGENT_ENROLMENT_KIND).sort((a, b) => a.created_at.localeCompare(b.created_at));
    return { agent_enrolments: list.map(presentEnrolment) };
  });

  app.delete(`${ENROLMENTS_PATH}/:id`, docs('Withdraw an enrolment (admin)'), async (req, reply) => {
    adminOnly(req.ctx.isAdmin, 'delete_agent_enrolment');
    const { id } = req.params as { id: string };
    await store.transact((tx) => {
      if (!tx.get(AGENT_ENROLMENT_KIND, id)) throw notFoundOf('AgentEnrolment', id);
      tx.remove(AGENT_ENROLMENT_KIND, id);
    });
    return reply.code(204).send();
  });

  app.post(ENROL_PATH, docs("Redeem an enrolment token (X-Auth-Token) for the host's agent credential; it works once", {
    body: z.object({ agent_credential: AgentCredentialRequest }),
  }), async (req, reply) => {
    const token = header(req.headers, 'x-auth-token')?.trim();
    if (!token) throw enrolmentRefused(401, 'An enrolment token is needed in X-Auth-Token.');
    const input = parseWith(AgentCredentialRequest, unwrapBody(req.body, 'agent_credential').items[0]);
    // The enrolment may have been made through another replica a moment ago.
    await store.readBarrier?.();
    const now = Date.now();
    const { result } = await store.transact((tx) => redeemEnrolment(tx, token, input.host, now));
    req.log.info({ host: input.host }, 'agent enrolled');
    return reply.code(201).send({ agent_credential: { ...presentCredential(result.doc), credential: result.secret } });
  });

  app.get(CREDENTIALS_PATH, docs('List the hosts that hold an agent credential (admin)'), async (req) => {
    adminOnly(req.ctx.isAdmin, 'get_agent_credentials');
    const list = store.view().list<AgentCredentialDoc>(AGENT_CREDENTIAL_KIND).sort((a, b) => a.host.localeCompare(b.host));
    return { agent_credentials: list.map(presentCredential) };
  });

  app.delete(`${CREDENTIALS_PATH}/:host`, docs("Revoke a host's agent credential (admin); its agent is disconnected"), async (req, reply) => {
    adminOnly(req.ctx.isAdmin, 'delete_agent_credential');
    const { host } = req.params as { host: string };
    await store.transact((tx) => {
      if (!credentialOfHost(tx, host)) throw notFoundOf('AgentCredential', host);
      revokeCredential(tx, host);
    });
    return reply.code(204).send();
  });
};
