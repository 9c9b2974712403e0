// Gratuitous ARPs for many addresses from one process (agent/l3/garp.py, through the default L3
// ops' announceMany): what goes on the wire from two router namespaces, as a neighbour sees it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultL3Ops } from '../../agent/l3/ops.ts';
import { createNetns, deleteNetns } from '../../agent/host/netns.ts';
import { run } from '../../agent/host/exec.ts';
import { spawnIn } from '../../lab/lab-process.ts';

const TAG = randomBytes(3).toString('hex');
const [R1, R2, WIRE] = [`ga${TAG}`, `gb${TAG}`, `gw${TAG}`];

beforeAll(async () => {
  for (const ns of [R1, R2, WIRE]) await createNetns(ns);
  await run('ip', ['netns', 'exec', WIRE, 'ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await run('ip', ['-n', WIRE, 'link', 'set', 'br0', 'up']);
  for (const [ns, mac, port] of [[R1, '02:00:00:aa:00:01', 'p1'], [R2, '02:00:00:aa:00:02', 'p2']] as const) {
    await run('ip', ['-n', ns, 'link', 'add', 'qg-x', 'type', 'veth', 'peer', 'name', port, 'netns', WIRE]);
    await run('ip', ['-n', ns, 'link', 'set', 'qg-x', 'address', mac, 'up']);
    await run('ip', ['-n', WIRE, 'link', 'set', port, 'master', 'br0', 'up']);
  }
});
afterAll(async () => {
  for (const ns of [R1, R2, WIRE]) await deleteNetns(ns).catch(() => undefined);
});

describe('garp.py', () => {
  it('sends each address COUNT gratuitous ARP requests from its leg\'s MAC; a missing leg is reported, the others still go out', async () => {
    const capture = spawnIn(WIRE, ['tcpdump', '-l', '-n', '-e', '-i', 'br0', 'arp']);
    await new Promise((r) => setTimeout(r, 1000));
    const ops = defaultL3Ops(undefined);
    const items = [
      { netns: R1, iface: 'qg-x', ip: '192.0.2.10' }, { netns: R1, iface: 'qg-x', ip: '192.0.2.50' },
      { netns: R2, iface: 'qg-x', ip: '192.0.2.11' }, { netns: R2, iface: 'nope', ip: '192.0.2.99' },
    ];
    const err = await ops.announceMany!(items, 2).catch((e: unknown) => e);
    expect(String(err)).toMatch(/nope 192\.0\.2\.99: No such device/);
    await new Promise((r) => setTimeout(r, 500));
    await capture.stop('SIGTERM');
    const lines = capture.output().split('\n').filter((l) => l.includes('Request who-has'));
    const seen = (mac: string, ip: string) => lines.filter((l) => l.includes(`${mac} > ff:ff:ff:ff:ff:ff`) && l.includes(`who-has ${ip} tell ${ip}`)).length;
    expect(seen('02:00:00:aa:00:01', '192.0.2.10')).toBe(2);
    expect(seen('02:00:00:aa:00:01', '192.0.2.50')).toBe(2);
    expect(seen('02:00:00:aa:00:02', '192.0.2.11')).toBe(2);
    expect(lines.some((l) => l.includes('192.0.2.99'))).toBe(false);
  }, 30_000);
});
