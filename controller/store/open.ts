import { join } from 'node:path';
import { MODEL_INDEXES } from '../domain/indexes.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

/** The store for a data folder (':memory:' for tests). */
export function openStore(dataDir: string | ':memory:'): Store {
  const path = dataDir === ':memory:' ? ':memory:' : join(dataDir, 'weft.db');
  return new SqliteStore({ path, indexes: MODEL_INDEXES });
}
