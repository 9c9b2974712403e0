import type { AppliedMessage } from '../../schemas/agent/channel.ts';
import { routerHost } from '../domain/l3-scheduler.ts';
import { revise } from '../domain/standard-attrs.ts';
import type { Doc, ReadView, Store } from '../store/types.ts';

// The statuses an agent's applied report sets: its host's ports, the routers placed on its host
// (a router port bound there) and those routers' floating IPs; only where they differ, all of one
// report in one transaction (nothing is written when nothing differs).

const PORT_STATUS = { up: 'ACTIVE', down: 'DOWN' } as const;
const ROUTER_STATUS = { active: 'ACTIVE', error: 'ERROR' } as const;
const FIP_STATUS = { active: 'ACTIVE', down: 'DOWN' } as const;

export async function writeReportedStatuses(store: Store, host: string, message: AppliedMessage): Promise<void> {
  const stale = (view: ReadView) => {
    const out: Array<{ kind: string; doc: Doc; status: string }> = [];
    for (const [id, state] of Object.entries(message.ports)) {
      const port = view.get('port', id);
      const status = PORT_STATUS[state];
      if (port && port['binding:host_id'] === host && port.status !== status) out.push({ kind: 'port', doc: port, status });
    }
    const placedHere = new Map<string, boolean>();
    const isHere = (routerId: string) => {
      let here = placedHere.get(routerId);
      if (here === undefined) placedHere.set(routerId, here = routerHost(view, routerId) === host);
      return here;
    };
    for (const [id, state] of Object.entries(message.routers ?? {})) {
      const router = view.get('router', id);
      const status = ROUTER_STATUS[state];
      if (router && router.status !== status && isHere(id)) out.push({ kind: 'router', doc: router, status });
    }
    for (const [id, state] of Object.entries(message.floatingips ?? {})) {
      const fip = view.get('floatingip', id);
      const status = FIP_STATUS[state];
      const routerId = fip?.router_id as string | null | undefined;
      if (fip && routerId && fip.status !== status && isHere(routerId)) out.push({ kind: 'floatingip', doc: fip, status });
    }
    return out;
  };
  if (!stale(store.view()).length) return;
  await store.transact((tx) => {
    for (const { kind, doc, status } of stale(tx)) tx.put(kind, revise(doc, { status } as Partial<Doc>));
  });
}
