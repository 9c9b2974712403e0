import { LATENCY_BUCKETS, MetricsRegistry, type Histogram } from '../schemas/prometheus.ts';
import type { AgentState } from './sync/hub.ts';

// The controller's metrics (served at GET /metrics by api/metrics.ts): API latency and request
// counts, kept as requests finish; the model's revision and the agents' state, read from the store
// and the sync hub when scraped; and API-to-dataplane convergence, observed by the hub.

/** Where the scrape-time figures come from (the store and the sync hub). */
export interface SyncSource {
  readonly revision: number;
  agentStates(): AgentState[];
}

/** The route label of a request that matched no route: raw URLs would make a series per scan. */
export const UNMATCHED_ROUTE = 'unmatched';

export class ControllerMetrics {
  readonly registry = new MetricsRegistry();
  private readonly requestSeconds = this.registry.histogram({
    name: 'weft_api_request_duration_seconds',
    help: 'API request latency (including any wait for the dataplane), by route pattern and method.',
    labelNames: ['method', 'route'],
    buckets: LATENCY_BUCKETS,
  });
  private readonly requests = this.registry.counter({
    name: 'weft_api_requests_total',
    help: 'API requests answered, by route pattern, method and status class (2xx, 4xx, ...).',
    labelNames: ['method', 'route', 'status_class'],
  });
  /** Observed by the sync hub. */
  readonly convergence: Histogram = this.registry.histogram({
    name: 'weft_sync_convergence_seconds',
    help: 'Time from a commit to every agent it was sent to (those whose view it changed) reporting it applied.',
    buckets: LATENCY_BUCKETS,
  });
  private source: SyncSource | undefined;

  constructor() {
    const agents = () => this.source?.agentStates() ?? [];
    this.registry.gauge({
      name: 'weft_model_revision',
      help: 'The revision of the model (bumped by every commit).',
      collect: () => (this.source ? [[this.source.revision]] : []),
    });
    this.registry.gauge({
      name: 'weft_sync_agents',
      help: 'Registered agents, by state (alive: connected and heartbeating).',
      labelNames: ['state'],
      collect: () => {
        const all = agents();
        const alive = all.filter((a) => a.alive).length;
        return [[alive, { state: 'alive' }], [all.length - alive, { state: 'down' }]];
      },
    });
    this.registry.gauge({
      name: 'weft_sync_agent_applied_revision',
      help: 'The revision each agent is in step at: everything sent to it up to there applied (agents that have reported).',
      labelNames: ['host'],
      collect: () => agents().flatMap((a) => (a.applied === null ? [] : [[a.applied, { host: a.host }] as const])),
    });
    this.registry.gauge({
      name: 'weft_sync_agent_lag_revisions',
      help: "The model's revision minus the revision each agent is in step at.",
      labelNames: ['host'],
      collect: () => {
        const revision = this.source?.revision ?? 0;
        return agents().flatMap((a) => (a.applied === null ? [] : [[revision - a.applied, { host: a.host }] as const]));
      },
    });
  }

  /** Scrape-time figures come from here from now on. */
  watch(source: SyncSource): void {
    this.source = source;
  }

  /** One answered request; `route` is the route's pattern (e.g. /v2.0/ports/:id), never the raw URL. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requestSeconds.observe(seconds, { method, route });
    this.requests.inc(1, { method, route, status_class: `${Math.floor(status / 100)}xx` });
  }
}
