import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config.ts';
import { ConfigError } from '../config.ts';
import type { SharedState } from '../store/shared-state.ts';
import { newTokenSet, parseTokensFile, readTokensFile, writeTokenSet, type TokenSet } from './static-tokens.ts';

// Tokens that controller replicas must agree on. Each replica would otherwise invent its own on
// first start (static-tokens.ts), and a client or agent behind a load balancer would be let in
// by one replica and not the next. So before the authenticator reads $dataDir, the replica
// offers its tokens to the shared state (put-if-absent): the first replica's win, and every
// replica writes them into its own dataDir (tokens.json, admin-token), where the operator finds
// them as with one controller. An existing dataDir's tokens are offered too, so that a lone
// controller turned into the first replica keeps its tokens.
//
// What the operator configured is not shared: a configured tokensFile is read by each replica
// alone (deploy the same file to all). A dataDir whose tokens differ from the shared ones is
// refused, not overwritten: silently swapping them would lock out whoever uses them. Host agents'
// credentials are in the model store (agent-credentials.ts), which every replica reads anyway.
//
// With the SQLite store the shared state is this process's memory, and this changes nothing.

const TOKENS_KEY = 'auth/tokens';

/** Makes this replica's token files the ones its replicas share (a no-op for configured ones). */
export async function adoptSharedTokens(config: Config, shared: SharedState): Promise<void> {
  if (config.auth === 'token' && !config.tokensFile) await adoptTokensFile(config, shared);
}

async function adoptTokensFile(config: Config, shared: SharedState): Promise<void> {
  const path = join(config.dataDir, 'tokens.json');
  const local = existsSync(path) ? readLocalTokens(config.dataDir, path) : undefined;
  const offered = local ?? newTokenSet();
  const held = parseSharedTokens(await shared.putIfAbsent(TOKENS_KEY, JSON.stringify(offered)));
  if (local && !isDeepStrictEqual(local.file, held.file)) {
    throw new ConfigError(`${path} holds other tokens than the controller replicas share (those of the replica that started first). `
      + `Remove it and admin-token from ${config.dataDir} to take the shared ones, or set tokensFile to a file every replica reads.`);
  }
  writeTokenSet(config.dataDir, path, held);
}

/** A dataDir's tokens.json, with its admin-token when it is there. */
function readLocalTokens(dataDir: string, path: string): TokenSet {
  const file = join(dataDir, 'admin-token');
  const adminToken = existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
  return { file: readTokensFile(path), adminToken };
}

/** The shared tokens (an `agentToken` that earlier versions shared is left out). */
function parseSharedTokens(raw: string): TokenSet {
  const value = JSON.parse(raw) as { file?: unknown; adminToken?: unknown };
  const adminToken = typeof value.adminToken === 'string' && value.adminToken ? value.adminToken : undefined;
  return { file: parseTokensFile(value.file, 'tokens in the shared state'), adminToken };
}
