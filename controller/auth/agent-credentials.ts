import { createHash, randomBytes } from 'node:crypto';
import { newId } from '../domain/standard-attrs.ts';
import { NeutronError } from '../errors.ts';
import type { Change, Doc, ReadView, Tx } from '../store/types.ts';

// Who an agent is. Each host's agent holds its own credential, bound to its host name: the channel
// lets it say hello as that host only (sync/session.ts), so its view, its registration and its
// status reports are that host's. A credential is issued once per host, either by redeeming a
// one-time enrolment token an admin made for that host (api/agent-identity), or minted directly by
// a controller for its own local agent (the all-in-one). Issuing another replaces the host's
// credential; revoking (or deleting the host's agent) removes it, and its sessions are closed.
//
// Both live in the model store, so that every replica knows them, and a redemption is one store
// transaction: two replicas redeeming the same enrolment token are serialized like any two
// commits, and the second finds it used. Only a SHA-256 of each secret is stored: the secrets are
// 32 random bytes, so a plain hash is as good as a slow one, and a stolen store issues nothing.

export const AGENT_CREDENTIAL_KIND = 'agent_credential';
export const AGENT_ENROLMENT_KIND = 'agent_enrolment';

/** Prefixes that tell the secrets apart from API tokens (and make a leaked one recognisable). */
export const CREDENTIAL_PREFIX = 'weft-host-';
export const ENROLMENT_PREFIX = 'weft-enrol-';

/** An enrolment token is good for a day unless the admin says otherwise. */
export const DEFAULT_ENROLMENT_SECONDS = 24 * 3600;

export interface AgentCredentialDoc extends Doc {
  id: string;
  host: string;
  secret_hash: string;
  created_at: string;
  /** The enrolment it was issued by; null when a controller minted it for its local agent. */
  enrolment_id: string | null;
}

export interface AgentEnrolmentDoc extends Doc {
  id: string;
  host: string;
  token_hash: string;
  created_at: string;
  expires_at: string;
  /** When it was redeemed; null while it is still good. */
  used_at: string | null;
}

export const secretHash = (secret: string): string => createHash('sha256').update(secret).digest('hex');
const newSecret = (prefix: string): string => `${prefix}${randomBytes(32).toString('base64url')}`;
const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const isAgentCredential = (token: string): boolean => token.startsWith(CREDENTIAL_PREFIX);

/** The credential a secret is, if it is one the store knows. */
export function credentialBySecret(view: ReadView, secret: string): AgentCredentialDoc | undefined {
  return view.find<AgentCredentialDoc>(AGENT_CREDENTIAL_KIND, 'secret_hash', secretHash(secret))[0];
}

export function credentialOfHost(view: ReadView, host: string): AgentCredentialDoc | undefined {
  return view.find<AgentCredentialDoc>(AGENT_CREDENTIAL_KIND, 'host', host)[0];
}

/** Issue `host` a new credential (its old one, if any, stops working); the secret is returned once. */
export function issueCredential(tx: Tx, host: string, now: number, enrolmentId: string | null = null): { doc: AgentCredentialDoc; secret: string } {
  revokeCredential(tx, host);
  const secret = newSecret(CREDENTIAL_PREFIX);
  const doc: AgentCredentialDoc = { id: newId(), host, secret_hash: secretHash(secret), created_at: isoTime(now), enrolment_id: enrolmentId };
  tx.put(AGENT_CREDENTIAL_KIND, doc);
  return { doc, secret };
}

/** Drop the host's credential; whether there was one. */
export function revokeCredential(tx: Tx, host: string): boolean {
  const current = credentialOfHost(tx, host);
  if (current) tx.remove(AGENT_CREDENTIAL_KIND, current.id);
  return !!current;
}

/** A one-time enrolment token for `host`; the token is returned once. */
export function createEnrolment(tx: Tx, host: string, now: number, seconds = DEFAULT_ENROLMENT_SECONDS): { doc: AgentEnrolmentDoc; token: string } {
  const token = newSecret(ENROLMENT_PREFIX);
  const doc: AgentEnrolmentDoc = {
    id: newId(), host, token_hash: secretHash(token), created_at: isoTime(now), expires_at: isoTime(now + seconds * 1000), used_at: null,
  };
  tx.put(AGENT_ENROLMENT_KIND, doc);
  return { doc, token };
}

export const enrolmentRefused = (status: 401 | 403 | 409, message: string) =>
  new NeutronError(status, status === 409 ? 'AgentEnrolmentUsed' : status === 403 ? 'AgentEnrolmentHostMismatch' : 'AgentEnrolmentInvalid', message);

/**
 * Redeem an enrolment token for `host`'s credential: the token must be known, unexpired, unused
 * and made for that host. It is marked used in the same transaction as the credential is issued.
 */
export function redeemEnrolment(tx: Tx, token: string, host: string, now: number): { doc: AgentCredentialDoc; secret: string } {
  const enrolment = tx.find<AgentEnrolmentDoc>(AGENT_ENROLMENT_KIND, 'token_hash', secretHash(token))[0];
  if (!enrolment) throw enrolmentRefused(401, 'The enrolment token is not valid (unknown, or withdrawn by an admin).');
  if (enrolment.used_at) {
    throw enrolmentRefused(409, `The enrolment token for host ${enrolment.host} was already used (at ${enrolment.used_at}); an enrolment token works once. Ask an admin for a new one.`);
  }
  if (Date.parse(enrolment.expires_at) <= now) throw enrolmentRefused(401, `The enrolment token for host ${enrolment.host} expired at ${enrolment.expires_at}.`);
  if (enrolment.host !== host) throw enrolmentRefused(403, `The enrolment token for host ${enrolment.host} cannot enrol host ${host}.`);
  tx.put(AGENT_ENROLMENT_KIND, { ...enrolment, used_at: isoTime(now) });
  return issueCredential(tx, host, now, enrolment.id);
}

/** The credentials a commit removed (revoked, replaced, or their host's agent deleted), if any. */
export function revokedCredentials(changes: readonly Change[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (const c of changes) if (c.kind === AGENT_CREDENTIAL_KIND && c.op === 'delete') (out ??= new Set()).add(c.id);
  return out;
}

/** What an admin sees of a credential (never its hash). */
export const presentCredential = (d: AgentCredentialDoc) => ({ id: d.id, host: d.host, created_at: d.created_at, enrolment_id: d.enrolment_id });

/** What an admin sees of an enrolment (the token only once, when it is made). */
export const presentEnrolment = (d: AgentEnrolmentDoc) => ({
  id: d.id, host: d.host, created_at: d.created_at, expires_at: d.expires_at, used: d.used_at !== null, used_at: d.used_at,
});
