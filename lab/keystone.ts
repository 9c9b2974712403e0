// A real Keystone (Debian's python3-keystone) on loopback, for the conformance run and the tests
// whose behaviour depends on Keystone: a private folder with its SQLite database and fernet keys,
// bootstrapped with an admin, served by waitress (lab/keystone-serve.py), and an admin client
// for what Weft needs there: projects, users, role assignments and the catalog.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../agent/host/exec.ts';
import { freePort } from './free-port.ts';
import { sleep, until } from './lab-process.ts';

const SERVE = join(dirname(fileURLToPath(import.meta.url)), 'keystone-serve.py');
const PYTHON = '/usr/bin/python3';
export const KEYSTONE_REGION = 'RegionOne';

export interface Keystone {
  /** Base URL with /v3, e.g. http://127.0.0.1:35357/v3 */
  readonly url: string;
  readonly adminPassword: string;
  readonly dir: string;
  /** A token of the admin user scoped to the admin project. */
  adminToken(): Promise<string>;
  createProject(name: string): Promise<string>;
  /** A user in domain Default with `role` on `projectId`; returns the user's id. */
  createUser(name: string, password: string, projectId: string, role?: string): Promise<string>;
  /** Adds a service of `type` with a public endpoint at `url` (and internal, admin ones alike). */
  registerService(type: string, name: string, url: string): Promise<void>;
  /** A project-scoped token for a user, by names in domain Default. */
  login(user: string, password: string, project: string): Promise<string>;
  output(): string;
  /** Stops the server and removes its folder. */
  cleanup(): Promise<void>;
}

const conf = (dir: string) => `[DEFAULT]
log_file = ${dir}/keystone.log
[database]
# A writer waits for another (busy timeout) rather than failing at once; waitress threads may close
# a connection another one opened (the garbage collector does), which pysqlite refuses by default.
connection = sqlite:///${dir}/keystone.db?timeout=60&check_same_thread=false
[token]
provider = fernet
expiration = 14400
[fernet_tokens]
key_repository = ${dir}/fernet-keys
[fernet_receipts]
key_repository = ${dir}/fernet-receipts
[credential]
key_repository = ${dir}/credential-keys
[cache]
enabled = false
[identity]
# bcrypt's cheapest cost: a test Keystone hashes a password for every user Tempest makes, one at a time.
password_hash_rounds = 4
`;

async function manage(config: string, args: string[]): Promise<void> {
  const r = await run('keystone-manage', ['--config-file', config, ...args], { allowFail: true, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`keystone-manage ${args[0]} failed (${r.code}):\n${r.stderr.slice(-2000)}`);
}

export async function startKeystone(o: { port?: number } = {}): Promise<Keystone> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-keystone-'));
  const config = join(dir, 'keystone.conf');
  const adminPassword = `admin-${Math.random().toString(36).slice(2, 12)}`;
  let child: ChildProcess | undefined;
  let log = '';
  try {
    writeFileSync(config, conf(dir));
    const port = o.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}/v3`;
    await manage(config, ['db_sync']);
    // WAL: a request's open read transaction must not block the next request's write
    // (Keystone's SQLite sessions otherwise end in "database is locked").
    await run('/usr/bin/python3', ['-c', `import sqlite3; sqlite3.connect(${JSON.stringify(join(dir, 'keystone.db'))}).execute('PRAGMA journal_mode=WAL')`]);
    await manage(config, ['fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root']);
    await manage(config, ['credential_setup', '--keystone-user', 'root', '--keystone-group', 'root']);
    await manage(config, ['bootstrap', '--bootstrap-password', adminPassword, '--bootstrap-public-url', `${url}/`, '--bootstrap-internal-url', `${url}/`, '--bootstrap-admin-url', `${url}/`, '--bootstrap-region-id', KEYSTONE_REGION]);
    child = spawn(PYTHON, [SERVE, config, '127.0.0.1', String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const proc = child;
    await until('Keystone to answer', async () => {
      if (proc.exitCode !== null) throw new Error(`keystone exited (${proc.exitCode}):\n${log.slice(-2000)}`);
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    }, 60_000).catch((err) => {
      if (proc.exitCode !== null) throw new Error(`keystone exited (${proc.exitCode}):\n${log.slice(-2000)}`);
      throw err;
    });
    return keystoneClient({ url, dir, adminPassword, child: proc, output: () => log });
  } catch (err) {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

interface Running {
  url: string;
  dir: string;
  adminPassword: string;
  child: ChildProcess;
  output(): string;
}

function keystoneClient(k: Running): Keystone {
  let admin: { token: string; until: number } | undefined;

  async function login(user: string, password: string, project: string): Promise<string> {
    const res = await fetch(`${k.url}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, scope: { project: { name: project, domain: { id: 'default' } } } } }),
    });
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new Error(`keystone: login of ${user} to ${project} failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    return token;
  }

  async function adminToken(): Promise<string> {
    if (admin && admin.until > Date.now()) return admin.token;
    admin = { token: await login('admin', k.adminPassword, 'admin'), until: Date.now() + 3600_000 };
    return admin.token;
  }

  async function call(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${k.url}${path}`, {
      method,
      headers: { 'x-auth-token': await adminToken(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`keystone: ${method} ${path} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  async function roleId(name: string): Promise<string> {
    const { roles } = await call('GET', `/roles?name=${encodeURIComponent(name)}`);
    if (!roles.length) throw new Error(`keystone: no role ${name}`);
    return roles[0].id;
  }

  return {
    url: k.url,
    adminPassword: k.adminPassword,
    dir: k.dir,
    adminToken,
    login,
    output: k.output,
    async createProject(name) {
      const { project } = await call('POST', '/projects', { project: { name, domain_id: 'default', enabled: true } });
      return project.id;
    },
    async createUser(name, password, projectId, role = 'member') {
      const { user } = await call('POST', '/users', { user: { name, password, domain_id: 'default', default_project_id: projectId, enabled: true } });
      await call('PUT', `/projects/${projectId}/users/${user.id}/roles/${await roleId(role)}`);
      return user.id;
    },
    async registerService(type, name, url) {
      const { service } = await call('POST', '/services', { service: { type, name, enabled: true } });
      for (const iface of ['public', 'internal', 'admin']) {
        await call('POST', '/endpoints', { endpoint: { service_id: service.id, interface: iface, url, region_id: KEYSTONE_REGION, enabled: true } });
      }
    },
    async cleanup() {
      if (k.child.exitCode === null && k.child.signalCode === null) {
        const exited = new Promise((r) => k.child.once('exit', r));
        k.child.kill('SIGTERM');
        if ((await Promise.race([exited, sleep(5000).then(() => 'timeout')])) === 'timeout') k.child.kill('SIGKILL');
      }
      rmSync(k.dir, { recursive: true, force: true });
    },
  };
}

/** The repository root (for scripts that find lab/ files). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
