import { z } from 'zod';

// Agent presence shared by controller replicas. An agent keeps its connection to one replica; that
// replica publishes what it knows of the agents it holds — one record per replica in the shared
// state, written by replica-presence.ts — and every replica merges the others' records with its
// own sessions (liveness.ts). This file is the pure part: the record, which of several sessions
// of one agent counts, what the others' records say, and when a record must be written again.

/** One agent's session, as the replica holding it publishes it. */
export interface PresenceEntry {
  agentId: string;
  host: string;
  /** When the session registered (ms since the epoch, on the holding replica's clock). */
  startedAt: number;
  heartbeatAt: number;
  /** The session is open. */
  connected: boolean;
  /** Open and heartbeating, as the holding replica judged it when it published. */
  alive: boolean;
  /** The revision the agent is in step at (everything sent to it up to there applied); null before its first report. */
  inStepAt: number | null;
  /** The peers the agent reports lost over the underlay (BFD), sorted; absent: none. */
  underlayDown?: string[];
  /** The agent says it is cut off from the underlay and its HA routers are silent. */
  underlaySilent?: boolean;
}

export interface PresenceRecord {
  replica: string;
  /**
   * The model's revision on the publishing replica when it wrote the record: the statuses its
   * agents reported up to then are committed at or below it, so a reader whose model is behind it
   * may not see them yet.
   */
  revision: number;
  agents: PresenceEntry[];
}

const presenceRecord = z.object({
  replica: z.string().min(1),
  revision: z.number().int(),
  agents: z.array(z.object({
    agentId: z.string().min(1),
    host: z.string(),
    startedAt: z.number(),
    heartbeatAt: z.number(),
    connected: z.boolean(),
    alive: z.boolean(),
    inStepAt: z.number().int().nullable(),
    underlayDown: z.array(z.string()).optional(),
    underlaySilent: z.boolean().optional(),
  })),
});

export function encodePresence(record: PresenceRecord): string {
  return JSON.stringify(record);
}

/** The record, or undefined for text that is not one (written by another version, or by hand). */
export function decodePresence(text: string): PresenceRecord | undefined {
  try {
    const parsed = presenceRecord.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

type SessionStamp = Pick<PresenceEntry, 'startedAt' | 'connected'>;

/**
 * Whether session `a` of an agent replaces session `b`: the later registration (an agent has one
 * connection at a time, so the older session is over even if its replica has not noticed yet);
 * at the same instant, an open one. Clocks of the replicas are assumed to agree to well within the
 * time an agent takes to connect again.
 */
export function supersedes(a: SessionStamp, b: SessionStamp): boolean {
  if (a.startedAt !== b.startedAt) return a.startedAt > b.startedAt;
  return a.connected && !b.connected;
}

/** An entry another replica published. */
export interface RemoteEntry extends PresenceEntry {
  replica: string;
  /** The record's revision (PresenceRecord.revision). */
  revision: number;
  /**
   * A record there now lists it. False once its replica dropped it or its record went (the
   * replica stopped, or died and its lease ran out): kept for heartbeat_timestamp and
   * applied_revision, never alive.
   */
  listed: boolean;
}

export function remoteAlive(e: RemoteEntry): boolean {
  return e.listed && e.connected && e.alive;
}

/** The lowest revision the alive agents of `entries` are in step at (Infinity when none is alive). */
export function inStepFloor(entries: Iterable<PresenceEntry>): number {
  let floor = Infinity;
  for (const e of entries) if (e.connected && e.alive) floor = Math.min(floor, e.inStepAt ?? -1);
  return floor;
}

/** What the other replicas published, as this replica last heard it: the session that counts per agent. */
export class RemotePresence {
  private readonly records = new Map<string, Map<string, RemoteEntry>>();
  /** The last known entry of each agent no record lists any more. */
  private readonly unlisted = new Map<string, RemoteEntry>();
  private readonly current = new Map<string, RemoteEntry>();
  private readonly agentOfHost = new Map<string, string>();

  /** A replica's record, or undefined when it went. */
  apply(replica: string, record: PresenceRecord | undefined): void {
    const before = this.records.get(replica);
    const after = new Map((record?.agents ?? []).map((e) => [e.agentId, { ...e, replica, revision: record!.revision, listed: true }]));
    if (record) this.records.set(replica, after);
    else this.records.delete(replica);
    for (const [id, e] of before ?? []) {
      if (after.has(id)) continue;
      const held = this.unlisted.get(id);
      if (!held || !supersedes(held, e)) this.unlisted.set(id, { ...e, listed: false });
    }
    for (const id of new Set([...(before?.keys() ?? []), ...after.keys()])) this.settle(id);
  }

  get(agentId: string): RemoteEntry | undefined {
    return this.current.get(agentId);
  }

  /** The entry of the agent last seen for `host` (one agent per host). */
  forHost(host: string): RemoteEntry | undefined {
    const id = this.agentOfHost.get(host);
    return id === undefined ? undefined : this.current.get(id);
  }

  entries(): IterableIterator<RemoteEntry> {
    return this.current.values();
  }

  /** The agent was deleted. */
  forget(agentId: string): void {
    const e = this.current.get(agentId);
    this.current.delete(agentId);
    this.unlisted.delete(agentId);
    for (const entries of this.records.values()) entries.delete(agentId);
    if (e && this.agentOfHost.get(e.host) === agentId) this.agentOfHost.delete(e.host);
  }

  /** Picks the entry that counts for the agent among the records and its last unlisted one. */
  private settle(agentId: string): void {
    let best = this.unlisted.get(agentId);
    for (const entries of this.records.values()) {
      const e = entries.get(agentId);
      // A listed entry wins over the unlisted copy of the same session.
      if (e && (!best || supersedes(e, best) || (!supersedes(best, e) && !best.listed))) best = e;
    }
    if (!best) return;
    this.current.set(agentId, best);
    this.agentOfHost.set(best.host, agentId);
  }
}

/**
 * Whether a replica must write its record again, from what it last wrote (`published`) and its
 * agents now (`current`): at once when an agent came, went or changed alive (the caller limits
 * the rate); when an alive agent that was published behind `wanted` (the highest revision another
 * replica waits for) got further; otherwise only once the record is due for a refresh (heartbeat
 * times and revisions ride along, so that a quiet controller writes little).
 */
export function mustPublish(
  published: readonly PresenceEntry[],
  current: readonly PresenceEntry[],
  o: { wanted: number; refreshDue: boolean },
): boolean {
  if (published.length !== current.length) return true;
  const before = new Map(published.map((e) => [e.agentId, e]));
  let changed = false;
  for (const e of current) {
    const p = before.get(e.agentId);
    if (!p || p.startedAt !== e.startedAt || p.connected !== e.connected || p.alive !== e.alive || p.host !== e.host) return true;
    // Underlay reports drive failovers: the other replicas hear them at once.
    if (String(p.underlayDown ?? '') !== String(e.underlayDown ?? '') || !!p.underlaySilent !== !!e.underlaySilent) return true;
    if (p.inStepAt !== e.inStepAt && e.alive && (p.inStepAt ?? -1) < o.wanted) return true;
    if (p.inStepAt !== e.inStepAt || p.heartbeatAt !== e.heartbeatAt) changed = true;
  }
  return changed && o.refreshDue;
}
