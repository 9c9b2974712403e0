// A clean stop's handover (agent/l3/handover.ts): the HA routers go silent BEFORE the controller is
// told (so the standby it promotes never finds the old legs up), the wait ends as soon as the view
// no longer has them active here, and is bounded; a controller that cannot be told leaves today's path.
import { describe, expect, it } from 'vitest';
import { handOver } from '../../../agent/l3/handover.ts';

function fakeHost(active: string[], { told = true, movesAfterMs }: { told?: boolean; movesAfterMs?: number } = {}) {
  const steps: string[] = [];
  let current = [...active];
  return {
    steps,
    options: {
      activeHaRouters: () => current,
      silence: async () => {
        steps.push('silenced');
      },
      sendLeaving: () => {
        steps.push(told ? 'leaving sent' : 'leaving not sent');
        if (told && movesAfterMs !== undefined) setTimeout(() => (current = []), movesAfterMs);
        return told;
      },
    },
  };
}

describe('handOver', () => {
  it('silences first, then says leaving, and returns once the view moved the routers', async () => {
    const h = fakeHost(['r1', 'r2'], { movesAfterMs: 30 });
    expect(await handOver({ ...h.options, waitMs: 5000 })).toBe('handed-over');
    expect(h.steps).toEqual(['silenced', 'leaving sent']);
  });

  it('does nothing without active HA routers', async () => {
    const h = fakeHost([]);
    expect(await handOver(h.options)).toBe('nothing-active');
    expect(h.steps).toEqual([]);
  });

  it('a controller that cannot be told: silenced all the same, no wait', async () => {
    const h = fakeHost(['r1'], { told: false });
    expect(await handOver({ ...h.options, waitMs: 60_000 })).toBe('not-told');
    expect(h.steps).toEqual(['silenced', 'leaving not sent']);
  });

  it('gives up after the bound when nothing moves them (no live standby)', async () => {
    const h = fakeHost(['r1']);
    expect(await handOver({ ...h.options, waitMs: 50 })).toBe('timed-out');
  });
});
