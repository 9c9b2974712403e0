import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE } from '../../schemas/prometheus.ts';
import { UNMATCHED_ROUTE, type ControllerMetrics } from '../metrics.ts';

// GET /metrics in the Prometheus text format, and the hook that times every API answer. Served
// without a token (app.ts, PUBLIC), like Neutron's /healthcheck.

export const METRICS_PATH = '/metrics';

/** Register before the routes: the hook then times every one of them. */
export function metricsRoutes(app: FastifyInstance, metrics: ControllerMetrics): void {
  // After the answer is sent, errors and 404s included; labelled by the route's pattern
  // (/v2.0/ports/:id), so a label set per route, whatever the URLs.
  app.addHook('onResponse', (req, reply, done) => {
    // An event stream's "response time" is how long the client stayed: not API latency.
    if (String(reply.raw.getHeader('content-type') ?? '').startsWith('text/event-stream')) return done();
    metrics.request(req.method, req.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.get(METRICS_PATH, { schema: { hide: true } }, (_req, reply) => {
    void reply.type(PROMETHEUS_CONTENT_TYPE).send(metrics.registry.render());
  });
}
