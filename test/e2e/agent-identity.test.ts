// Agent identity with real processes: a lab agent enrols with a one-time token, keeps its
// credential (0600) in its state folder, and restarts on it without enrolling again; its credential
// cannot speak for another host; revoked, it is cut off until the host is enrolled again, which
// the agent takes from a new enrolment token in its environment.
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentProcess } from '../../lab/agents.ts';
import { CHANNEL_PATH, PROTOCOL_VERSION } from '../../schemas/agent/channel.ts';
import { createFabric, enrolmentToken, type Fabric } from '../helpers/fabric.ts';

let f: Fabric;
beforeAll(async () => {
  f = await createFabric({ hosts: ['h1'] });
}, 120_000);
afterAll(async () => f?.destroy(), 60_000);

const agentOf = async (host: string) => (await f.api('GET', `/v2.0/agents?host=${host}`)).agents[0] as { id: string; alive: boolean } | undefined;
const stored = () => JSON.parse(readFileSync(join(f.lab.host('h1').runDir, 'credential'), 'utf8')) as { host: string; credential: string };

/** Says hello as `host` with `token` over the controller's socket; how the connection ended, or 'welcome'. */
function helloOverSocket(token: string, host: string): Promise<{ code: number; reason: string } | 'welcome'> {
  const ws = new WebSocket(`ws://controller${CHANNEL_PATH}`, {
    headers: { 'X-Auth-Token': token }, createConnection: () => net.connect({ path: f.controller.socketPath }),
  } as WebSocket.ClientOptions);
  return new Promise((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, host, tunnelIp: null, bridgeMappings: {}, datapath: 'netdev' })));
    ws.on('message', (d) => {
      if (JSON.parse(d.toString()).type === 'welcome') resolve('welcome');
      ws.terminate();
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ code: res.statusCode ?? 0, reason: 'refused before the upgrade' });
      ws.terminate();
    });
    ws.on('error', () => undefined);
    setTimeout(() => reject(new Error('no answer')), 10_000).unref();
  });
}

describe('agent identity', () => {
  it('the agent enrolled once and keeps its credential, readable by root only', async () => {
    const [enrolment] = (await f.api('GET', '/v2.0/weft/agent-enrolments')).agent_enrolments;
    expect(enrolment).toMatchObject({ host: 'h1', used: true });
    expect(stored()).toMatchObject({ host: 'h1', credential: expect.stringMatching(/^weft-host-/) });
    expect(statSync(join(f.lab.host('h1').runDir, 'credential')).mode & 0o777).toBe(0o600);
    expect(f.agents.get('h1')!.output()).toContain('enrolled: the agent credential is stored');
  });

  it('restarts and reconnects with the stored credential, without enrolling again', async () => {
    const before = await agentOf('h1');
    const credentials = (await f.api('GET', '/v2.0/weft/agent-credentials')).agent_credentials;
    const agent = f.agents.get('h1')!;
    await agent.kill('SIGKILL');
    agent.start(); // same environment, the used enrolment token still in it
    await f.until('h1 alive again', async () => (await agentOf('h1'))?.alive, 60_000);
    expect((await agentOf('h1'))!.id).toBe(before!.id);
    expect(agent.output()).toContain('using the stored agent credential');
    // The same credential: no second redemption happened.
    expect((await f.api('GET', '/v2.0/weft/agent-credentials')).agent_credentials).toEqual(credentials);
  }, 90_000);

  it("refuses h1's credential for another host, and garbage before the upgrade", async () => {
    const { credential } = stored();
    expect(await helloOverSocket(credential, 'h2')).toEqual({ code: 4003, reason: 'credential for host h1 cannot act as host h2' });
    expect(await helloOverSocket(`weft-host-${'z'.repeat(43)}`, 'h1')).toEqual({ code: 401, reason: 'refused before the upgrade' });
    expect((await f.api('GET', '/v2.0/agents')).agents.map((a: { host: string }) => a.host)).toEqual(['h1']);
  });

  it('revoked, the agent is cut off and says why; enrolled again with a new token, it is back', async () => {
    const agent = f.agents.get('h1')!;
    await f.api('DELETE', '/v2.0/weft/agent-credentials/h1');
    await f.until('h1 not alive', async () => (await agentOf('h1'))?.alive === false);
    await f.until('the refusal in the agent log', async () => /the controller refused this agent: The agent credential is not valid/.test(agent.output()));
    await agent.kill('SIGKILL');
    const h = f.lab.host('h1');
    const again = new AgentProcess('h1', h.netns, {
      ...h.agentEnv(`http://127.0.0.1:${f.controller.port}`, await enrolmentToken(f.api, 'h1')),
      WEFT_CONTROLLER_SOCKET: f.controller.socketPath,
    });
    f.agents.set('h1', again); // destroy() stops it
    again.start();
    await f.until('h1 alive after enrolling again', async () => (await agentOf('h1'))?.alive, 60_000);
    expect(again.output()).toContain('enrolled: the agent credential is stored');
  }, 120_000);
});
