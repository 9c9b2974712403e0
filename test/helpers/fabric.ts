// A whole fabric for end-to-end tests: a controller process, a lab of host namespaces (lab/lab.ts),
// a weft-agent process per host (lab/agents.ts, as `weft lab up` starts them), and an admin API client. Everything is torn down by destroy(),
// which tests call in afterAll/finally even when they fail.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLabAgents, type AgentProcess, type LabAgents } from '../../lab/agents.ts';
import { createLab, type Lab, type LabOptions } from '../../lab/lab.ts';
import { whileAlive } from '../../lab/teardown.ts';
import { startController, type ControllerProcess } from './controller-process.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PROBE = join(REPO, 'test/helpers/probe.mjs');

export interface Fabric {
  /** The first replica (the only controller unless `replicas` asked for more). */
  readonly controller: ControllerProcess;
  /** Every controller replica; agents fail over along them in this order. */
  readonly replicas: readonly ControllerProcess[];
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
  /** The admin's token, when the controller does not take its static one (keystone mode). */
  adminToken?: () => Promise<string>;
  /**
   * Controller replicas sharing one store (default 1). With more than one, controllerEnv must name a
   * shared store (WEFT_STORE=etcd ...); the replicas share their tokens through it, every agent is
   * given every replica (lab/agents.ts replicaSockets), and api() goes to the first replica running.
   */
  replicas?: number;
}

/** A one-time enrolment token for `host`'s agent, made through the admin API. */
export async function enrolmentToken(api: Fabric['api'], host: string): Promise<string> {
  return (await api('POST', '/v2.0/weft/agent-enrolments', { agent_enrolment: { host } })).agent_enrolment.token;
}

export async function createFabric(opts: FabricOptions): Promise<Fabric> {
  const env = { WEFT_VLAN_RANGES: 'physnet1:100:199', WEFT_FLAT_NETWORKS: 'physnet1', WEFT_LOG_LEVEL: 'warn', ...opts.controllerEnv };
  const count = opts.replicas ?? 1;
  const replicas: ControllerProcess[] = [];
  try {
    // One after another: the first puts the shared tokens in the store, the others take them.
    for (let i = 0; i < count; i++) replicas.push(await startController({ env, ...(count > 1 ? { controllerMakesTokens: true } : {}) }));
  } catch (e) {
    await Promise.all(replicas.map((r) => r.cleanup()));
    throw e;
  }
  const controller = replicas[0];
  const serving = () => replicas.find((r) => r.running) ?? controller;
  let lab: Lab | undefined;
  let labAgents: LabAgents | undefined;
  const agents = new Map<string, AgentProcess>();
  const destroy = whileAlive(async () => {
    for (const a of agents.values()) await a.kill('SIGKILL').catch(() => undefined);
    await labAgents?.stop().catch(() => undefined);
    await lab?.destroy().catch(() => undefined);
    await Promise.all(replicas.map((r) => r.cleanup()));
  });
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${serving().url}${path}`, {
      method,
      headers: { 'x-auth-token': opts.adminToken ? await opts.adminToken() : controller.adminToken, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
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
  try {
    lab = await createLab(opts);
    labAgents = await startLabAgents({
      lab,
      controller: () => ({ host: '127.0.0.1', port: controller.port }),
      controllerSocket: controller.socketPath,
      ...(count > 1 ? { replicaSockets: replicas.map((r) => r.socketPath) } : {}),
      enrol: (host) => enrolmentToken(api, host),
      listAgents: async () => (await api('GET', '/v2.0/agents')).agents,
      ...(opts.existingOvs ? { existingOvs: opts.existingOvs } : {}),
    });
    for (const [h, a] of labAgents.agents) agents.set(h, a);
    return { controller, replicas, lab, agents, api, until, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}
