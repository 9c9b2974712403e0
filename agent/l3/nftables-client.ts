// nftables inside router namespaces, through one long-lived helper process per agent
// (nftables-helper.py: libnftables with a context per namespace). A command line costs about 0.3-0.7
// ms here, against 1-1.5 ms through a long-lived `nft -i` and 5 ms for a one-shot `nft`, which is what
// makes a floating IP remap fast; and a gateway with a thousand routers runs one helper, not a
// thousand nft processes.
//
// Each line is one transaction, answered with nft's own return code and error. Requests are written
// at once, in the caller's turn (a remap must not wait for whatever else the agent does in that turn),
// and answered in order. The helper starts on first use and ends when the last namespace is
// forgotten; if it dies or stops answering, what is pending fails and the next call starts a new one
// (the state is in the kernel, nothing is lost).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkNetnsName } from '../host/netns.ts';

const HELPER = join(dirname(fileURLToPath(import.meta.url)), 'nftables-helper.py');
/** The distribution's Python: python3-nftables is installed for it, not for a python3 of pyenv or a venv. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export class NftablesError extends Error {
  constructor(
    readonly netns: string | undefined,
    message: string,
  ) {
    super(netns ? `nft in ${netns}: ${message}` : `nftables helper: ${message}`);
    this.name = 'NftablesError';
  }
}

interface Pending {
  netns: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class NftablesClient {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly known = new Set<string>();
  private nextId = 0;
  private stdout = '';
  private stderr = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs = 10_000) {}

  /** The helper's pid while it runs (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs `line` (commands separated by `;`) in `netns` as one transaction; rejects with nft's error. */
  run(netns: string, line: string): Promise<void> {
    try {
      checkNetnsName(netns);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (/[\n\r\t]/.test(line)) return Promise.reject(new NftablesError(netns, 'a command line cannot contain a newline or a tab'));
    this.known.add(netns);
    return this.request(netns, `run\t${netns}\t${line}`);
  }

  /** Closes the namespace's context (before the namespace goes away); the last one stops the helper. */
  forget(netns: string): void {
    if (!this.known.delete(netns) || !this.child) return;
    if (this.known.size === 0) return this.stop(new NftablesError(undefined, 'stopped'), false);
    void this.request(netns, `forget\t${netns}`).catch(() => undefined);
  }

  /** Stops the helper; what is pending fails. */
  close(): void {
    this.known.clear();
    this.stop(new NftablesError(undefined, 'closed'), false);
  }

  private request(netns: string, text: string): Promise<void> {
    const child = this.child ?? this.start();
    const id = ++this.nextId;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { netns, resolve, reject });
      this.armTimer();
      child.stdin.write(`${id}\t${text}\n`);
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(PYTHON, [HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => this.onData(d));
    child.stderr.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    child.stdin.on('error', () => undefined); // an exit is reported below
    child.on('error', (e) => this.stop(new NftablesError(undefined, `${PYTHON} ${HELPER}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      const why = /No module named .?nftables/.test(this.stderr) ? 'python3-nftables is not installed' : this.stderr.trim();
      this.stop(new NftablesError(undefined, `exited (${signal ?? code})${why ? `: ${why}` : ''}`));
    });
    // The agent may exit with the helper still running; it then ends with its stdin.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    this.child = child;
    this.stdout = '';
    this.stderr = '';
    return child;
  }

  private onData(d: string): void {
    this.stdout += d;
    let nl: number;
    while ((nl = this.stdout.indexOf('\n')) >= 0) {
      const line = this.stdout.slice(0, nl);
      this.stdout = this.stdout.slice(nl + 1);
      const [id, rc, error] = line.split('\t');
      const p = this.pending.get(Number(id));
      if (!p) continue;
      this.pending.delete(Number(id));
      if (rc === '0') p.resolve();
      else p.reject(new NftablesError(p.netns, parseError(error) || `failed (${rc})`));
    }
    this.armTimer();
  }

  /** One timer for the oldest request: the helper answers in order. */
  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    this.timer = setTimeout(() => this.stop(new NftablesError(undefined, `no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
    this.timer.unref();
  }

  private stop(err: Error, kill = true): void {
    const child = this.child;
    this.child = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (child && child.exitCode === null) {
      if (kill) child.kill('SIGKILL');
      else child.stdin.end(); // it finishes what it was given, then exits
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }
}

function parseError(text: string | undefined): string {
  try {
    return String(JSON.parse(text ?? '""'));
  } catch {
    return text ?? '';
  }
}
