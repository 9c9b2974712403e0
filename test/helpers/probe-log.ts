// Reading what test/helpers/probe.mjs `udp-probe` wrote: the answered probes and the longest
// outage a client probing every few milliseconds saw (as test/e2e/l3-ha.test.ts computes them).
import { readFileSync } from 'node:fs';

/** One answered probe: when it was sent and when its answer came (epoch ms), by sequence number. */
export interface Reply { seq: number; sent: number; got: number }

export function replies(file: string): Reply[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Reply[] = [];
  for (const line of text.split('\n')) {
    // reply <epoch ms> <tag>:<seq> <epoch ms sent>
    const m = /^reply (\S+) \S+:(\d+) (\S+)$/.exec(line);
    if (m && m[3] !== '-') out.push({ seq: Number(m[2]), got: Number(m[1]), sent: Number(m[3]) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * The longest time without an answered probe among the probes sent in [from, to): from the send
 * time of the last answered probe before a run of lost ones to the send time of the next answered
 * one (what a client probing every 10 ms sees as the outage), and the probes lost in that window.
 */
export function outage(rs: Reply[], from: number, to: number): { ms: number; lost: number; firstSeq: number; lastSeq: number } {
  const inWindow = rs.filter((r) => r.sent >= from && r.sent < to);
  let ms = 0;
  let lost = 0;
  for (let i = 1; i < inWindow.length; i++) {
    const gap = inWindow[i]!.seq - inWindow[i - 1]!.seq - 1;
    if (gap > 0) lost += gap;
    ms = Math.max(ms, inWindow[i]!.sent - inWindow[i - 1]!.sent);
  }
  return { ms: Math.round(ms), lost, firstSeq: inWindow[0]?.seq ?? -1, lastSeq: inWindow.at(-1)?.seq ?? -1 };
}
