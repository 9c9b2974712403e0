// Running a few synchronous lines with the agent's main thread inside another network namespace
// (setns(2), called through koffi: Node has no binding for it). What those lines create, a netlink
// socket above all, stays bound to that namespace after the thread has gone back; nothing else can
// run meanwhile, since the whole visit is one synchronous call. Only the calling thread moves:
// libuv's pool threads and everything the agent opened before stay where they were.
import { closeSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { checkNetnsName } from './netns.ts';

const CLONE_NEWNET = 0x40000000;

interface Libc {
  setns: (fd: number, nstype: number) => number;
  errno: () => number;
}

let libc: Libc | undefined;
let home: number | undefined;

/** koffi and libc's setns, loaded on first use; throws when this platform has no koffi build. */
function loadLibc(): Libc {
  if (libc) return libc;
  // koffi's native part comes from a per-platform package: load it only when a namespace is entered.
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  libc = { setns: lib.func('int setns(int fd, int nstype)'), errno: () => koffi.errno() };
  return libc;
}

function enter(c: Libc, fd: number, what: string): void {
  if (c.setns(fd, CLONE_NEWNET) !== 0) throw new Error(`setns into ${what}: errno ${c.errno()}`);
}

/**
 * Runs `fn` with the calling thread in network namespace `netns` (a name under /run/netns), and
 * comes back before returning or throwing. Throws if the namespace cannot be entered.
 */
function withinNetns<T>(netns: string, fn: () => T): T {
  checkNetnsName(netns);
  const c = loadLibc();
  // The thread's own namespace, kept open: the way back.
  home ??= openSync('/proc/thread-self/ns/net', 'r');
  let target: number;
  try {
    target = openSync(`/run/netns/${netns}`, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'ENOENT' ? `network namespace ${netns}: No such file or directory (it does not exist)` : err.message);
  }
  try {
    enter(c, target, netns);
  } finally {
    closeSync(target);
  }
  try {
    return fn();
  } finally {
    try {
      enter(c, home, 'the agent\'s own namespace');
    } catch (e) {
      // Anything this thread opened from now on would land in the router's namespace.
      console.error(`weft: cannot return from network namespace ${netns}: ${(e as Error).message}`);
      process.exit(70);
    }
  }
}

/** The namespace named `netns` as it is now (its nsfs inode); undefined when there is none. */
function netnsIdentity(netns: string): number | undefined {
  try {
    return statSync(`/run/netns/${netns}`).ino;
  } catch {
    return undefined;
  }
}

/**
 * Things opened inside network namespaces (a netlink socket, a libnftables context), one per
 * namespace name, each kept while its namespace is the same one: a namespace deleted and made again
 * under the same name (its nsfs inode changes) gets a new one, instead of writes to the old one.
 */
export class NetnsHandles<T> {
  private readonly open = new Map<string, { handle: T; identity: number | undefined }>();

  /** `make` runs inside the namespace; `dispose` closes a handle, saying why. */
  constructor(
    private readonly make: (netns: string) => T,
    private readonly dispose: (handle: T, why: string) => void,
  ) {}

  /** The namespace's handle, made when it has none (throws if the namespace cannot be entered). */
  get(netns: string): T {
    checkNetnsName(netns);
    const identity = netnsIdentity(netns);
    const had = this.open.get(netns);
    if (had && had.identity === identity) return had.handle;
    if (had) this.forget(netns, 'the namespace was made again');
    const handle = withinNetns(netns, () => this.make(netns));
    this.open.set(netns, { handle, identity });
    return handle;
  }

  /** Closes the namespace's handle; with `only`, only if that is the one it has. */
  forget(netns: string, why = 'closed', only?: T): void {
    const had = this.open.get(netns);
    if (!had || (only !== undefined && had.handle !== only)) return;
    this.open.delete(netns);
    this.dispose(had.handle, why);
  }

  /** Names of the namespaces with a handle. */
  names(): string[] {
    return [...this.open.keys()];
  }
}
