import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureTokens, type TokensFile } from '../../controller/auth/static-tokens.ts';
import { freePort } from '../../lab/free-port.ts';
import { whileAlive } from '../../lab/teardown.ts';

// A real controller process (node + tsx running controller/main.ts) on a free port with a
// fresh data directory and static-token auth, for end-to-end tests: start, wait until
// GET / answers, kill with any signal (SIGKILL for crash tests), restart on the same data
// directory, and clean up the process and the directory even when a test fails.

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx's loader as a file URL: --import resolves bare names from the cwd, which is the data dir. */
const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;

export interface ExtraToken {
  token: string;
  project_id: string;
  roles: string[];
  user_id?: string;
}

export interface ControllerOptions {
  /** Reuse this data directory (it is still removed by cleanup unless keepDataDir). */
  dataDir?: string;
  keepDataDir?: boolean;
  /** Tokens added to $dataDir/tokens.json before the first start. */
  tokens?: ExtraToken[];
  /**
   * Leave the data directory's tokens to the controller (replicas on etcd take the shared ones,
   * auth/shared-tokens.ts); adminToken is then read once it has started. Not with `tokens`.
   */
  controllerMakesTokens?: boolean;
  /** Extra WEFT_* (or other) environment for the process. */
  env?: Record<string, string>;
  /** Milliseconds to wait for GET / after spawning (default 30 s). */
  startTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ControllerProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The controller's unix socket ($dataDir/controller.sock): the API and the agent channel, from any network namespace. */
  readonly socketPath: string;
  readonly adminToken: string;
  /** Process id of the running controller (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Everything the current and earlier processes wrote to stdout/stderr. */
  output(): string;
  /** Send a signal and wait until the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGTERM (graceful) and wait. */
  stop(): Promise<ExitInfo>;
  /** Start again on the same port and data directory (stopping it first if it runs). */
  restart(): Promise<void>;
  /** Add or replace tokens in tokens.json; effective from the next (re)start. */
  addTokens(tokens: ExtraToken[]): void;
  /** Kill the process (SIGKILL if SIGTERM does not end it) and remove the data directory. */
  cleanup(): Promise<void>;
}

export { freePort };

function writeTokens(dataDir: string, extra: ExtraToken[]): void {
  const path = join(dataDir, 'tokens.json');
  const file: TokensFile = JSON.parse(readFileSync(path, 'utf8'));
  for (const t of extra) {
    file.tokens[t.token] = { project_id: t.project_id, roles: t.roles, ...(t.user_id ? { user_id: t.user_id } : {}) };
  }
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}

/** Every controller started here and not yet cleaned up: killed if the test runner exits. */
const live = new Set<ChildProcess>();
/**
 * Data directories made here and not yet removed: removed if the test runner exits first (a
 * beforeAll that times out while its controller starts never gets the handle to clean up with).
 */
const ownedDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startController(options: ControllerOptions = {}): Promise<ControllerProcess> {
  installExitHook();
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'weft-e2e-'));
  const ownsDir = !options.keepDataDir;
  if (ownsDir) ownedDirs.add(dataDir);
  const startTimeout = options.startTimeoutMs ?? 30_000;
  let child: ChildProcess | undefined;
  let exited: Promise<ExitInfo> | undefined;
  let log = '';
  let port = 0;
  const socketPath = join(dataDir, 'controller.sock');

  // Create tokens.json/admin-token exactly as the controller would, then add ours.
  if (!options.controllerMakesTokens) ensureTokens({ dataDir });
  if (options.tokens?.length) writeTokens(dataDir, options.tokens);
  const readAdminToken = () => readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  let adminToken = options.controllerMakesTokens ? '' : readAdminToken();

  async function spawnAndWait(): Promise<void> {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      WEFT_LISTEN: `127.0.0.1:${port}`,
      WEFT_LISTEN_SOCKET: socketPath,
      WEFT_DATA_DIR: dataDir,
      WEFT_AUTH: 'token',
      WEFT_LOG_LEVEL: 'warn',
      ...options.env,
    };
    delete env.WEFT_CONFIG; // never pick up a developer's config file
    // node directly (not npx): signals reach the controller itself, not a wrapper.
    // WEFT_TEST_NODE_ARGS: extra node flags for the controller and agents of tests and benchmarks (e.g. --cpu-prof).
    const proc = spawn(process.execPath, [...(process.env.WEFT_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', TSX, join(REPO, 'controller/main.ts')], {
      cwd: dataDir, // no weft.json here
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    live.add(proc);
    proc.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    exited = new Promise<ExitInfo>((ok) => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        ok({ code, signal });
      });
    });
    const deadline = Date.now() + startTimeout;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`controller exited during start (code ${proc.exitCode}, signal ${proc.signalCode}):\n${log}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) {
          await res.arrayBuffer();
          return;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`controller did not answer GET / within ${startTimeout} ms:\n${log}`);
      }
      await sleep(100);
    }
  }

  const isRunning = () => !!child && child.exitCode === null && child.signalCode === null;

  async function kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> {
    if (!child || !exited) return { code: null, signal: null };
    if (isRunning()) child.kill(signal);
    return exited;
  }

  async function stopHard(): Promise<void> {
    if (!isRunning()) return;
    const done = kill('SIGTERM');
    const timer = sleep(5000).then(() => 'timeout' as const);
    if ((await Promise.race([done, timer])) === 'timeout') await kill('SIGKILL');
  }

  async function startOnFreePort(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        return await spawnAndWait();
      } catch (err) {
        // Someone took the port between freePort() and listen(): try another one.
        if (attempt < 3 && /EADDRINUSE/.test(String(err))) continue;
        throw err;
      }
    }
  }

  const removeAll = whileAlive(async () => {
    try {
      await stopHard();
    } finally {
      if (ownsDir) {
        rmSync(dataDir, { recursive: true, force: true });
        ownedDirs.delete(dataDir);
      }
    }
  });
  try {
    await startOnFreePort();
    // In keystone mode there is no admin token of Weft's own to read.
    if (!adminToken && (options.env?.WEFT_AUTH ?? 'token') === 'token') adminToken = readAdminToken();
  } catch (err) {
    await removeAll();
    throw err;
  }

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir,
    socketPath,
    get adminToken() {
      return adminToken;
    },
    get pid() {
      return isRunning() ? child!.pid : undefined;
    },
    get running() {
      return isRunning();
    },
    output: () => log,
    kill,
    stop: async () => {
      await stopHard();
      return exited ? exited : { code: null, signal: null };
    },
    async restart() {
      await stopHard();
      log += `\n--- restart ---\n`;
      try {
        await spawnAndWait(); // same port: clients keep their URL
      } catch (err) {
        if (!/EADDRINUSE/.test(String(err))) throw err;
        await startOnFreePort();
      }
    },
    addTokens: (tokens) => writeTokens(dataDir, tokens),
    cleanup: removeAll,
  };
}
