// The controller's unix socket (WEFT_LISTEN_SOCKET): the API and the agent channel answer there as
// on the TCP port; a socket left by a killed controller is replaced at the next start, any other file
// at that path is not. (Every lab test's agents reach their controller this way.)
import http from 'node:http';
import { writeFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import net from 'node:net';
import { PROTOCOL_VERSION } from '../../schemas/agent/channel.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

let c: ControllerProcess;
beforeAll(async () => {
  c = await startController();
});
afterAll(async () => {
  await c?.cleanup();
});

const overSocket = (path: string, token?: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
  const req = http.request({ socketPath: c.socketPath, path, headers: token ? { 'x-auth-token': token } : {} }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  });
  req.on('error', reject);
  req.end();
});

describe('controller unix socket', () => {
  it('serves the API, with the same tokens, and only to its owner and group', async () => {
    expect(statSync(c.socketPath).mode & 0o777).toBe(0o660);
    const ok = await overSocket('/v2.0/networks', c.adminToken);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toHaveProperty('networks');
    expect((await overSocket('/v2.0/networks')).status).toBe(401);
  });

  it('serves the agent channel', async () => {
    const post = (path: string, token: string, body: unknown) => fetch(`${c.url}${path}`, {
      method: 'POST', headers: { 'x-auth-token': token, 'content-type': 'application/json' }, body: JSON.stringify(body),
    }).then((r) => r.json());
    const { agent_enrolment: e } = await post('/v2.0/weft/agent-enrolments', c.adminToken, { agent_enrolment: { host: 'sock-test' } });
    const token = (await post('/v2.0/weft/enrol', e.token, { agent_credential: { host: 'sock-test' } })).agent_credential.credential;
    const ws = new WebSocket('ws://controller/v2.0/agents/channel', {
      headers: { 'X-Auth-Token': token }, createConnection: () => net.connect({ path: c.socketPath }),
    } as WebSocket.ClientOptions);
    const first = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, host: 'sock-test', tunnelIp: null, bridgeMappings: {}, datapath: 'netdev' })));
      ws.on('message', (d) => resolve(d.toString()));
      ws.on('error', reject);
    });
    ws.terminate();
    expect(JSON.parse(first).type).toBe('welcome');
  });

  it('replaces the socket a killed controller left, and refuses to replace any other file', async () => {
    await c.kill('SIGKILL');
    expect(statSync(c.socketPath).isSocket()).toBe(true); // left behind
    await c.restart();
    expect((await overSocket('/v2.0/networks', c.adminToken)).status).toBe(200);
    await c.stop();
    writeFileSync(c.socketPath, 'not a socket');
    await expect(c.restart()).rejects.toThrow(/exists and is not a socket/);
    expect(statSync(c.socketPath).isFile()).toBe(true);
  });
});
