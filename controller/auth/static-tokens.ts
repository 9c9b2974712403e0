import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config.ts';
import { unauthorized } from '../errors.ts';
import { header, makeContext, type Authenticator, type RequestContext } from './context.ts';

// Static tokens: a JSON file mapping tokens to a project and roles. On first start the
// file is created with an admin token, also written alone to $dataDir/admin-token, and an
// agent token in $dataDir/agent-token. Replicas on one etcd cluster share the first replica's
// (shared-tokens.ts writes them here before these functions read them).

const TokensFile = z.object({
  tokens: z.record(
    z.string().min(16),
    z.object({ project_id: z.string().min(1), roles: z.array(z.string()), user_id: z.string().optional() }).strict(),
  ),
});
export type TokensFile = z.infer<typeof TokensFile>;

export const newToken = () => randomBytes(24).toString('hex');
/** Keystone-style project id: 32 hex digits. */
export const newProjectId = () => randomBytes(16).toString('hex');

export interface StaticTokenOptions {
  dataDir: string;
  tokensFile?: string;
  agentToken?: string;
}

export function writePrivate(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode: 0o600 });
}

/** A tokens file and, when known, which of its tokens are the admin's and the agents'. */
export interface TokenSet {
  file: TokensFile;
  adminToken?: string;
  agentToken?: string;
}

/** The tokens of a first start: an admin token (of a new project) and an agent token. */
export function newTokenSet(agentToken?: string): Required<TokenSet> {
  const admin = newToken();
  const agent = agentToken ?? newToken();
  return {
    file: {
      tokens: {
        [admin]: { project_id: newProjectId(), roles: ['admin', 'member'], user_id: 'admin' },
        [agent]: { project_id: 'weft-agents', roles: ['weft-agent'], user_id: 'weft-agent' },
      },
    },
    adminToken: admin,
    agentToken: agent,
  };
}

/** Writes the tokens file, and admin-token and agent-token in dataDir when the set names them. */
export function writeTokenSet(dataDir: string, path: string, set: TokenSet): void {
  writePrivate(path, `${JSON.stringify(set.file, null, 2)}\n`);
  if (set.adminToken) writePrivate(join(dataDir, 'admin-token'), `${set.adminToken}\n`);
  if (set.agentToken) writePrivate(join(dataDir, 'agent-token'), `${set.agentToken}\n`);
}

export const tokensPath = (options: StaticTokenOptions) => options.tokensFile ?? join(options.dataDir, 'tokens.json');

/** Read the tokens file, creating it (and admin-token, agent-token) on first start. */
export function ensureTokens(options: StaticTokenOptions): TokensFile {
  const path = tokensPath(options);
  if (!existsSync(path)) writeTokenSet(options.dataDir, path, newTokenSet(options.agentToken));
  return readTokensFile(path);
}

export function readTokensFile(path: string): TokensFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read tokens file ${path}: ${(err as Error).message}`);
  }
  return parseTokensFile(raw, `tokens file ${path}`);
}

/** A tokens file's content, checked; `what` names it in the error. */
export function parseTokensFile(raw: unknown, what: string): TokensFile {
  const parsed = TokensFile.safeParse(raw);
  if (!parsed.success) {
    // Name entries by their last four characters: error messages end up in logs.
    const where = (keys: PropertyKey[]) => keys.map((p, n) => (n === 1 && keys[0] === 'tokens' ? `<...${String(p).slice(-4)}>` : String(p))).join('.');
    const lines = parsed.error.issues.map((i) => `  ${where(i.path) || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid ${what}:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function staticTokens(file: TokensFile, agentToken?: string): Authenticator {
  const table = new Map<string, RequestContext>();
  for (const [token, entry] of Object.entries(file.tokens)) {
    table.set(token, makeContext(entry.project_id, entry.roles, entry.user_id ?? entry.project_id));
  }
  if (agentToken && !table.has(agentToken)) table.set(agentToken, makeContext('weft-agents', ['weft-agent'], 'weft-agent'));
  return {
    async authenticate(headers) {
      const token = header(headers, 'x-auth-token');
      const ctx = token ? table.get(token.trim()) : undefined;
      if (!ctx) throw unauthorized();
      return ctx;
    },
  };
}

/** The agent token: configured, else $dataDir/agent-token, created on first start. */
export function ensureAgentToken(options: StaticTokenOptions): string {
  if (options.agentToken) return options.agentToken;
  const path = join(options.dataDir, 'agent-token');
  if (!existsSync(path)) writePrivate(path, `${newToken()}\n`);
  return readFileSync(path, 'utf8').trim();
}

/**
 * Agents are the fabric's own processes, not Keystone users: in keystone mode they still present
 * the agent token, which is answered here; every other token goes to the wrapped authenticator.
 */
export function withAgentToken(inner: Authenticator, agentToken: string): Authenticator {
  const agent = makeContext('weft-agents', ['weft-agent'], 'weft-agent');
  const expected = Buffer.from(agentToken);
  return {
    async authenticate(headers) {
      const given = Buffer.from(header(headers, 'x-auth-token')?.trim() ?? '');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return agent;
      return inner.authenticate(headers);
    },
  };
}
