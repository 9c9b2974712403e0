import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RequestContext } from '../auth/context.ts';
import type { Config } from '../config.ts';
import type { SharedState } from '../store/shared-state.ts';
import type { Store } from '../store/types.ts';
import type { SyncHub } from '../sync/hub.ts';

// What every route handler can reach.

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
}

export interface ApiDeps {
  readonly store: Store;
  readonly config: Config;
  /** State the controller replicas share outside the model (the dashboard's tickets). */
  readonly shared: SharedState;
  /** Controller<->agent sync (agents' runtime state); absent in an app built without it. */
  readonly sync?: SyncHub;
}

export type ApiPlugin = (app: FastifyInstance, deps: ApiDeps) => void;

export function ctxOf(req: FastifyRequest): RequestContext {
  return req.ctx;
}
