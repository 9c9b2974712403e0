// weft-agent's wiring: the local Open vSwitch (owned or given), br-int and its uplinks, the port
// binding watcher, the flow reconciler and the controller channel, all feeding one Dataplane.
import pino, { type Logger } from 'pino';
import type { AgentConfig } from './config.ts';
import { Dataplane } from './dataplane.ts';
import { ALL_FEATURES } from './features/index.ts';
import type { HostConfig } from './features/engine.ts';
import { INTEGRATION_BRIDGE, prepareBridges } from './host/bridges.ts';
import { ownOpenvswitch, superviseVswitchd } from './host/own-ovs.ts';
import type { LocalOvs } from './host/local-ovs.ts';
import { OpenFlowConnection } from './openflow/connection.ts';
import { OvsdbConnection } from './ovsdb/connection.ts';
import { watchInterfaces, type InterfaceWatcher, type PortBinding } from './ovsdb/interface-watch.ts';
import { FlowReconciler } from './reconcile/index.ts';
import { ControllerChannel } from './sync/channel-client.ts';
import { feedDataplane } from './sync/dataplane-feed.ts';
import { obtainCredential } from './sync/identity.ts';
import { respondDhcp } from './dhcp/responder.ts';
import { PacketInService } from './punt/packet-in.ts';
import { L3Manager, routersTouched, type L3Status } from './l3/manager.ts';
import { SelfFence } from './l3/self-fence.ts';
import { FenceCauses } from './l3/fence-causes.ts';
import { UnderlayHealth } from './underlay/underlay-health.ts';
import { RevisionGate } from './l3/legs.ts';
import { DeadManSwitch } from './l3/dead-man.ts';
import { handOver } from './l3/handover.ts';
import { instrumentAgent } from './metrics/agent-metrics.ts';
import { serveMetrics, type MetricsServer } from './metrics/server.ts';

/** The MAC the agent's DHCP answers come from (locally administered: 'weft'). */
export const DHCP_SERVER_MAC = '02:77:65:66:74:01';

export class WeftAgent {
  private ovs: LocalOvs | undefined;
  private ovsdb: OvsdbConnection | undefined;
  private watcher: InterfaceWatcher | undefined;
  private reconciler: FlowReconciler | undefined;
  private channel: ControllerChannel | undefined;
  private stopSupervisor: (() => void) | undefined;
  private punt: PacketInService | undefined;
  private l3: L3Manager | undefined;
  private fence: SelfFence | undefined;
  private fenceCauses: FenceCauses | undefined;
  private underlay: UnderlayHealth | undefined;
  private metricsServer: MetricsServer | undefined;
  private dhcpSettings = { domain: 'openstacklocal.', leaseSeconds: 86400 };
  dataplane: Dataplane | undefined;
  readonly log: Logger;

  constructor(readonly config: AgentConfig, log?: Logger) {
    this.log = log ?? pino({ level: config.logLevel, base: { host: config.host } });
  }

  async start(): Promise<void> {
    const c = this.config;
    // Who this agent is, before anything else: without a credential it has nothing to do.
    const credential = await obtainCredential({
      host: c.host, credential: c.credential, enrolmentToken: c.enrolmentToken, stateDir: c.stateDir,
      controllerUrls: c.controllerUrls, controllerSocket: c.controllerSocket, log: this.log,
    });
    let ovsdbTarget = c.ovsdb;
    if (!ovsdbTarget) {
      const own = await ownOpenvswitch({ runDir: c.runDir, datapath: c.datapath });
      this.ovs = own.ovs;
      ovsdbTarget = own.ovs.dbTarget;
      this.log.info({ runDir: c.runDir, adopted: own.adopted }, own.adopted ? 'adopted the running Open vSwitch' : 'started a private Open vSwitch');
    }
    this.ovsdb = await OvsdbConnection.connect(ovsdbTarget);
    const { tunnelOfport, uplinks } = await prepareBridges(this.ovsdb, {
      datapath: c.datapath, tunnelIp: c.tunnelIp, bridgeMappings: c.bridgeMappings,
    });
    const host: HostConfig = { host: c.host, tunnelIp: c.tunnelIp, bridgeMappings: c.bridgeMappings, tunnelOfport, uplinks };

    // A new generation per start: the replay after the first snapshot re-stamps every flow,
    // and whatever still carries an older generation is a leftover.
    const generation = (Math.floor(Date.now() / 1000) & 0xffff) || 1;
    const openflowPath = c.openflow.slice('unix:'.length);
    this.reconciler = new FlowReconciler({
      connect: () => OpenFlowConnection.connect({ path: openflowPath }),
      generation,
      logger: this.log,
    });
    const dataplane = new Dataplane(host, ALL_FEATURES, this.reconciler);
    this.dataplane = dataplane;
    // The reconciler replays by itself after a reconnect or a refused bundle; once it has, the
    // revision it holds is applied.
    this.reconciler.on('synced', () => dataplane.reportApplied());
    dataplane.on('error', (e) => this.log.error({ err: e }, 'dataplane update failed'));

    if (this.ovs) this.stopSupervisor = superviseVswitchd(this.ovs, () => {
      this.log.warn('ovs-vswitchd was not running and has been restarted; the reconciler replays the flows');
    });

    this.punt = new PacketInService({ path: openflowPath, handle: (inPort, frame) => this.answerDhcp(inPort, frame), log: this.log });
    this.punt.start();

    const plug = (b: PortBinding) => dataplane.plugged(b.ifaceId, b.ofport);
    this.watcher = await watchInterfaces(this.ovsdb, {
      added: plug,
      updated: plug,
      removed: (b) => {
        const other = this.watcher?.lookup(b.ifaceId);
        if (other) dataplane.plugged(other.ifaceId, other.ofport);
        else dataplane.unplugged(b.ifaceId);
      },
    });

    this.channel = new ControllerChannel({
      urls: c.controllerUrls,
      ...(c.controllerSocket ? { socketPath: c.controllerSocket } : {}),
      token: credential,
      hello: { host: c.host, tunnelIp: c.tunnelIp, bridgeMappings: c.bridgeMappings, datapath: c.datapath, ...(c.tunnelIp ? { lostHosts: true } : {}) },
      logger: this.log,
    });
    const channel = this.channel;
    channel.on('welcome', (m) => {
      // Logged: when an agent moved to another replica can be read off (tests measure it).
      this.log.info({ agentId: m.agentId, controller: channel.url }, 'welcomed by the controller');
      if (m.dhcp) this.dhcpSettings = m.dhcp;
    });
    // Logged: a reconnection that resumed from what the agent holds shows none.
    channel.on('snapshot', (m) => this.log.info({ revision: m.revision }, 'snapshot from the controller'));
    // Names the API requests behind what was applied: one request can be followed from the controller's log to each agent's.
    dataplane.on('applied', (r) => {
      // Also a slow batch without requests (a failover's rebinding of a whole gateway's router ports): where a promotion's time goes.
      if (r.requestIds || dataplane.lastBatchMs >= 100) {
        const t = dataplane.lastBatch;
        const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms));
        this.log.info({
          revision: r.revision, requestIds: r.requestIds, ms: Math.round(dataplane.lastBatchMs),
          modelMs: round(t.modelMs), compileMs: round(t.compileMs), switchMs: round(t.switchMs), flowChanges: t.flowChanges,
        }, 'changes applied');
      }
    });
    feedDataplane(channel, dataplane);

    // L3: router namespaces on this host, brought in line as soon as the model takes in a batch
    // (they need the model only, not the flows; a floating IP remap does not wait for a bundle) and
    // without holding up the dataplane loop. Their statuses go to the controller with the last
    // revision the dataplane reported as applied.
    // An HA router that becomes active here announces itself once br-int has its flows (l3/legs.ts).
    const flows = new RevisionGate();
    dataplane.on('applied', (r) => flows.reached(r.revision));
    const l3 = new L3Manager({
      host: c.host, ovsdb: this.ovsdb, namespace: { namespacePrefix: c.routerNamespacePrefix }, log: this.log.child({ part: 'l3' }),
      flowsApplied: (revision) => flows.wait(revision),
      // If this agent dies (kill -9, a crash) while its switch runs on, its active HA routers go silent at once.
      // It then confirms that to the controller, with this host's credential, so that the standby takes over at once.
      deadMan: new DeadManSwitch({
        host: c.host, log: this.log.child({ part: 'l3-dead-man' }),
        confirm: { urls: c.controllerUrls, credential, ...(c.controllerSocket ? { socketPath: c.controllerSocket } : {}) },
      }),
    });
    this.l3 = l3;
    // HA self-fence (l3/self-fence.ts): routers go silent when the controller is gone for l3FenceMs,
    // or while the host is cut off from the underlay (underlay/underlay-health.ts: BFD to every peer VTEP).
    // Resolves once the legs are silent (the L3 pass that follows is not waited for).
    const causes = new FenceCauses((on) => new Promise<void>((resolve) => {
      l3.setFenced(on, resolve).then(resolve, (err) => { this.log.error({ err }, 'HA routers not (un)fenced'); resolve(); });
    }));
    this.fenceCauses = causes;
    const fence = new SelfFence({ fenceMs: c.l3FenceMs, set: (on) => void causes.set('controller', on) });
    const underlay = c.tunnelIp ? await UnderlayHealth.start({
      conn: this.ovsdb, host: c.host, tunnelIp: c.tunnelIp, bridge: INTEGRATION_BRIDGE, holdMs: c.l3FenceMs, log: this.log.child({ part: 'underlay' }),
      report: (peers, full, isolated) => channel.reportUnderlay(peers, full, isolated), setIsolated: (on) => causes.set('underlay', on),
    }) : undefined;
    this.underlay = underlay;
    if (underlay) channel.on('welcome', (m) => underlay.welcomed(m.underlay === true));
    if (underlay) channel.on('lostHosts', (m) => underlay.hostsLost(m.hosts));
    this.fence = fence;
    channel.on('disconnected', () => fence.lost());
    channel.on('welcome', () => fence.connected());
    let appliedRevision: number | undefined;
    dataplane.on('model', (events, snapshot) => {
      fence.viewUpdated();
      if (underlay && (snapshot || events.some((e) => e.type === 'doc' && e.kind === 'agent'))) underlay.agentsChanged(dataplane.model.all('agent'));
      void l3.sync(dataplane.model, snapshot ? 'all' : routersTouched(dataplane.model, events));
    });
    const reportL3 = (s: L3Status): void => {
      // Not sent (no revision yet, or the channel is down): the next report carries every status.
      if (appliedRevision === undefined || !channel.reportApplied(appliedRevision, {}, s)) l3.forgetReported();
    };
    dataplane.on('applied', (r) => {
      const first = appliedRevision === undefined;
      appliedRevision = r.revision;
      if (first) {
        const s = l3.takeStatusChanges();
        if (Object.keys(s.routers).length || Object.keys(s.floatingips).length) reportL3(s);
      }
    });
    channel.on('welcome', () => l3.forgetReported());
    l3.on('status', reportL3);
    const metrics = instrumentAgent({ dataplane, reconciler: this.reconciler, l3, punt: this.punt, channel });
    if (c.metricsListen) {
      // Metrics are no reason to stop a dataplane: an address already taken is logged, and the agent runs on.
      this.metricsServer = await serveMetrics(c.metricsListen, () => metrics.registry.render()).catch((err) => {
        this.log.error({ err, listen: c.metricsListen }, 'metrics endpoint not started');
        return undefined;
      });
    }
    channel.start?.();
    const controller = c.controllerUrls.join(',');
    this.log.info({ controller: c.controllerSocket ? `${controller} over ${c.controllerSocket}` : controller, tunnelIp: c.tunnelIp, uplinks }, 'weft-agent running');
  }

  /** A DHCP answer for a frame punted from a local port, from the model as this agent holds it. */
  private answerDhcp(inPort: number, frame: Buffer): Buffer | undefined {
    const dp = this.dataplane;
    const portId = dp?.portAtOfport(inPort);
    const port = portId === undefined ? undefined : dp!.model.get('port', portId);
    const network = port && dp!.model.get('network', port.network_id);
    if (!port || !network) return undefined;
    const subnets = [...dp!.model.subnetsOfNetwork(network.id)].map((id) => dp!.model.get('subnet', id)!).filter(Boolean);
    const verdict = respondDhcp(frame, { port, network, subnets, serverMac: DHCP_SERVER_MAC, ...this.dhcpSettings });
    if ('ignored' in verdict) {
      this.log.debug({ port: port.id, why: verdict.ignored }, 'DHCP request not answered');
      return undefined;
    }
    this.log.debug({ port: port.id, kind: verdict.kind, address: verdict.address }, 'DHCP answer');
    return verdict.reply;
  }

  /** Stops talking to everyone, after handing its active HA routers over (l3/handover.ts). The switch and its flows stay as they are. */
  async stop(): Promise<void> {
    const l3 = this.l3;
    const channel = this.channel;
    const causes = this.fenceCauses;
    if (l3 && channel && causes) {
      await handOver({
        activeHaRouters: () => l3.activeHaRouters(), silence: () => causes.set('leaving', true),
        sendLeaving: () => channel.sendLeaving(), log: this.log.child({ part: 'l3-handover' }),
      });
    }
    this.stopSupervisor?.();
    this.fence?.close();
    await this.underlay?.close();
    await this.channel?.close();
    await this.punt?.close();
    await this.l3?.close();
    await this.metricsServer?.close();
    await this.watcher?.stop().catch(() => undefined);
    await this.reconciler?.close();
    this.ovsdb?.close();
  }
}
