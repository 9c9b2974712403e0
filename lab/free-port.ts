import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Ports for processes the lab starts (etcd, Keystone, controllers), which bind them a little later.
// A port the kernel picks for bind(0) comes from the ephemeral range, the same range it gives
// outgoing connections their source ports: one of those could take it in between, and the
// process's bind then fails (it did, for an etcd member). So the ports come from below that range,
// where the kernel never picks, and this process never hands out one port twice.

const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (32768 by default), read once. */
let ephemeralFirst: number | undefined;
function ephemeralStart(): number {
  if (ephemeralFirst === undefined) {
    let first = Number.NaN;
    try {
      first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    } catch {
      // not Linux, or no /proc: the kernel's default
    }
    ephemeralFirst = Number.isInteger(first) && first > 2048 ? first : 32768;
  }
  return ephemeralFirst;
}

function listens(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => answer(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => answer(true)));
  });
}

/** A TCP port on 127.0.0.1 that nobody listens on right now, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  const top = ephemeralStart();
  const bottom = Math.max(1024, top - 12_000);
  for (let tries = 0; tries < 200; tries++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (handedOut.has(port) || !(await listens(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${bottom} and ${top}`);
}
