// Small wrapper around child_process for the host helpers: run a command, collect its output,
// fail with a readable error (the full command line and stderr) unless the caller allows failure.
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Bytes/text written to the child's stdin (then stdin is closed). */
  input?: string | Buffer;
  /** Extra environment variables (merged over process.env). */
  env?: Record<string, string>;
  /** Kill the child (SIGKILL) after this many milliseconds. Default 30 s. */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit code; the caller inspects `code`. */
  allowFail?: boolean;
  cwd?: string;
  /**
   * The child is killed (SIGKILL) when the agent dies, by the kernel (`setpriv --pdeathsig`): for a
   * command that may bring an HA router's leg up, so that none can do so after the L3 dead-man
   * watcher set them down (agent/l3/dead-man.ts).
   */
  diesWithAgent?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that exited non-zero (or could not be started, or timed out). */
export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
    why?: string,
  ) {
    super(`${command}: ${why ?? `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.name = 'ExecError';
  }
}

/** Quote a command line for messages (never passed to a shell). */
export function formatCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Run `cmd args...` without a shell. Resolves with the exit code and output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = formatCommand(cmd, args);
  return new Promise((resolve, reject) => {
    const [file, argv] = opts.diesWithAgent ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, {
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ExecError(command, -1, '', '', e.message));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const rc = code ?? 128;
      if (timedOut) return reject(new ExecError(command, rc, stdout, stderr, `timed out after ${opts.timeoutMs ?? 30_000} ms`));
      if (rc !== 0 && !opts.allowFail) {
        return reject(new ExecError(command, rc, stdout, stderr, signal ? `killed by ${signal}` : undefined));
      }
      resolve({ code: rc, stdout, stderr });
    });
    child.stdin.on('error', () => {
      /* the child may exit before reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Run and return trimmed stdout; throws ExecError on failure. */
export async function runOut(cmd: string, args: readonly string[], opts: Omit<RunOptions, 'allowFail'> = {}): Promise<string> {
  return (await run(cmd, args, opts)).stdout.trim();
}
