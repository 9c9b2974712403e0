import { describe, expect, it } from 'vitest';
import { AgentDirectory } from '../../../controller/sync/liveness.ts';
import {
  decodePresence, encodePresence, inStepFloor, mustPublish, RemotePresence, remoteAlive, supersedes, type PresenceEntry,
} from '../../../controller/sync/presence.ts';
import type { AgentRuntime, Session } from '../../../controller/sync/session.ts';
import type { ReadView } from '../../../controller/store/types.ts';

// The pure parts of agent presence shared by replicas: the record, which session of an agent
// counts, what the other replicas' records add up to, when a replica writes its record, and the
// merge of the sessions here with the others' (liveness.ts).

const entry = (over: Partial<PresenceEntry> = {}): PresenceEntry => ({
  agentId: 'agent-1', host: 'host-1', startedAt: 1000, heartbeatAt: 1500, connected: true, alive: true, inStepAt: 7, ...over,
});
const record = (replica: string, agents: PresenceEntry[], revision = 10) => ({ replica, revision, agents });

describe('presence records', () => {
  it('round-trip, and anything else reads as no record', () => {
    const r = record('r1', [entry(), entry({ agentId: 'agent-2', inStepAt: null, connected: false, alive: false })]);
    expect(decodePresence(encodePresence(r))).toEqual(r);
    for (const bad of ['', 'not json', '{}', JSON.stringify({ replica: 'r', revision: 1, agents: [{ agentId: 'x' }] })]) {
      expect(decodePresence(bad)).toBeUndefined();
    }
  });

  it('let the later session of an agent supersede the earlier; at the same instant the open one', () => {
    expect(supersedes({ startedAt: 2, connected: false }, { startedAt: 1, connected: true })).toBe(true);
    expect(supersedes({ startedAt: 1, connected: true }, { startedAt: 2, connected: false })).toBe(false);
    expect(supersedes({ startedAt: 1, connected: true }, { startedAt: 1, connected: false })).toBe(true);
    expect(supersedes({ startedAt: 1, connected: true }, { startedAt: 1, connected: true })).toBe(false);
  });

  it('give the lowest revision the alive agents are in step at', () => {
    expect(inStepFloor([])).toBe(Infinity);
    expect(inStepFloor([entry({ inStepAt: 9 }), entry({ inStepAt: 4 }), entry({ inStepAt: 1, alive: false })])).toBe(4);
    expect(inStepFloor([entry({ inStepAt: null })])).toBe(-1);
  });
});

describe('RemotePresence', () => {
  it('keeps the newest session of each agent over every replica, found by host too', () => {
    const remote = new RemotePresence();
    remote.apply('r1', record('r1', [entry({ startedAt: 1000 })]));
    remote.apply('r2', record('r2', [entry({ startedAt: 2000, inStepAt: 9 })], 12));
    expect(remote.get('agent-1')).toMatchObject({ replica: 'r2', inStepAt: 9, revision: 12, listed: true });
    expect(remote.forHost('host-1')?.replica).toBe('r2');
    // The old replica hears of nothing and still lists it: the newer session counts all the same.
    remote.apply('r1', record('r1', [entry({ startedAt: 1000, heartbeatAt: 9999 })]));
    expect(remote.get('agent-1')?.replica).toBe('r2');
    expect([...remote.entries()]).toHaveLength(1);
  });

  it('keeps an entry its replica dropped, or whose record went, as last known and not alive', () => {
    const remote = new RemotePresence();
    remote.apply('r1', record('r1', [entry(), entry({ agentId: 'agent-2', host: 'host-2' })]));
    expect(remoteAlive(remote.get('agent-1')!)).toBe(true);
    remote.apply('r1', record('r1', [entry({ agentId: 'agent-2', host: 'host-2' })]));
    expect(remote.get('agent-1')).toMatchObject({ listed: false, heartbeatAt: 1500, inStepAt: 7 });
    expect(remoteAlive(remote.get('agent-1')!)).toBe(false);
    remote.apply('r1', undefined);
    expect(remote.get('agent-2')).toMatchObject({ listed: false, replica: 'r1' });
    // Listed again (the same session): listed wins over its unlisted copy.
    remote.apply('r1', record('r1', [entry()]));
    expect(remote.get('agent-1')?.listed).toBe(true);
  });

  it('forgets a deleted agent', () => {
    const remote = new RemotePresence();
    remote.apply('r1', record('r1', [entry()]));
    remote.forget('agent-1');
    expect(remote.get('agent-1')).toBeUndefined();
    expect(remote.forHost('host-1')).toBeUndefined();
    expect([...remote.entries()]).toEqual([]);
  });
});

describe('mustPublish', () => {
  const quiet = { wanted: -1, refreshDue: false };

  it('publishes at once when an agent comes, goes or changes alive', () => {
    expect(mustPublish([], [entry()], quiet)).toBe(true);
    expect(mustPublish([entry()], [], quiet)).toBe(true);
    expect(mustPublish([entry()], [entry({ alive: false })], quiet)).toBe(true);
    expect(mustPublish([entry()], [entry({ connected: false, alive: false })], quiet)).toBe(true);
    expect(mustPublish([entry()], [entry({ startedAt: 2000 })], quiet)).toBe(true);
    expect(mustPublish([entry()], [entry({ agentId: 'agent-2' })], quiet)).toBe(true);
  });

  it('lets heartbeats and progress wait for the refresh, unless another replica waits for an agent behind', () => {
    expect(mustPublish([entry()], [entry()], { wanted: 100, refreshDue: true })).toBe(false);
    expect(mustPublish([entry()], [entry({ heartbeatAt: 3000 })], quiet)).toBe(false);
    expect(mustPublish([entry()], [entry({ heartbeatAt: 3000 })], { wanted: -1, refreshDue: true })).toBe(true);
    expect(mustPublish([entry()], [entry({ inStepAt: 8 })], quiet)).toBe(false);
    expect(mustPublish([entry()], [entry({ inStepAt: 8 })], { wanted: 8, refreshDue: false })).toBe(true);
    // Published at or beyond what is wanted: nobody waits for its progress.
    expect(mustPublish([entry({ inStepAt: 8 })], [entry({ inStepAt: 9 })], { wanted: 8, refreshDue: false })).toBe(false);
    // An agent that is stuck behind does not make the others' progress urgent once they are past the want.
    const stuck = entry({ agentId: 'stuck', inStepAt: 2 });
    expect(mustPublish([stuck, entry({ inStepAt: 5 })], [stuck, entry({ inStepAt: 6 })], { wanted: 8, refreshDue: false })).toBe(true);
    expect(mustPublish([stuck, entry({ inStepAt: 8 })], [stuck, entry({ inStepAt: 9 })], { wanted: 8, refreshDue: false })).toBe(false);
  });
});

describe('AgentDirectory', () => {
  const DOWN = 1000;
  let now = 10_000;
  const session = {} as Session;
  const runtime = (over: Partial<AgentRuntime> = {}): AgentRuntime => ({
    agentId: 'agent-1', host: 'host-1', session, startedAt: 5000, heartbeatAt: 9_800, applied: 3, ports: new Map(), ...over,
  });
  const directory = (remote?: RemotePresence) => new AgentDirectory({ downMs: DOWN, now: () => now, remote, inStep: (r) => r.applied });
  const view = (revision: number, ports: Record<string, string>) =>
    ({ revision, get: (_kind: string, id: string) => (ports[id] ? { id, status: ports[id] } : undefined) }) as unknown as ReadView;

  it('with one controller, shows its sessions as the hub always did', () => {
    const d = directory();
    const r = runtime();
    d.add(r);
    expect(d.liveness('agent-1')).toEqual({ connected: true, alive: true, startedAt: 5000, heartbeatAt: 9_800, applied: 3 });
    now = 11_000;
    expect(d.liveness('agent-1')?.alive).toBe(false);
    now = 10_000;
    expect(d.counts(r)).toBe(true);
    expect(d.remoteLagging(100)).toBe(false);
    expect(d.portPending(view(5, {}), 'host-1', 'p1')).toBe(true);
    r.ports.set('p1', 'up');
    expect(d.portPending(view(5, {}), 'host-1', 'p1')).toBe(false);
    expect(d.portPending(view(5, {}), 'host-9', 'p9')).toBe(false);
    expect(d.liveness('unknown')).toBeUndefined();
  });

  it("lets the newest session count, here or on another replica, and publishes only its own that count", () => {
    const remote = new RemotePresence();
    const d = directory(remote);
    const here = runtime({ startedAt: 5000, session: undefined });
    d.add(here);
    d.disconnected(here);
    // The agent moved to r2 after its session here: r2's state is what every replica shows.
    remote.apply('r2', record('r2', [entry({ startedAt: 6000, heartbeatAt: 9_900, inStepAt: 8 })]));
    d.remoteChanged();
    expect(d.remoteLagging(9)).toBe(true);
    expect(d.liveness('agent-1')).toEqual({ connected: true, alive: true, startedAt: 6000, heartbeatAt: 9_900, applied: 8 });
    expect(d.counts(here)).toBe(false);
    expect(d.published()).toEqual([]);
    // It comes back here, later: this session counts again, and is published.
    const back = runtime({ startedAt: 7000 });
    d.add(back);
    expect(d.liveness('agent-1')).toMatchObject({ startedAt: 7000, alive: true, applied: 3 });
    expect(d.published()).toEqual([{ agentId: 'agent-1', host: 'host-1', startedAt: 7000, heartbeatAt: 9_800, connected: true, alive: true, inStepAt: 3 }]);
    expect(d.remoteLagging(100)).toBe(false);
  });

  it('waits for remote agents by the revision they are in step at, and for their ports by the model once it caught up', () => {
    const remote = new RemotePresence();
    const d = directory(remote);
    remote.apply('r2', record('r2', [entry({ inStepAt: 8 }), entry({ agentId: 'agent-2', host: 'host-2', alive: false, inStepAt: 1 })], 20));
    expect(d.remoteLagging(8)).toBe(false);
    expect(d.remoteLagging(9)).toBe(true);
    // Its port: the model's status, once this replica's model is as far as the record.
    expect(d.portPending(view(20, { p1: 'DOWN' }), 'host-1', 'p1')).toBe(true);
    expect(d.portPending(view(19, { p1: 'ACTIVE' }), 'host-1', 'p1')).toBe(true);
    expect(d.portPending(view(20, { p1: 'ACTIVE' }), 'host-1', 'p1')).toBe(false);
    // Not alive: not waited for.
    expect(d.portPending(view(20, { p2: 'DOWN' }), 'host-2', 'p2')).toBe(false);
    // Gone from its replica: last known, not alive, not waited for.
    remote.apply('r2', undefined);
    d.remoteChanged();
    expect(d.remoteLagging(9)).toBe(false);
    expect(d.liveness('agent-1')).toMatchObject({ alive: false, connected: false, applied: 8, heartbeatAt: 1500 });
  });
});
