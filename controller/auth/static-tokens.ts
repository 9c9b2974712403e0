import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config.ts';
import { unauthorized } from '../errors.ts';
import { header, makeContext, type Authenticator, type RequestContext } from './context.ts';

// Static tokens: a JSON file mapping tokens to a project and roles. On first start the
// file is created with an admin token, also written alone to $dataDir/admin-token. Replicas on
// one etcd cluster share the first replica's (shared-tokens.ts writes them here before these
// functions read them). Host agents do not use these: each has its own credential
// (agent-credentials.ts). Entries with the role `weft-agent`, the shared agent token of earlier
// versions, are ignored: that token let its holder act as any host.

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
}

/** The role of the retired shared agent token. */
const RETIRED_AGENT_ROLE = 'weft-agent';

export function writePrivate(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode: 0o600 });
}

/** A tokens file and, when known, which of its tokens is the admin's. */
export interface TokenSet {
  file: TokensFile;
  adminToken?: string;
}

/** The tokens of a first start: an admin token (of a new project). */
export function newTokenSet(): Required<TokenSet> {
  const admin = newToken();
  return {
    file: { tokens: { [admin]: { project_id: newProjectId(), roles: ['admin', 'member'], user_id: 'admin' } } },
    adminToken: admin,
  };
}

/** Writes the tokens file, and admin-token in dataDir when the set names it. */
export function writeTokenSet(dataDir: string, path: string, set: TokenSet): void {
  writePrivate(path, `${JSON.stringify(set.file, null, 2)}\n`);
  if (set.adminToken) writePrivate(join(dataDir, 'admin-token'), `${set.adminToken}\n`);
}

export const tokensPath = (options: StaticTokenOptions) => options.tokensFile ?? join(options.dataDir, 'tokens.json');

/** Read the tokens file, creating it (and admin-token) on first start. */
export function ensureTokens(options: StaticTokenOptions): TokensFile {
  const path = tokensPath(options);
  if (!existsSync(path)) writeTokenSet(options.dataDir, path, newTokenSet());
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

export function staticTokens(file: TokensFile): Authenticator {
  const table = new Map<string, RequestContext>();
  for (const [token, entry] of Object.entries(file.tokens)) {
    if (entry.roles.includes(RETIRED_AGENT_ROLE)) continue;
    table.set(token, makeContext(entry.project_id, entry.roles, entry.user_id ?? entry.project_id));
  }
  return {
    async authenticate(headers) {
      const token = header(headers, 'x-auth-token');
      const ctx = token ? table.get(token.trim()) : undefined;
      if (!ctx) throw unauthorized();
      return ctx;
    },
  };
}
