// HA routers stay silent while either cause holds (agent/l3/fence-causes.ts).
import { describe, expect, it } from 'vitest';
import { FenceCauses } from '../../../agent/l3/fence-causes.ts';

describe('fence causes', () => {
  it('fences on the first cause, unfences when the last is over, and applies only changes', async () => {
    const applied: boolean[] = [];
    const c = new FenceCauses(async (on) => { applied.push(on); });
    await c.set('underlay', true);
    await c.set('controller', true);
    await c.set('underlay', false);
    expect(c.fenced).toBe(true);
    await c.set('controller', false);
    await c.set('controller', false);
    expect(c.fenced).toBe(false);
    expect(applied).toEqual([true, false]);
  });
});
