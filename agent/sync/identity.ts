import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { ENROL_PATH } from '../../schemas/api/agent-identity.ts';

// The agent's credential: what it presents on the controller channel, bound by the controller to
// this host's name. In order of preference: the one it was given (WEFT_AGENT_CREDENTIAL), the one
// it stored when it enrolled (<stateDir>/credential, mode 0600), or a new one for which it redeems
// its one-time enrolment token (WEFT_ENROLMENT_TOKEN) and which it stores before using it. So an
// agent is started once with the enrolment token and restarts with what it stored; the token,
// still in its environment, is never sent again. The stored credential remembers (as a hash) the
// token it came from: another token in the environment is a new enrolment (after a revocation,
// say), redeemed in its place.

export class AgentIdentityError extends Error {}

export interface IdentityOptions {
  host: string;
  credential: string | undefined;
  enrolmentToken: string | undefined;
  stateDir: string;
  controllerUrls: readonly string[];
  controllerSocket: string | undefined;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Longest wait between enrolment attempts while no controller answers (default 5 s). */
  maxRetryMs?: number;
}

interface StoredCredential {
  host: string;
  credential: string;
  /** SHA-256 of the enrolment token it was issued for (absent when it was given). */
  enrolment?: string;
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

export const credentialPath = (stateDir: string) => join(stateDir, 'credential');

/** The stored credential for `host`, if there is one (one stored for another host is not it). */
export function readStoredCredential(stateDir: string, host: string): StoredCredential | undefined {
  let stored: Partial<StoredCredential>;
  try {
    stored = JSON.parse(readFileSync(credentialPath(stateDir), 'utf8')) as Partial<StoredCredential>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentIdentityError(`cannot read the stored credential ${credentialPath(stateDir)}: ${(e as Error).message}`);
  }
  if (stored.host !== host || typeof stored.credential !== 'string') return undefined;
  return stored as StoredCredential;
}

/** Stores the credential readable by this user only, replacing the file in one step. */
export function storeCredential(stateDir: string, host: string, credential: string, enrolmentToken?: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = credentialPath(stateDir);
  const tmp = `${path}.${process.pid}.tmp`;
  const stored: StoredCredential = { host, credential, ...(enrolmentToken ? { enrolment: tokenHash(enrolmentToken) } : {}) };
  writeFileSync(tmp, `${JSON.stringify(stored)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** This agent's credential: given, stored, or obtained now by enrolling (and stored). */
export async function obtainCredential(o: IdentityOptions): Promise<string> {
  if (o.credential) return o.credential;
  const stored = readStoredCredential(o.stateDir, o.host);
  const newEnrolment = o.enrolmentToken !== undefined && stored?.enrolment !== tokenHash(o.enrolmentToken);
  if (stored && !newEnrolment) {
    o.log.info({ path: credentialPath(o.stateDir) }, 'using the stored agent credential');
    return stored.credential;
  }
  if (!o.enrolmentToken) {
    throw new AgentIdentityError(`no credential for host ${o.host}: none stored in ${credentialPath(o.stateDir)}; start the agent with `
      + 'WEFT_ENROLMENT_TOKEN set to a one-time enrolment token for this host (`weft agent enrol HOST` on the controller), or give WEFT_AGENT_CREDENTIAL');
  }
  const credential = await enrol(o, o.enrolmentToken);
  storeCredential(o.stateDir, o.host, credential, o.enrolmentToken);
  o.log.info({ path: credentialPath(o.stateDir) }, 'enrolled: the agent credential is stored');
  return credential;
}

interface Answer {
  status: number;
  body: string;
}

/** Redeems the enrolment token, trying the controllers in turn until one answers; a refusal is final. */
async function enrol(o: IdentityOptions, token: string): Promise<string> {
  const body = JSON.stringify({ agent_credential: { host: o.host } });
  const maxRetry = o.maxRetryMs ?? 5000;
  for (let attempt = 0; ; attempt++) {
    const url = o.controllerUrls[attempt % o.controllerUrls.length];
    let answer: Answer | undefined;
    try {
      answer = await post(`${url}${ENROL_PATH}`, o.controllerSocket, token, body);
    } catch (e) {
      o.log.warn({ url, err: (e as Error).message }, 'cannot reach the controller to enrol; retrying');
    }
    if (answer && answer.status === 201) {
      const credential = (JSON.parse(answer.body) as { agent_credential?: { credential?: unknown } }).agent_credential?.credential;
      if (typeof credential !== 'string') throw new AgentIdentityError('the controller answered the enrolment without a credential');
      return credential;
    }
    if (answer && answer.status < 500) throw new AgentIdentityError(`enrolment of host ${o.host} refused (HTTP ${answer.status}): ${neutronMessage(answer.body)}`);
    if (answer) o.log.warn({ url, status: answer.status }, 'the controller could not enrol this agent now; retrying');
    await new Promise((r) => setTimeout(r, Math.min(maxRetry, 200 * 2 ** Math.min(attempt, 10))));
  }
}

function neutronMessage(body: string): string {
  try {
    return (JSON.parse(body) as { NeutronError?: { message?: string } }).NeutronError?.message ?? body;
  } catch {
    return body;
  }
}

function post(url: string, socketPath: string | undefined, token: string, body: string): Promise<Answer> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-auth-token': token },
      timeout: 10_000,
      ...(socketPath ? { socketPath } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}
