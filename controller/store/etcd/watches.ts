import type { Watcher } from 'etcd3';

// etcd cancels a watch by itself when the history it needs is compacted away. etcd3 then forgets
// the watcher, but etcd still knows its id: a cancel sent for it afterwards draws an answer that
// etcd3 cannot place, and it throws that from its stream handler (an uncaught error). So a watch
// is cancelled only while etcd3 still holds it. etcd3 has no public flag for that; its watch
// manager's list is the truth (and the cancel event can come in the same tick as the creation,
// before any listener of ours could note it).

function stillHeld(watcher: Watcher): boolean {
  const manager = (watcher as unknown as { manager?: { watchers?: Watcher[] } }).manager;
  return manager?.watchers?.includes(watcher) ?? true;
}

/** Cancels a watch unless etcd already did; the wait for etcd's answer is bounded. */
export async function cancelQuietly(watcher: Watcher | undefined): Promise<void> {
  if (!watcher || !stillHeld(watcher)) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([watcher.cancel().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 1000)))]);
  clearTimeout(timer);
}
