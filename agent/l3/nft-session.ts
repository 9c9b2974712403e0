// A long-lived `nft -i` inside one network namespace: a command line costs about 0.4 ms instead
// of 5 ms for a one-shot `nft` (ENVIRONMENT §9), which is what makes a floating IP remap fast.
//
// nft -i answers nothing for a successful command and writes errors to stderr, with no framing.
// So each request is the caller's line plus, in the same line (one transaction), a new value for
// the generation set of a small table of ours, followed by a listing of that set: the listing on
// stdout tells both that nft has got that far and, by the generation it shows, whether the
// transaction committed. Requests run one at a time.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { checkNetnsName } from '../host/netns.ts';

const ACK_TABLE = 'ip weft_ack';

export class NftSessionError extends Error {
  constructor(
    readonly netns: string,
    message: string,
  ) {
    super(`nft in ${netns}: ${message}`);
    this.name = 'NftSessionError';
  }
}

interface Pending {
  generation: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class NftSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private stdout = '';
  private stderr = '';
  private generation = 0;
  private pending: Pending | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly netns: string,
    private readonly timeoutMs = 10_000,
  ) {
    checkNetnsName(netns);
  }

  /** True while the nft process runs (a new one, started by the next run(), has lost nothing: state is in the kernel). */
  get alive(): boolean {
    return this.child !== undefined;
  }

  /** The pid of the running `ip netns exec ... nft -i` (it execs nft), if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Runs `line` (one or more commands separated by `;`) as one transaction; rejects with nft's error. */
  run(line: string): Promise<void> {
    if (/[\n\r]/.test(line)) return Promise.reject(new NftSessionError(this.netns, 'a command line cannot contain a newline'));
    const next = this.queue.then(() => this.send(line));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.closed = true;
    this.stop(new NftSessionError(this.netns, 'session closed'));
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('ip', ['netns', 'exec', this.netns, 'nft', '-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      this.stdout += d;
      this.checkAck();
    });
    child.stderr.on('data', (d: string) => {
      this.stderr += d;
    });
    child.stdin.on('error', () => undefined); // an exit is reported below
    child.on('error', (e) => this.stop(new NftSessionError(this.netns, e.message)));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.stop(new NftSessionError(this.netns, `nft exited (${signal ?? code}): ${this.stderr.trim()}`));
    });
    this.child = child;
    this.generation = 0;
    child.stdin.write(`add table ${ACK_TABLE}; add set ${ACK_TABLE} gen { type mark; }\n`);
    return child;
  }

  private stop(err: Error): void {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private send(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new NftSessionError(this.netns, 'session closed'));
    const child = this.child ?? this.start();
    const generation = ++this.generation;
    this.stdout = '';
    this.stderr = '';
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.stop(new NftSessionError(this.netns, `no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending = { generation, resolve, reject, timer };
      child.stdin.write(`${line}; flush set ${ACK_TABLE} gen; add element ${ACK_TABLE} gen { ${generation} }\nlist set ${ACK_TABLE} gen\n`);
    });
  }

  /** The listing ends with the table's closing brace at the start of a line. */
  private checkAck(): void {
    const p = this.pending;
    if (!p || !/^}\s*$/m.test(this.stdout)) return;
    const shown = /elements = \{ (0x[0-9a-f]+) \}/.exec(this.stdout);
    const committed = shown !== null && Number(shown[1]) === p.generation;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (committed) {
      p.resolve();
    } else {
      // The error text was written before the listing; give its pipe one turn to be read.
      setImmediate(() => p.reject(new NftSessionError(this.netns, this.stderr.trim() || 'transaction not committed')));
    }
  }
}
