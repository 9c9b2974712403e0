// L3StatusBook (agent/l3/statuses.ts): what the controller has not been told yet.
import { describe, expect, it } from 'vitest';
import { L3StatusBook } from '../../../agent/l3/statuses.ts';

describe('L3StatusBook', () => {
  it('reports changes once, a floating IP that left as down while it exists, and everything again after forgetReported', () => {
    const b = new L3StatusBook();
    const exists = new Set(['f1', 'f2']);
    const take = () => b.takeChanges((id) => exists.has(id));
    b.setRouter('r1', 'active');
    b.setFloatingIp('f1', 'active');
    b.setFloatingIp('f2', 'down');
    expect(take()).toEqual({ routers: { r1: 'active' }, floatingips: { f1: 'active', f2: 'down' } });
    expect(take()).toEqual({ routers: {}, floatingips: {} });
    b.setRouter('r1', 'active'); // unchanged: nothing to say
    b.setFloatingIp('f1', undefined); // no longer mapped here, still exists
    b.setFloatingIp('f2', undefined); // was down: stays down, nothing to say
    expect(take()).toEqual({ routers: {}, floatingips: { f1: 'down' } });
    b.setFloatingIp('f1', 'active');
    exists.delete('f2');
    b.setFloatingIp('f2', undefined);
    expect(take()).toEqual({ routers: {}, floatingips: { f1: 'active' } });
    b.setRouter('r1', undefined);
    expect(take()).toEqual({ routers: {}, floatingips: {} });
    b.setRouter('r2', 'error');
    take();
    b.forgetReported();
    expect(take()).toEqual({ routers: { r2: 'error' }, floatingips: { f1: 'active' } });
    expect(b.all()).toEqual({ routers: { r2: 'error' }, floatingips: { f1: 'active' } });
  });
});
