import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { Authenticator } from './auth/context.ts';
import type { Config } from './config.ts';
import { NeutronError, httpNotFound } from './errors.ts';
import { apiPlugins } from './api/index.ts';
import { neutronBodyParsing } from './api/content-type.ts';
import { versionRoutes } from './api/versions.ts';
import { metricsRoutes } from './api/metrics.ts';
import { ControllerMetrics } from './metrics.ts';
import { REQUEST_ID_HEADER, requestIdOf, runAsRequest } from './request-context.ts';
import { sharedStateOf } from './store/open.ts';
import type { SharedState } from './store/shared-state.ts';
import type { Store } from './store/types.ts';
import { registerSync } from './sync/index.ts';

export interface AppDeps {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  /** State shared by the replicas outside the model (tickets, agent presence); by default the store's (open.ts). */
  shared?: SharedState;
}

/**
 * Paths served without a token: version discovery, the API docs, and the metrics (like Neutron's
 * /healthcheck: scrapers hold no token, and the figures name routes and hosts, no tenant's data);
 * the dashboard's static files (its page asks for a token) and its event stream, whose one-time
 * ticket is the credential (EventSource cannot send a header; api/topology/tickets.ts); an
 * agent's enrolment, whose one-time enrolment token is the credential (api/agent-identity); and a
 * dead-man watcher's confirmation, whose host's agent credential is checked there (legs-down.ts).
 */
const PUBLIC = [
  /^\/$/, /^\/docs(\/|$)/, /^\/metrics$/, /^\/dashboard(\/|$)/, /^\/v2\.0\/weft\/topology\/events$/, /^\/v2\.0\/weft\/enrol$/,
  /^\/v2\.0\/weft\/ha-legs-down$/,
];

/** `/v2.0/networks.json?x=1` -> `/v2.0/networks?x=1`. */
export function stripJsonSuffix(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.endsWith('.json') ? `${path.slice(0, -5)}${q < 0 ? '' : url.slice(q)}` : url;
}

/** The controller's HTTP API. Never listens: main.ts does, tests use inject(). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.config.logLevel === 'silent' ? false : { level: deps.config.logLevel },
    bodyLimit: 8 * 1024 * 1024,
    // request.protocol and request.host from X-Forwarded-Proto/-Host (links in answers), when configured.
    trustProxy: deps.config.proxyHeaders,
    // The caller's X-Openstack-Request-Id or X-Request-Id if acceptable, else req-<uuid>.
    requestIdHeader: false,
    // Neutron still takes the old format suffix, /v2.0/quotas/{id}/details.json (Tempest's client sends it).
    rewriteUrl: (req) => stripJsonSuffix(req.url ?? '/'),
    genReqId: requestIdOf,
    // Errors raised before routing (malformed %-escapes, over-long ids) answer as NeutronErrors too.
    frameworkErrors: (error, _req, reply) => {
      const err = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? httpNotFound() : new NeutronError(400, 'HTTPBadRequest', error.message);
      void reply.code(err.status as never).send(err.toBody() as never); // the reply type here is generic over route schemas
    },
  });
  // Bodies are parsed by each handler with zod so errors read like Neutron's; route schemas feed the docs.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  neutronBodyParsing(app);

  await app.register(swagger, {
    openapi: { info: { title: 'Weft Networking API (Neutron v2.0-compatible)', version: '2.0' } },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.decorateRequest('ctx', null as never);
  app.addHook('onRequest', async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    const path = req.url.split('?')[0];
    if (PUBLIC.some((re) => re.test(path))) return;
    req.ctx = await deps.authenticator.authenticate(req.headers);
  });
  // A read on one replica sees every write acknowledged by any replica before it began.
  const readBarrier = deps.store.readBarrier?.bind(deps.store);
  if (readBarrier) {
    app.addHook('preHandler', async (req) => {
      if (req.method === 'GET' || req.method === 'HEAD') await readBarrier();
    });
  }
  // The handler runs as its request, so that the commits it makes carry its id to the agents.
  app.addHook('preHandler', (req, _reply, done) => runAsRequest(req.id, done));
  const metrics = new ControllerMetrics();
  metricsRoutes(app, metrics);

  app.setErrorHandler((error: FastifyError | NeutronError, req, reply) => {
    if (error instanceof NeutronError) return reply.code(error.status).send(error.toBody());
    const status = (error as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      const type = status === 415 ? 'HTTPUnsupportedMediaType' : status === 413 ? 'HTTPRequestEntityTooLarge' : 'HTTPBadRequest';
      return reply.code(status).send(new NeutronError(status, type, error.message).toBody());
    }
    req.log.error({ err: error }, 'internal error');
    return reply.code(500).send(new NeutronError(500, 'HTTPInternalServerError', 'Request Failed: internal server error while processing your request.').toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    const err = httpNotFound(`The resource could not be found.`);
    reply.code(404).send(err.toBody());
  });

  // Agents: the channel on this app's server (once it listens), the wait-for-dataplane hooks, presence.
  const shared = deps.shared ?? sharedStateOf(deps.store);
  const sync = await registerSync(app, { ...deps, metrics, shared });

  versionRoutes(app);
  for (const plugin of apiPlugins) plugin(app, { store: deps.store, config: deps.config, shared, sync });
  return app;
}
