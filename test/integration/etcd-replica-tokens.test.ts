import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TOPOLOGY_EVENTS_PATH, TOPOLOGY_PREFIX } from '../../controller/api/topology/index.ts';
import { ensureTokens } from '../../controller/auth/static-tokens.ts';
import { CHANNEL_PATH } from '../../schemas/agent/channel.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// Two controller processes in token mode on one etcd cluster, started with different empty data
// directories: they hold the same tokens (the first one's, from the shared state), so each lets in
// the other's admin token, and a dashboard ticket from one opens the stream on the other. Agent
// credentials are in the model: an enrolment made through one is redeemed through the other, once,
// and the credential opens the channel on both. A third whose data directory already holds other
// tokens refuses to start.

let cluster: EtcdCluster;
let a: ControllerProcess;
let b: ControllerProcess;
const started: ControllerProcess[] = [];
const env = () => ({ WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: cluster.endpoints.join(','), WEFT_ETCD_PREFIX: `/replica-tokens-${process.pid}/` });

beforeAll(async () => {
  cluster = await startEtcdCluster({ members: 3 });
  // One after the other: the second finds the first's tokens (starting both at once is the
  // put-if-absent race, tested in etcd-shared-state.test.ts).
  for (let i = 0; i < 2; i++) started.push(await startController({ controllerMakesTokens: true, env: env() }));
  [a, b] = started;
}, 120_000);
afterAll(async () => {
  await Promise.all(started.map((c) => c.cleanup()));
  await cluster?.cleanup();
});

const networks = (c: ControllerProcess, token: string) => fetch(`${c.url}/v2.0/networks`, { headers: { 'x-auth-token': token } }).then((r) => r.status);

/** The HTTP status the agent channel answers an upgrade with (101 when it lets the agent in). */
function channelStatus(c: ControllerProcess, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${c.port}${CHANNEL_PATH}`, { headers: { 'x-auth-token': token } });
    ws.once('upgrade', () => resolve(101));
    ws.once('open', () => ws.close());
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}

describe('controller replicas on one etcd cluster', () => {
  it("write the same tokens into their own data directories and take each other's admin token", async () => {
    expect(a.dataDir).not.toBe(b.dataDir);
    expect(b.adminToken).toBe(a.adminToken);
    expect(ensureTokens({ dataDir: b.dataDir })).toEqual(ensureTokens({ dataDir: a.dataDir }));
    for (const c of [a, b]) {
      expect(await networks(c, a.adminToken)).toBe(200);
      expect(await networks(c, 'not-a-token'.padEnd(48, '0'))).toBe(401);
    }
  });

  it('redeem an enrolment made through the other replica once, and take its credential on the channel', async () => {
    const post = (c: ControllerProcess, path: string, token: string, body: unknown) => fetch(`${c.url}${path}`, {
      method: 'POST', headers: { 'x-auth-token': token, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const made = await post(a, '/v2.0/weft/agent-enrolments', a.adminToken, { agent_enrolment: { host: 'r-host' } });
    expect(made.status).toBe(201);
    const { token } = ((await made.json()) as { agent_enrolment: { token: string } }).agent_enrolment;
    // Both at once, one through each replica: the store serializes them, and exactly one wins.
    const answers = await Promise.all([b, a].map((c) => post(c, '/v2.0/weft/enrol', token, { agent_credential: { host: 'r-host' } })));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
    const won = answers.find((r) => r.status === 201)!;
    const { credential } = ((await won.json()) as { agent_credential: { credential: string } }).agent_credential;
    const lost = (await answers.find((r) => r.status === 409)!.json()) as { NeutronError: { message: string } };
    expect(lost.NeutronError.message).toMatch(/already used.*works once/);
    expect(await channelStatus(a, credential)).toBe(101);
    expect(await channelStatus(b, credential)).toBe(101);
    expect(await channelStatus(a, 'weft-host-'.padEnd(53, 'x'))).toBe(401);
    expect(await channelStatus(a, 'not-a-token'.padEnd(48, '0'))).toBe(401);
  });

  it('open the topology stream on one with a ticket the other issued, once', async () => {
    const res = await fetch(`${a.url}${TOPOLOGY_PREFIX}/tickets`, { method: 'POST', headers: { 'x-auth-token': a.adminToken } });
    expect(res.status, a.output()).toBe(201);
    const { ticket } = (await res.json()) as { ticket: { id: string } };
    expect(await eventsStatus(b, ticket.id)).toBe(200);
    expect(await eventsStatus(a, ticket.id)).toBe(401);
  });

  it('refuse to start a replica whose data directory holds other tokens', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-other-tokens-'));
    try {
      ensureTokens({ dataDir });
      const err = await startController({ dataDir, keepDataDir: true, env: env(), startTimeoutMs: 60_000 }).then(
        (c) => {
          started.push(c);
          return undefined;
        },
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/exited during start/);
      expect(err?.message).toContain('holds other tokens than the controller replicas share');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** The status of a GET of the event stream; hangs up as soon as it has it. */
function eventsStatus(c: ControllerProcess, ticket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${c.url}${TOPOLOGY_EVENTS_PATH}?ticket=${encodeURIComponent(ticket)}`, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', (err) => reject(err));
    req.end();
  });
}
