// Reading what iputils ping printed when a test stopped it with SIGINT.

export interface PingCount {
  sent: number;
  /** Sequence numbers that got no reply, not counting the last probe sent. */
  lost: number[];
}

/**
 * The probes a stopped ping lost. The last probe may still have been on the wire
 * when SIGINT came, so it is not counted; any earlier one without a reply is.
 */
export function pingLosses(output: string): PingCount | null {
  const summary = /(\d+) packets transmitted, \d+ received/.exec(output);
  if (!summary) return null;
  const sent = Number(summary[1]);
  const answered = new Set([...output.matchAll(/icmp_seq=(\d+) /g)].map((m) => Number(m[1])));
  const lost: number[] = [];
  for (let seq = 1; seq < sent; seq++) if (!answered.has(seq)) lost.push(seq);
  return { sent, lost };
}
