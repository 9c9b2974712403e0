import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import type { SharedState } from '../store/shared-state.ts';
import { newToken, newTokenSet, parseTokensFile, readTokensFile, writePrivate, writeTokenSet, type TokenSet } from './static-tokens.ts';

// Tokens that controller replicas must agree on. Each replica would otherwise invent its own on
// first start (static-tokens.ts), and a client or agent behind a load balancer would be let in
// by one replica and not the next. So before the authenticator reads $dataDir, the replica
// offers its tokens to the shared state (put-if-absent): the first replica's win, and every
// replica writes them into its own dataDir (tokens.json, admin-token, agent-token), where the
// operator finds them as with one controller. An existing dataDir's tokens are offered too, so
// that a lone controller turned into the first replica keeps its tokens.
//
// What the operator configured is not shared: a configured tokensFile is read by each replica
// alone (deploy the same file to all), and a configured agentToken is the agent token.
// A dataDir whose tokens differ from the shared ones is refused, not overwritten: silently
// swapping them would lock out whoever uses them.
//
// With the SQLite store the shared state is this process's memory, and this changes nothing.

const TOKENS_KEY = 'auth/tokens';
const AGENT_TOKEN_KEY = 'auth/agent-token';

/** Makes this replica's token files the ones its replicas share (a no-op for configured ones). */
export async function adoptSharedTokens(config: Config, shared: SharedState): Promise<void> {
  if (config.auth === 'token' && !config.tokensFile) await adoptTokensFile(config, shared);
  if (config.auth === 'keystone' && !config.agentToken) await adoptAgentToken(config, shared);
}

async function adoptTokensFile(config: Config, shared: SharedState): Promise<void> {
  const path = join(config.dataDir, 'tokens.json');
  const local = existsSync(path) ? readLocalTokens(config.dataDir, path) : undefined;
  const offered = local ?? newTokenSet(config.agentToken);
  const held = parseSharedTokens(await shared.putIfAbsent(TOKENS_KEY, JSON.stringify(offered)));
  if (local && !isDeepStrictEqual(local.file, held.file)) {
    throw new ConfigError(`${path} holds other tokens than the controller replicas share (those of the replica that started first). `
      + `Remove it, admin-token and agent-token from ${config.dataDir} to take the shared ones, or set tokensFile to a file every replica reads.`);
  }
  writeTokenSet(config.dataDir, path, { ...held, agentToken: config.agentToken ?? held.agentToken });
}

async function adoptAgentToken(config: Config, shared: SharedState): Promise<void> {
  const path = join(config.dataDir, 'agent-token');
  const local = existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
  const held = await shared.putIfAbsent(AGENT_TOKEN_KEY, local ?? newToken());
  if (local !== undefined && local !== held) {
    throw new ConfigError(`${path} holds another agent token than the controller replicas share (that of the replica that started first). `
      + `Remove it to take the shared one, or set agentToken on every replica.`);
  }
  writePrivate(path, `${held}\n`);
}

/** A dataDir's tokens.json, with its admin-token and agent-token when they are there. */
function readLocalTokens(dataDir: string, path: string): TokenSet {
  const readToken = (name: string) => {
    const file = join(dataDir, name);
    return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
  };
  return { file: readTokensFile(path), adminToken: readToken('admin-token'), agentToken: readToken('agent-token') };
}

function parseSharedTokens(raw: string): TokenSet {
  const value = JSON.parse(raw) as { file?: unknown; adminToken?: unknown; agentToken?: unknown };
  const token = (t: unknown) => (typeof t === 'string' && t ? t : undefined);
  return { file: parseTokensFile(value.file, 'tokens in the shared state'), adminToken: token(value.adminToken), agentToken: token(value.agentToken) };
}
