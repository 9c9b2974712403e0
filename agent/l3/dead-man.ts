// The L3 dead-man switch: an agent that dies while its Open vSwitch runs on silences its active HA
// routers at once, instead of answering ARP and NATing next to the standby the controller promotes
// l3FenceMs + a margin (400 ms) after the agent's channel closed.
//
// The agent keeps a small bash watcher (started with the first HA router it plans) in its own
// session and process group, so that neither a signal to the agent nor to its process group reaches
// it, with a pipe from the agent on its stdin. The agent writes the guard (dead-man-guard.ts: the
// host-side veth ends of the HA routers whose legs may be up, written before they come up) as one
// line each time it changes. The watcher only reads until EOF, which comes when the agent dies,
// whatever the signal (the kernel closes the pipe; Node makes its pipes close-on-exec, so no other
// child of the agent holds it open). Then it sets those links down in one `ip -batch`, in the
// network namespace of the veth ends (the agent's own, which it inherited, or hostNetns), once more 100 ms later
// (a belt: see the confirmation below), and exits.
//
// Why not something else: an OpenFlow hard_timeout lease on the legs' flows counts whole seconds
// (too coarse for a 400 ms failover, and a lease renewed by the agent would expire under load);
// a second Node process costs ~40 MB and hundreds of ms to start; a process in the agent's group
// dies with it under `kill -- -pgid`.
//
// Then it confirms to the controller that the legs are down (POST /v2.0/weft/ha-legs-down with
// this host's agent credential, with curl: the controller URLs in order, the first that answers),
// so that the controller moves the HA routers at once instead of at the end of its 400 ms; a
// confirmation that never arrives leaves that timer path. It goes right after the first `ip`: a
// standby promoted on the word of the watcher must find the old legs down for good, and no `ip`
// the agent had started can bring one up again after that, because the agent runs every command
// that may bring a leg up under `setpriv --pdeathsig KILL` (host/exec.ts diesWithAgent): the kernel
// kills it in the same exit of the agent that closes the watcher's pipe, a fork and an exec before
// the watcher's own `ip` runs, and a netlink request it had sent completes inside that syscall.
// (Until stop 19 it waited for the second `ip`, 100 ms on every failover's critical path.) The
// second `ip` stays, beside the confirmation, for anything that escaped that. The controller
// acts on it at once if the agent's channel is closed, else when it closes within a second
// (api/agent-identity/legs-down.ts). The
// credential reaches the watcher in its environment and curl through a pipe (-H @/dev/fd/N), never
// on a command line.
//
// A restarted agent is not confused by its predecessor's watcher: that one acts only at the EOF
// its agent's death caused, so within milliseconds of it and long before a new agent has started,
// received its snapshot and brought any leg up; then it is gone. The new agent starts its own.
//
// A clean stop (SIGTERM) hands the active HA routers over first (handover.ts), so by then the guard
// is usually empty. When it could not (the controller unreachable), it sets the legs down too
// (close() ends the pipe): the controller fails a gateway over whenever its agent's channel
// closes, clean or not (controller/sync/hub.ts sessionClosed), so legs left up after a clean stop
// would answer next to the new active gateway until the agent is back. Neutron's L3 agent can leave keepalived running on a clean stop because
// VRRP goes on electing without it; here the controller elects, and it has already moved on.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { LegGuard, type GuardedPlan, type SettleView } from './dead-man-guard.ts';

/**
 * The watcher, a bash script ($1: network namespace of the veth ends, '' for its own; $2: host, for
 * its log line). bash for its builtins: nothing is forked between the EOF and `ip` but `ip`, and
 * $EPOCHREALTIME stamps the EOF and the action for the log. A partial last line (the agent died in
 * the middle of a write longer than PIPE_BUF) adds its names to the last whole one: a cut name
 * matches no link (they all have the same length). It ignores SIGTERM, SIGINT and SIGHUP (and so
 * do the `ip` it runs): a service manager that stops the agent's whole control group (systemd's
 * default KillMode) signals it together with the agent, and it must still act on the EOF that
 * follows; it exits by itself right after.
 */
export const WATCHER_SCRIPT = `
trap '' TERM INT HUP
ns=$1
last=
while IFS= read -r line; do last=$line; done
eof=$EPOCHREALTIME
set -f
legs=
for n in $last $line; do legs+="link set dev $n down"$'\\n'; done
[ -n "$legs" ] || exit 0
down() {
  if [ -n "$ns" ]; then ip -n "$ns" -force -batch - <<<"$legs" >/dev/null 2>&1
  else ip -force -batch - <<<"$legs" >/dev/null 2>&1; fi
}
down
done=$EPOCHREALTIME
status=none
confirm() {
  curl -s -o /dev/null -w '%{http_code}' --connect-timeout 0.5 --max-time 1 \${WEFT_DEAD_MAN_SOCKET:+--unix-socket "$WEFT_DEAD_MAN_SOCKET"} \\
    -H @<(printf 'X-Auth-Token: %s\\n' "$WEFT_DEAD_MAN_CREDENTIAL") -H 'Content-Type: application/json' \\
    --data-binary @- "\${1%/}/v2.0/weft/ha-legs-down" 2>/dev/null
}
if [ -n "$WEFT_DEAD_MAN_CREDENTIAL" ] && [ -n "$WEFT_DEAD_MAN_URLS" ]; then
  (sleep 0.1; down) &
  for url in $WEFT_DEAD_MAN_URLS; do
    status=$(confirm "$url" <<<"$WEFT_DEAD_MAN_BODY")
    [ "$status" = 202 ] && break
  done
  wait
else
  sleep 0.1
  down
fi
answered=$EPOCHREALTIME
ms() { local s=\${1%.*} u=\${1#*.}; echo $((s * 1000 + 10#\${u:0:3})); }
printf '{"level":40,"time":%s,"eof":%s,"confirmAnswered":%s,"confirmStatus":"%s","host":"%s","part":"l3-dead-man","legs":"%s","msg":"agent gone: HA router legs set down"}\\n' \\
  "$(ms $done)" "$(ms $eof)" "$(ms $answered)" "$status" "$2" "$(echo $last $line)" >&2
`;

/** The process name the watcher shows (its $0), to tell it apart in `ps`. */
export const WATCHER_NAME = 'weft-l3-dead-man';

export interface DeadManOptions {
  /** This agent's host (in the watcher's log line). */
  host?: string;
  /** Namespace of the host-side veth ends (RouterNamespaceOptions.hostNetns); default: the agent's own. */
  hostNetns?: string;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The watcher's environment (default: the agent's). */
  env?: NodeJS.ProcessEnv;
  /** Wait before starting a new watcher when one died while the agent lives. Default 1000 ms. */
  respawnMs?: number;
  /** Where the watcher confirms the legs are down (absent: it does not): the controllers, in order, and this host's credential. */
  confirm?: { urls: readonly string[]; credential: string; socketPath?: string };
}

export class DeadManSwitch {
  private readonly guard = new LegGuard();
  /** The line the current watcher holds ('' with no watcher). */
  private written = '';
  private watcher: ChildProcess | undefined;
  private closed = false;
  private respawnTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: DeadManOptions = {}) {}

  /** The watcher's pid, if one runs. */
  get pid(): number | undefined {
    return this.watcher?.pid;
  }

  /**
   * Before a pass over the routers `ids`: guard every HA router it may bring up (resolves once the
   * watcher's pipe has it). The watcher starts with the first HA router, a standby too: a promotion
   * then only writes a line.
   */
  arm(plan: ReadonlyMap<string, GuardedPlan>, ids: ReadonlySet<string>): Promise<void> {
    if (!this.watcher && !this.closed && [...ids].some((id) => plan.get(id)?.ha)) this.start();
    this.guard.arm(plan, ids);
    return this.update();
  }

  /** After a pass over the routers `ids`: drop the ones it left silent or removed. */
  settle(plan: ReadonlyMap<string, GuardedPlan>, ids: ReadonlySet<string>, view: SettleView): Promise<void> {
    this.guard.settle(plan, ids, view);
    return this.update();
  }

  /** Clean stop: the watcher sets the guarded legs down (see the header) and exits; resolves when it has. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    const w = this.watcher;
    if (!w || w.exitCode !== null || w.signalCode !== null) return;
    if (this.written) this.o.log?.info({ legs: this.written }, 'stopping: the HA routers\' legs go down (the controller fails them over)');
    const exited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3000);
      w.once('exit', () => { clearTimeout(timer); resolve(); });
    });
    w.stdin?.end();
    await exited;
  }

  private async update(): Promise<void> {
    const line = this.guard.line();
    if (this.closed || line === this.written) return;
    try {
      await this.write(line);
    } catch (err) {
      this.o.log?.error({ err }, 'dead-man watcher not told the legs of the active HA routers');
    }
  }

  private write(line: string): Promise<void> {
    const w = this.watcher ?? this.start();
    return new Promise((resolve, reject) => {
      w.stdin!.write(`${line}\n`, (err) => {
        if (err) return reject(err);
        if (this.watcher === w) this.written = line;
        resolve();
      });
    });
  }

  /** The watcher's confirmation, in its environment (the body made here: no JSON quoting in bash). */
  private confirmEnv(): Record<string, string> {
    const c = this.o.confirm;
    if (!c || !this.o.host) return {};
    return {
      WEFT_DEAD_MAN_URLS: c.urls.join(' '), WEFT_DEAD_MAN_CREDENTIAL: c.credential,
      WEFT_DEAD_MAN_BODY: JSON.stringify({ ha_legs_down: { host: this.o.host } }), ...(c.socketPath ? { WEFT_DEAD_MAN_SOCKET: c.socketPath } : {}),
    };
  }

  private start(): ChildProcess {
    // detached: setsid(), its own session and process group. stderr is the agent's (its one log line).
    const child = spawn('bash', ['-c', WATCHER_SCRIPT, WATCHER_NAME, this.o.hostNetns ?? '', this.o.host ?? ''], {
      detached: true, stdio: ['pipe', 'ignore', 'inherit'], env: { ...(this.o.env ?? process.env), ...this.confirmEnv() },
    });
    // Never what keeps the agent's event loop alive.
    child.unref();
    (child.stdin as Socket).unref();
    child.stdin!.on('error', (err) => this.o.log?.warn({ err }, 'dead-man watcher pipe failed'));
    child.once('error', (err) => {
      // Not started (no bash?): the next pass tries again.
      if (this.watcher === child) [this.watcher, this.written] = [undefined, ''];
      this.o.log?.error({ err }, 'dead-man watcher not started');
    });
    child.once('exit', (code, signal) => {
      if (this.watcher !== child) return;
      this.watcher = undefined;
      this.written = '';
      if (this.closed) return;
      this.o.log?.warn({ code, signal }, 'dead-man watcher exited while the agent runs; starting another');
      this.respawnTimer = setTimeout(() => {
        this.respawnTimer = undefined;
        void this.update();
      }, this.o.respawnMs ?? 1000);
      this.respawnTimer.unref();
    });
    this.watcher = child;
    this.written = '';
    this.o.log?.info({ pid: child.pid }, 'dead-man watcher started (it sets the active HA routers\' legs down if this agent dies)');
    return child;
  }
}
