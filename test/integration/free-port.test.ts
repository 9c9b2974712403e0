import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../lab/free-port.ts';

// The lab's ports for etcd members, Keystone and controllers: bound by those processes a little
// later, so they must not be ones the kernel may give an outgoing connection meanwhile.

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('freePort', () => {
  it('hands out ports below the ephemeral range, never one twice, each free to listen on', async () => {
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024);
      expect(port).toBeLessThan(ephemeralStart);
    }
    const server = createServer();
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(ports[0], '127.0.0.1', ok));
    await new Promise((ok) => server.close(ok));
  });
});
