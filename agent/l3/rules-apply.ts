// Applies a router's iptables text (agent/l3/rules.ts) inside its namespace. The text replaces the
// tables nat and filter as a whole (iptables-restore WITHOUT --noflush), so applying it again is a
// no-op and never duplicates the built-in jumps (ENVIRONMENT §5). One process per change, about
// 16 ms (ENVIRONMENT §9): fine for router updates; a hot path would keep a process in the namespace.
//
// Note: conntrack entries made under old rules keep their NAT; a caller that removes a floating IP
// or port forwarding and wants existing flows cut must also delete them (`conntrack -D -d FLOATING`).
import { run } from '../host/exec.ts';
import { checkNetnsName } from '../host/netns.ts';

/** Thrown when iptables-restore rejects the text; `message` carries iptables' stderr. */
export class RouterRulesApplyError extends Error {
  constructor(
    readonly netns: string,
    readonly stderr: string,
    readonly code: number,
  ) {
    super(`iptables-restore in ${netns} failed (exit ${code}): ${stderr.trim()}`);
    this.name = 'RouterRulesApplyError';
  }
}

/** `ip netns exec <netns> iptables-restore` with `text` on stdin (whole-table restore, no --noflush). */
export async function applyRouterRules(netns: string, text: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  checkNetnsName(netns);
  const r = await run('ip', ['netns', 'exec', netns, 'iptables-restore'], {
    input: text,
    allowFail: true,
    timeoutMs: opts.timeoutMs ?? 15_000,
  });
  if (r.code !== 0) throw new RouterRulesApplyError(netns, r.stderr, r.code);
}

/** `iptables-save` in the namespace (all tables, with iptables' comment lines). */
export async function readRouterRules(netns: string): Promise<string> {
  checkNetnsName(netns);
  return (await run('ip', ['netns', 'exec', netns, 'iptables-save'], { timeoutMs: 15_000 })).stdout;
}
