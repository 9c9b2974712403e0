// weft agent enrol HOST / weft agent revoke HOST: a host's agent identity. `enrol` makes a one-time
// enrolment token for HOST (shown once) and says how to start the agent with it; `revoke` drops
// the host's credential, which disconnects its agent until it is enrolled again.
import { CREDENTIALS_PATH, ENROLMENTS_PATH } from '../../schemas/api/agent-identity.ts';
import { emit, optInt, type CommandContext } from '../context.ts';

interface Enrolment {
  id: string;
  host: string;
  expires_at: string;
  token: string;
}

export async function agentEnrolCommand(ctx: CommandContext): Promise<void> {
  const host = ctx.args.HOST!;
  const expires = optInt(ctx, 'expires');
  const res = await ctx.client().request<{ agent_enrolment: Enrolment }>('POST', ENROLMENTS_PATH, {
    agent_enrolment: { host, ...(expires ? { expires_in: expires } : {}) },
  });
  const e = res.body.agent_enrolment;
  emit(ctx, e, () => [
    e.token,
    '',
    `a one-time enrolment token for host ${e.host}, good until ${e.expires_at} (it is not shown again). On ${e.host}:`,
    `  WEFT_HOST=${e.host} WEFT_ENROLMENT_TOKEN=${e.token} WEFT_CONTROLLER_URL=${ctx.client().url} weft-agent`,
    'The agent redeems it for its own credential, kept in WEFT_STATE_DIR (default /var/lib/weft-agent), and restarts with that.',
  ].join('\n'));
}

export async function agentRevokeCommand(ctx: CommandContext): Promise<void> {
  const host = ctx.args.HOST!;
  await ctx.client().request('DELETE', `${CREDENTIALS_PATH}/${encodeURIComponent(host)}`);
  emit(ctx, { host, revoked: true }, () => `revoked the credential of host ${host}: its agent is disconnected until the host is enrolled again`);
}
