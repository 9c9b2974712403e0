import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentIdentityError, credentialPath, obtainCredential, type IdentityOptions } from '../../../agent/sync/identity.ts';

// How the agent comes by its credential (agent/sync/identity.ts), against a stand-in controller
// that answers POST /v2.0/weft/enrol as the real one does (its rules: test/unit/api/agent-identity.test.ts).

let dir: string;
let server: http.Server;
let url: string;
let requests: Array<{ token: string | undefined; body: unknown }>;
let answer: { status: number; body: unknown };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-identity-'));
  requests = [];
  answer = { status: 201, body: { agent_credential: { host: 'h1', credential: 'weft-host-issued' } } };
  server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      requests.push({ token: req.headers['x-auth-token'] as string | undefined, body: JSON.parse(text) });
      res.writeHead(req.url === '/v2.0/weft/enrol' && req.method === 'POST' ? answer.status : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { info() {}, warn() {} };
const options = (o: Partial<IdentityOptions> = {}): IdentityOptions => ({
  host: 'h1', credential: undefined, enrolmentToken: 'weft-enrol-once', stateDir: join(dir, 'state'),
  controllerUrls: [url], controllerSocket: undefined, log: quiet, ...o,
});

describe('obtainCredential', () => {
  it('enrols once, stores the credential (0600), and uses the stored one from then on', async () => {
    expect(await obtainCredential(options())).toBe('weft-host-issued');
    expect(requests).toEqual([{ token: 'weft-enrol-once', body: { agent_credential: { host: 'h1' } } }]);
    expect(statSync(credentialPath(join(dir, 'state'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(credentialPath(join(dir, 'state')), 'utf8'))).toMatchObject({ host: 'h1', credential: 'weft-host-issued' });
    expect(readFileSync(credentialPath(join(dir, 'state')), 'utf8')).not.toContain('weft-enrol-once');
    // A restart with the same environment, or with none: the enrolment token is not sent again.
    expect(await obtainCredential(options())).toBe('weft-host-issued');
    expect(await obtainCredential(options({ enrolmentToken: undefined }))).toBe('weft-host-issued');
    expect(requests).toHaveLength(1);
    // Another enrolment token (the host enrolled again, say after a revocation) replaces it.
    answer = { status: 201, body: { agent_credential: { host: 'h1', credential: 'weft-host-second' } } };
    expect(await obtainCredential(options({ enrolmentToken: 'weft-enrol-twice' }))).toBe('weft-host-second');
    expect(await obtainCredential(options({ enrolmentToken: 'weft-enrol-twice' }))).toBe('weft-host-second');
    expect(requests.map((r) => r.token)).toEqual(['weft-enrol-once', 'weft-enrol-twice']);
  });

  it('prefers a given credential, and ignores a stored one of another host', async () => {
    expect(await obtainCredential(options({ credential: 'weft-host-given' }))).toBe('weft-host-given');
    expect(requests).toHaveLength(0);
    const state = join(dir, 'state');
    await obtainCredential(options());
    writeFileSync(credentialPath(state), JSON.stringify({ host: 'other', credential: 'weft-host-other' }));
    expect(await obtainCredential(options())).toBe('weft-host-issued');
    expect(requests).toHaveLength(2);
  });

  it("fails with the controller's reason when the enrolment is refused, and says what to do without a token", async () => {
    answer = { status: 409, body: { NeutronError: { type: 'AgentEnrolmentUsed', message: 'The enrolment token for host h1 was already used.', detail: '' } } };
    const refused = (await obtainCredential(options()).catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(AgentIdentityError);
    expect(refused.message).toBe('enrolment of host h1 refused (HTTP 409): The enrolment token for host h1 was already used.');
    const none = (await obtainCredential(options({ enrolmentToken: undefined })).catch((e: unknown) => e)) as Error;
    expect(none).toBeInstanceOf(AgentIdentityError);
    expect(none.message).toMatch(/^no credential for host h1: none stored in .*credential; start the agent with WEFT_ENROLMENT_TOKEN/);
  });

  it('waits for a controller that is not up yet, trying the next replica', async () => {
    const dead = 'http://127.0.0.1:1';
    expect(await obtainCredential(options({ controllerUrls: [dead, url], maxRetryMs: 50 }))).toBe('weft-host-issued');
    expect(requests).toHaveLength(1);
  });
});
