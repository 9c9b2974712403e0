// A whole fabric for end-to-end tests: a controller process, a lab of host namespaces (lab.ts),
// a weft-agent process per host, and an admin API client. Everything is torn down by destroy(),
// which tests call in afterAll/finally even when they fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ownOpenvswitch } from '../../agent/host/own-ovs.ts';
import { startController, type ControllerProcess } from './controller-process.ts';
import { createLab, type Lab, type LabOptions } from './lab.ts';
import { until as untilLab } from './lab-process.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;
export const PROBE = join(REPO, 'test/helpers/probe.mjs');

export class AgentProcess {
  private child: ChildProcess | undefined;
  private log = '';
  private exited: Promise<void> | undefined;

  constructor(readonly host: string, private readonly netns: string, private readonly env: Record<string, string>) {}

  start(): void {
    if (this.child) throw new Error(`agent ${this.host} already runs`);
    // nsenter, not `ip netns exec`: the agent stays in the machine's mount namespace, as a real
    // agent does, so the router namespaces it adds (bind mounts under /run/netns) outlive it and a
    // restarted agent finds them. `ip netns exec` would give it a private mount namespace whose
    // mounts die with the process, taking the router namespaces with them.
    const child = spawn('nsenter', [`--net=/run/netns/${this.netns}`, '--', process.execPath, ...(process.env.WEFT_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', TSX, join(REPO, 'agent/main.ts')], {
      env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.exited = new Promise((r) => child.once('exit', () => r()));
    this.child = child;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  output(): string {
    return this.log;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
    this.child = undefined;
  }
}

export interface Fabric {
  readonly controller: ControllerProcess;
  readonly lab: Lab;
  readonly agents: Map<string, AgentProcess>;
  /** Admin API call; throws on a non-2xx answer with the body in the message. */
  api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  /** Polls fn until it returns a truthy value (or throws after timeoutMs, with the agents' logs). */
  until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  destroy(): Promise<void>;
}

export interface FabricOptions extends LabOptions {
  controllerEnv?: Record<string, string>;
  /**
   * Hosts whose Open vSwitch runs before the agent, as a system service would (the agent is given
   * WEFT_OVSDB); the other hosts' agents start and own theirs.
   */
  existingOvs?: string[];
}

export async function createFabric(opts: FabricOptions): Promise<Fabric> {
  const controller = await startController({
    env: { WEFT_VLAN_RANGES: 'physnet1:100:199', WEFT_FLAT_NETWORKS: 'physnet1', WEFT_LOG_LEVEL: 'warn', ...opts.controllerEnv },
  });
  let lab: Lab | undefined;
  let relay: net.Server | undefined;
  const agents = new Map<string, AgentProcess>();
  const destroy = async () => {
    for (const a of agents.values()) await a.kill('SIGKILL').catch(() => undefined);
    await lab?.destroy().catch(() => undefined);
    await new Promise((r) => (relay ? relay.close(r) : r(undefined)));
    await controller.cleanup();
  };
  try {
    lab = await createLab(opts);
    // Agents run inside their host namespace, where 127.0.0.1 is not ours: a relay in each host
    // forwards 127.0.0.1:<port> over a unix socket to the controller (a management network).
    const relayPath = join(lab.runRoot, 'ctl.sock');
    relay = net.createServer((c) => {
      const up = net.connect({ host: '127.0.0.1', port: controller.port });
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => relay!.listen(relayPath, r));
    const token = readFileSync(join(controller.dataDir, 'agent-token'), 'utf8').trim();
    const inHostUrl = `http://127.0.0.1:${controller.port}`;
    for (const h of opts.hosts) {
      const listening = lab.host(h).spawn([process.execPath, PROBE, 'relay', String(controller.port), relayPath]);
      await untilLab(`relay in ${h}`, () => /listening/.test(listening.output()), 10_000);
      const env = { ...lab.host(h).agentEnv(inHostUrl, token), WEFT_LOG_LEVEL: 'info' };
      if (opts.existingOvs?.includes(h)) {
        const { ovs } = await ownOpenvswitch({ runDir: lab.host(h).runDir, netns: lab.host(h).netns });
        Object.assign(env, { WEFT_OVSDB: ovs.dbTarget, WEFT_DATAPATH: 'netdev' });
      }
      const agent = new AgentProcess(h, lab.host(h).netns, env);
      agents.set(h, agent);
      agent.start();
    }
    const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${controller.url}${path}`, {
        method,
        headers: { 'x-auth-token': controller.adminToken, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const until = async <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20000): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        try {
          const v = await fn();
          if (v) return v;
        } catch (e) {
          last = e;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const logs = [...agents.values()].map((a) => `--- agent ${a.host}\n${a.output().slice(-3000)}`).join('\n');
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}\n${logs}`);
    };
    // The agents start their own Open vSwitch; the underlay goes in once it runs.
    await until('agents to register', async () => {
      const { agents: listed } = await api('GET', '/v2.0/agents');
      return opts.hosts.every((h) => listed.some((a: any) => a.host === h && a.alive));
    }, 60000);
    for (const h of opts.hosts) await lab.attachUnderlay(h);
    return { controller, lab, agents, api, until, destroy };
  } catch (e) {
    const logs = [...agents.values()].map((a) => `--- agent ${a.host}\n${a.output().slice(-3000)}`).join('\n');
    await destroy();
    throw new Error(`${(e as Error).message}\n${logs}`, { cause: e });
  }
}
