import { join } from 'node:path';
import type { Config } from '../config.ts';
import { MODEL_INDEXES } from '../domain/indexes.ts';
import { currentRequestId, runAsRequests } from '../request-context.ts';
import { EtcdSharedState } from './etcd/etcd-shared-state.ts';
import { EtcdStore, openEtcdStore } from './etcd/etcd-store.ts';
import { MemorySharedState, type SharedState } from './shared-state.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

/** The SQLite store of a data folder (':memory:' for tests). */
export function openStore(dataDir: string | ':memory:'): Store {
  const path = dataDir === ':memory:' ? ':memory:' : join(dataDir, 'weft.db');
  return new SqliteStore({ path, indexes: MODEL_INDEXES });
}

/** The store the configuration names. */
export async function openConfiguredStore(config: Config, log?: { warn(obj: object, msg: string): void }): Promise<Store> {
  if (config.store === 'sqlite') return openStore(config.dataDir);
  return openEtcdStore({
    endpoints: config.etcd.endpoints,
    prefix: config.etcd.prefix,
    maxTxnOps: config.etcd.maxTxnOps,
    keepHistoryMs: config.etcd.historyMinutes * 60_000,
    indexes: MODEL_INDEXES,
    origin: currentRequestId,
    notifyAs: runAsRequests,
    log,
  });
}

/**
 * The state shared by the replicas of a store: in etcd beside the model (on the store's client,
 * so it lives and closes with the store); for any other store, which one controller owns, memory.
 */
export function sharedStateOf(store: Store): SharedState {
  if (store instanceof EtcdStore) return new EtcdSharedState(store.client, store.keys.shared);
  return new MemorySharedState();
}
