// The agent's metrics, served by server.ts at WEFT_METRICS_LISTEN: what the dataplane loop, the
// flow reconciler, the L3 manager, the DHCP responder and the controller channel do. Durations and
// counts are taken from the events those parts already emit; current state (flows installed,
// routers by status, the channel) is read when scraped. Nothing here does I/O.
import { MetricsRegistry } from '../../schemas/prometheus.ts';
import type { Dataplane } from '../dataplane.ts';
import type { L3Manager, L3Status } from '../l3/manager.ts';
import type { PacketInService } from '../punt/packet-in.ts';
import type { FlowReconciler } from '../reconcile/index.ts';
import type { ControllerChannel } from '../sync/channel-client.ts';

/** Sub-millisecond compiles up to resyncs of large hosts, in seconds. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** State read at scrape time. */
export interface AgentReadings {
  flowsInstalled(): number;
  controllerConnected(): boolean;
  l3Statuses(): L3Status;
  dhcpReplies(): number;
}

const count = (states: Record<string, string>, wanted: string) => Object.values(states).filter((s) => s === wanted).length;

export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  private readings: AgentReadings | undefined;
  private readonly appliedRevision = this.registry.gauge({
    name: 'weft_agent_applied_revision',
    help: 'The model revision the dataplane last applied (and reported to the controller).',
  });
  private readonly batchCompile = this.registry.histogram({
    name: 'weft_agent_batch_compile_duration_seconds',
    help: 'Time to compile the flow changes of one dataplane batch.',
    buckets: DURATION_BUCKETS,
  });
  private readonly batchTotal = this.registry.histogram({
    name: 'weft_agent_batch_duration_seconds',
    help: 'Time from taking a dataplane batch to its flows being installed.',
    buckets: DURATION_BUCKETS,
  });
  private readonly reconcile = this.registry.histogram({
    name: 'weft_agent_reconcile_duration_seconds',
    help: "Flow reconciler steps: 'apply' sends one change set as bundles, 'resync' replays every flow and deletes leftovers.",
    labelNames: ['step'],
    buckets: DURATION_BUCKETS,
  });
  private readonly resyncs = this.registry.counter({
    name: 'weft_agent_resyncs_total',
    help: 'Full resyncs of the switch flows (start, reconnect, vswitchd restart, refused change set).',
  });
  private readonly routerApply = this.registry.histogram({
    name: 'weft_agent_router_apply_duration_seconds',
    help: 'Time to bring one changed router namespace in line (namespace, iptables, floating IP table), by outcome.',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
  });

  constructor() {
    const l3 = () => this.readings?.l3Statuses() ?? { routers: {}, floatingips: {} };
    this.registry.gauge({
      name: 'weft_agent_controller_connected',
      help: '1 while the channel to the controller is up and welcomed, else 0.',
      collect: () => [[this.readings?.controllerConnected() ? 1 : 0]],
    });
    this.registry.gauge({
      name: 'weft_agent_flows_installed',
      help: 'Flows the reconciler knows are in br-int.',
      collect: () => [[this.readings?.flowsInstalled() ?? 0]],
    });
    this.registry.gauge({
      name: 'weft_agent_routers',
      help: 'Routers placed on this host, by status.',
      labelNames: ['status'],
      collect: () => {
        const { routers } = l3();
        return (['active', 'error'] as const).map((s) => [count(routers, s), { status: s }] as const);
      },
    });
    this.registry.gauge({
      name: 'weft_agent_floatingips',
      help: "Floating IPs of this host's routers, by status.",
      labelNames: ['status'],
      collect: () => {
        const { floatingips } = l3();
        return (['active', 'down'] as const).map((s) => [count(floatingips, s), { status: s }] as const);
      },
    });
    this.registry.counter({
      name: 'weft_agent_dhcp_replies_total',
      help: 'DHCP answers sent to local ports.',
      collect: () => [[this.readings?.dhcpReplies() ?? 0]],
    });
  }

  /** Scrape-time state comes from here from now on. */
  read(readings: AgentReadings): void {
    this.readings = readings;
  }

  batch(compileMs: number, totalMs: number): void {
    this.batchCompile.observe(compileMs / 1000);
    this.batchTotal.observe(totalMs / 1000);
  }

  applied(revision: number): void {
    this.appliedRevision.set(revision);
  }

  reconciled(step: 'apply' | 'resync', ms: number): void {
    this.reconcile.observe(ms / 1000, { step });
    if (step === 'resync') this.resyncs.inc();
  }

  routerApplied(ok: boolean, ms: number): void {
    this.routerApply.observe(ms / 1000, { outcome: ok ? 'applied' : 'failed' });
  }
}

export interface AgentParts {
  dataplane: Dataplane;
  reconciler: FlowReconciler;
  l3: L3Manager;
  punt: PacketInService;
  channel: ControllerChannel;
}

/** Metrics fed by the agent's parts: listens to their events and reads them when scraped. */
export function instrumentAgent(parts: AgentParts): AgentMetrics {
  const m = new AgentMetrics();
  parts.dataplane.on('batch', (t) => m.batch(t.compileMs, t.totalMs));
  parts.dataplane.on('applied', (r) => m.applied(r.revision));
  parts.reconciler.on('applied', (i) => m.reconciled('apply', i.durationMs));
  parts.reconciler.on('synced', (i) => m.reconciled('resync', i.durationMs));
  parts.l3.on('routerApplied', (i) => m.routerApplied(i.ok, i.ms));
  m.read({
    flowsInstalled: () => parts.reconciler.installed.size,
    controllerConnected: () => parts.channel.connected,
    l3Statuses: () => parts.l3.statuses(),
    dhcpReplies: () => parts.punt.answered,
  });
  return m;
}
