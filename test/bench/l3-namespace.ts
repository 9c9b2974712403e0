// The namespace's part of a floating IP created (or deleted) on a built router: its /32 on the
// gateway leg. A whole ensureRouterNamespace (as the agent did it) against the gateway's addresses
// alone (setGatewayAddresses, as it does it now), on a private Open vSwitch in a namespace of this run.
import { randomUUID } from 'node:crypto';
import {
  deleteRouterNamespace,
  ensureRouterNamespace,
  routerInterfaceName,
  setGatewayAddresses,
  type RouterNamespaceOptions,
  type RouterSpec,
} from '../../agent/l3/namespace.ts';
import { OvsdbConnection } from '../../agent/ovsdb/connection.ts';
import { withPrivateSwitch } from './private-switch.ts';
import { percentile } from './stats.ts';

const ROUNDS = 40;

/** A router with two inner legs and a gateway carrying `floating` floating IPs (one more at odd `k`). */
function specWith(routerId: string, floating: number, k: number): RouterSpec {
  const leg = (name: string, i: number) => ({ portId: name, name: routerInterfaceName('qr', name), mac: `fa:16:3e:00:88:0${i}`, addresses: [`10.88.${i}.1/24`], mtu: 1450 });
  const count = floating + (k % 2);
  const host32s = Array.from({ length: count }, (_, i) => `172.31.${90 + (i >> 8)}.${i & 255}/32`);
  return {
    routerId,
    interfaces: [leg('bench-leg-a', 1), leg('bench-leg-b', 2)],
    gateway: { portId: 'bench-gw', name: routerInterfaceName('qg', 'bench-gw'), mac: 'fa:16:3e:00:88:09', addresses: ['172.31.88.2/24', ...host32s], defaultGateway: '172.31.88.1' },
    routes: [{ destination: '10.99.0.0/24', nexthop: '10.88.1.5' }],
  };
}

async function namespaceRun(conn: OvsdbConnection, opts: RouterNamespaceOptions, floating: number): Promise<void> {
  const routerId = randomUUID();
  try {
    await ensureRouterNamespace(conn, specWith(routerId, floating, 0), opts);
    const [ensures, alone]: number[][] = [[], []];
    for (let k = 1; k <= ROUNDS; k++) {
      let t = performance.now();
      await ensureRouterNamespace(conn, specWith(routerId, floating, k), opts);
      ensures.push(performance.now() - t);
      t = performance.now();
      await setGatewayAddresses(specWith(routerId, floating, k + 1), opts);
      alone.push(performance.now() - t);
    }
    console.log(`l3 namespace: a floating IP created or deleted on a built router with ${floating} others: the whole namespace ensured median ${percentile(ensures, 50).toFixed(1)} ms, p99 ${percentile(ensures, 99).toFixed(1)} ms; the gateway's addresses alone median ${percentile(alone, 50).toFixed(1)} ms, p99 ${percentile(alone, 99).toFixed(1)} ms`);
  } finally {
    await deleteRouterNamespace(conn, routerId, opts).catch(() => undefined);
  }
}

export async function l3NamespaceBench(): Promise<void> {
  await withPrivateSwitch('standalone', async ({ ovs, netns }) => {
    const conn = await OvsdbConnection.connect(ovs.dbTarget);
    try {
      const opts: RouterNamespaceOptions = { namespacePrefix: `${netns}-qrouter-`, hostNetns: netns };
      for (const floating of [1, 1000]) await namespaceRun(conn, opts, floating);
    } finally {
      await conn.close().catch(() => undefined);
    }
  });
}
