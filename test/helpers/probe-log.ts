// Reading what `probe.mjs udp-probe ... FILE` wrote, and the outage a client probing at a fixed
// interval saw: shared by the HA e2e test and the gateway failover benchmark.
import { readFileSync } from 'node:fs';

/** One answered probe: when it was sent and when its answer came (epoch ms), by sequence number. */
export interface Reply { seq: number; sent: number; got: number }

/** Parses probe answer lines ("reply <epoch ms> <tag>:<seq> <epoch ms sent>"), sorted by sequence number. PURE. */
export function parseReplies(text: string): Reply[] {
  const out: Reply[] = [];
  for (const line of text.split('\n')) {
    const m = /^reply (\S+) \S+:(\d+) (\S+)$/.exec(line);
    if (m && m[3] !== '-') out.push({ seq: Number(m[2]), got: Number(m[1]), sent: Number(m[3]) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** The answers in a probe's file so far (none while the file does not exist). */
export function replies(file: string): Reply[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return parseReplies(text);
}

export interface Outage {
  /** The longest time without an answered probe, in ms (about the probe interval when none was lost). */
  ms: number;
  /** Probes lost in the window. */
  lost: number;
  firstSeq: number;
  lastSeq: number;
}

/**
 * The longest time without an answered probe among the probes sent in [from, to): from the send
 * time of the last answered probe before a run of lost ones to the send time of the next answered
 * one (what a client probing every few ms sees as the outage), and the probes lost in that window. PURE.
 */
export function outage(rs: readonly Reply[], from: number, to: number): Outage {
  const inWindow = rs.filter((r) => r.sent >= from && r.sent < to);
  let ms = 0;
  let lost = 0;
  for (let i = 1; i < inWindow.length; i++) {
    const gap = inWindow[i].seq - inWindow[i - 1].seq - 1;
    if (gap > 0) lost += gap;
    ms = Math.max(ms, inWindow[i].sent - inWindow[i - 1].sent);
  }
  return { ms: Math.round(ms), lost, firstSeq: inWindow[0]?.seq ?? -1, lastSeq: inWindow.at(-1)?.seq ?? -1 };
}
