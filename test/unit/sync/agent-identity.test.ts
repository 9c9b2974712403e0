import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { issueCredential } from '../../../controller/auth/agent-credentials.ts';
import { staticTokens } from '../../../controller/auth/static-tokens.ts';
import { CHANNEL_PATH } from '../../../schemas/agent/channel.ts';
import { collect, hello, syncLab, until, type SyncLab } from './support.ts';

// The agent channel and agent identity: a host's credential lets its agent say hello as that host
// only, so it registers, reports for and sees its own host alone; garbage, revoked and replaced
// credentials are refused; admins (tools) may speak for any host; members and the retired shared
// agent token may not connect at all. The API's side is test/unit/api/agent-identity.test.ts.

const adminToken = 'b'.repeat(32);
const memberToken = 'c'.repeat(32);
const retiredAgentToken = 'a'.repeat(32);
const auth = () => staticTokens({
  tokens: {
    [adminToken]: { project_id: 'admin', roles: ['admin'] },
    [memberToken]: { project_id: 'p', roles: ['member'] },
    [retiredAgentToken]: { project_id: 'weft-agents', roles: ['weft-agent'], user_id: 'weft-agent' },
  },
});

let lab: SyncLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function tokenLab(): Promise<SyncLab> {
  return (lab = await syncLab({ auth: 'token' }, auth()));
}

const issue = async (l: SyncLab, host: string) => (await l.store.transact((tx) => issueCredential(tx, host, Date.now()))).result.secret;

async function admin(l: SyncLab, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const res = await l.app.inject({ method, url, headers: { 'x-auth-token': adminToken }, ...(body ? { payload: body as object } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

/** Opens the channel with `token`: 'open', or the refused upgrade's status and NeutronError. */
function upgrade(l: SyncLab, token?: string): Promise<{ status: number | 'open'; error?: { type: string; message: string }; ws?: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${l.port}${CHANNEL_PATH}`, { headers: token ? { 'x-auth-token': token } : {} });
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ status: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, error: JSON.parse(body).NeutronError });
        ws.terminate();
      });
    });
  });
}

/** A raw connection that says hello as `host`; resolves with how it ended, or with the messages it got. */
async function helloAs(l: SyncLab, token: string, host: string) {
  const { ws } = await upgrade(l, token);
  if (!ws) throw new Error('refused before the upgrade');
  const got = collect(ws);
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.send(hello(host));
  return { ws, got, closed };
}

const agents = async (l: SyncLab) => (await admin(l, 'GET', '/v2.0/agents')).body.agents as Array<{ id: string; host: string; alive: boolean }>;

describe('agent credentials on the channel', () => {
  it('lets a credential say hello as its own host', async () => {
    const l = await tokenLab();
    const credential = await issue(l, 'host-a');
    const a = l.agent('host-a', { token: credential });
    await until(() => a.snapshots.length, 'snapshot');
    expect((await agents(l)).map((x) => [x.host, x.alive])).toEqual([['host-a', true]]);
  });

  it('refuses a credential for host A as host B, with a clear close reason, before registering or sending anything', async () => {
    const l = await tokenLab();
    const credential = await issue(l, 'host-a');
    const rev = l.store.revision;
    const { got, closed } = await helloAs(l, credential, 'host-b');
    expect(await closed).toEqual({ code: 4003, reason: 'credential for host host-a cannot act as host host-b' });
    expect(got).toEqual([]); // no welcome, no snapshot: nothing of host-b's view
    expect(await agents(l)).toEqual([]);
    expect(l.store.revision).toBe(rev);
    // The real client is refused the same way, and says so in its log.
    const warnings: string[] = [];
    const b = l.agent('host-b', { token: credential, logger: { debug() {}, info() {}, warn: (_o, msg) => void warnings.push(msg ?? '') } });
    await until(() => warnings.some((w) => w.includes('credential for host host-a cannot act as host host-b')), 'the refusal in the log');
    expect(b.welcomes).toEqual([]);
  });

  it("takes status reports for its own host only: another host's ports stay as they are", async () => {
    const l = await tokenLab();
    const net = (await admin(l, 'POST', '/v2.0/networks', { network: { name: 'n' } })).body.network.id;
    await admin(l, 'POST', '/v2.0/subnets', { subnet: { network_id: net, cidr: '10.1.0.0/24', ip_version: 4 } });
    const mine = (await admin(l, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-a' } })).body.port;
    const theirs = (await admin(l, 'POST', '/v2.0/ports', { port: { network_id: net, 'binding:host_id': 'host-b' } })).body.port;
    const a = l.agent('host-a', { token: await issue(l, 'host-a') });
    await until(() => a.snapshots.length, 'snapshot');
    // host-a holds host-b's port (same network) and claims it is up: only its own goes ACTIVE.
    expect(a.snapshots[0].docs.port.map((p) => p.id).sort()).toEqual([mine.id, theirs.id].sort());
    a.channel.reportApplied(a.snapshots[0].revision, { [mine.id]: 'up', [theirs.id]: 'up' });
    const status = async (id: string) => (await admin(l, 'GET', `/v2.0/ports/${id}`)).body.port.status;
    await until(async () => (await status(mine.id)) === 'ACTIVE', 'own port ACTIVE');
    expect(await status(theirs.id)).toBe('DOWN');
  });

  it('refuses garbage and unknown credentials, members and the retired shared agent token before the upgrade; admins may act as any host', async () => {
    const l = await tokenLab();
    const unknown = await upgrade(l, `weft-host-${'x'.repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect(unknown.error).toMatchObject({ type: 'AgentCredentialInvalid' });
    expect(unknown.error!.message).toMatch(/not valid: unknown, revoked, or replaced/);
    expect((await upgrade(l, 'garbage'.repeat(6))).status).toBe(401);
    expect((await upgrade(l)).status).toBe(401);
    expect((await upgrade(l, retiredAgentToken)).status).toBe(401);
    const member = await upgrade(l, memberToken);
    expect([member.status, member.error?.type]).toEqual([403, 'PolicyNotAuthorized']);
    const tool = await helloAs(l, adminToken, 'any-host');
    await until(() => tool.got.some((m) => m.type === 'snapshot'), 'snapshot for the admin');
    tool.ws.terminate();
    // A credential is no API token.
    const credential = await issue(l, 'host-a');
    const asApi = await l.app.inject({ method: 'GET', url: '/v2.0/networks', headers: { 'x-auth-token': credential } });
    expect(asApi.statusCode).toBe(401);
  });

  it('closes a connected agent whose credential is revoked, and refuses that credential afterwards', async () => {
    const l = await tokenLab();
    const credential = await issue(l, 'host-a');
    const { got, closed } = await helloAs(l, credential, 'host-a');
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    expect((await admin(l, 'DELETE', '/v2.0/weft/agent-credentials/host-a')).status).toBe(204);
    expect(await closed).toEqual({ code: 4004, reason: 'the credential of host host-a was revoked' });
    expect((await upgrade(l, credential)).status).toBe(401);
  });

  it('refuses a credential replaced by a new enrolment, closing its connection', async () => {
    const l = await tokenLab();
    const old = await issue(l, 'host-a');
    const { got, closed } = await helloAs(l, old, 'host-a');
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    const fresh = await issue(l, 'host-a');
    expect((await closed).code).toBe(4004);
    expect((await upgrade(l, old)).status).toBe(401);
    const a = l.agent('host-a', { token: fresh });
    await until(() => a.snapshots.length, 'the new credential works');
  });

  it('deleting the agent revokes its credential: disconnected, and refused when it comes back', async () => {
    const l = await tokenLab();
    const credential = await issue(l, 'host-a');
    const { got, closed } = await helloAs(l, credential, 'host-a');
    await until(() => got.some((m) => m.type === 'snapshot'), 'snapshot');
    const [agent] = await agents(l);
    expect((await admin(l, 'DELETE', `/v2.0/agents/${agent.id}`)).status).toBe(204);
    expect([4001, 4004]).toContain((await closed).code);
    expect((await upgrade(l, credential)).status).toBe(401);
    expect((await admin(l, 'GET', '/v2.0/weft/agent-credentials')).body.agent_credentials).toEqual([]);
  });
});
