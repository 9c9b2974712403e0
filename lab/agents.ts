// A weft-agent per lab host, connected to a controller that runs in this machine's root namespace:
// what test/helpers/fabric.ts starts for tests and `weft lab up` starts for people.
//
// Agents run inside their host namespace, where 127.0.0.1 is not ours. A controller on this machine
// with a unix socket (WEFT_LISTEN_SOCKET) is reached there directly: a path is the same in every
// network namespace. Otherwise a relay in each host listens on 127.0.0.1:<port> and forwards over a
// unix socket in the lab's run root to the controller (a management network; relay.mjs). Then each
// agent enrols with a one-time token made for its host, starts its host's Open vSwitch, registers,
// and once every agent is alive the hosts' underlay goes in (lab.attachUnderlay).
//
// Two ways to run them: children of this process with their output in memory (tests), or detached
// processes that outlive it, writing <runRoot>/<host>.log (weft lab up; lab.destroy() kills them
// with everything else in the host namespaces, and the root relay by the pid it is given).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { killAndWait } from '../agent/host/local-ovs.ts';
import { ownOpenvswitch } from '../agent/host/own-ovs.ts';
import type { Lab } from './lab.ts';
import { spawnDetached, until } from './lab-process.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TSX = pathToFileURL(createRequire(join(REPO, 'package.json')).resolve('tsx')).href;
const RELAY = join(REPO, 'lab/relay.mjs');
/** In a host namespace, the first replica's relay port (replicaSockets). */
const REPLICA_PORT = 9701;
/** Extra node flags for agents (e.g. --cpu-prof), as for the test controller. */
const nodeArgs = () => process.env.WEFT_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

export class AgentProcess {
  private child: ChildProcess | undefined;
  private detachedPid: number | undefined;
  private log = '';
  private exited: Promise<void> | undefined;

  /** With `logFile` the agent is detached and appends its output there; otherwise output() holds it. */
  constructor(readonly host: string, private readonly netns: string, private readonly env: Record<string, string>, private readonly logFile?: string) {}

  start(): void {
    if (this.running) throw new Error(`agent ${this.host} already runs`);
    // nsenter, not `ip netns exec`: the agent stays in the machine's mount namespace, as a real
    // agent does, so the router namespaces it adds (bind mounts under /run/netns) outlive it and a
    // restarted agent finds them. `ip netns exec` would give it a private mount namespace whose
    // mounts die with the process, taking the router namespaces with them.
    const argv = [`--net=/run/netns/${this.netns}`, '--', process.execPath, ...nodeArgs(), '--import', TSX, join(REPO, 'agent/main.ts')];
    const env = { ...process.env, ...this.env };
    if (this.logFile) {
      const fd = openSync(this.logFile, 'a', 0o600);
      try {
        const child = spawn('nsenter', argv, { env, stdio: ['ignore', fd, fd], detached: true });
        child.unref();
        this.detachedPid = child.pid;
      } finally {
        closeSync(fd);
      }
      return;
    }
    const child = spawn('nsenter', argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.log += d));
    child.stderr!.on('data', (d) => (this.log += d));
    this.exited = new Promise((r) => child.once('exit', () => r()));
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child?.pid ?? this.detachedPid;
  }

  get running(): boolean {
    return this.child !== undefined || this.detachedPid !== undefined;
  }

  output(): string {
    if (!this.logFile) return this.log;
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.detachedPid !== undefined) {
      await killAndWait(this.detachedPid, signal === 'SIGKILL' ? 0 : 5000).catch(() => undefined);
      this.detachedPid = undefined;
      return;
    }
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
    this.child = undefined;
  }
}

export interface LabAgentsOptions {
  lab: Lab;
  /** The controller as this process reaches it; asked per connection, so a controller restarted on another port is followed. */
  controller: () => { host: string; port: number };
  /** The controller's unix socket, if it has one: agents connect there, and no relays are started. */
  controllerSocket?: string;
  /**
   * Several controller replicas, each with its unix socket: in each host a relay per replica
   * (127.0.0.1:9701, 9702, ...), and the agent is given their URLs as a list to fail over along.
   */
  replicaSockets?: readonly string[];
  /**
   * A one-time enrolment token for a host (an admin's POST /v2.0/weft/agent-enrolments): each
   * agent redeems its own for its host's credential, which it keeps in the host's run folder.
   */
  enrol: (host: string) => Promise<string>;
  /** Hosts and liveness of the agents the controller knows (admin GET /v2.0/agents). */
  listAgents: () => Promise<Array<{ host: string; alive: boolean }>>;
  /** Hosts whose Open vSwitch runs before the agent, as a system service would (the agent gets WEFT_OVSDB). */
  existingOvs?: string[];
  /** Processes that outlive this one, with logs in the lab's run root (weft lab up). Default: children. */
  detached?: boolean;
  logLevel?: string;
  /** Called with a line before each slow step. */
  progress?: (line: string) => void;
  /** How long agents may take to register. Default 60 s. */
  registerTimeoutMs?: number;
}

export interface LabAgents {
  readonly agents: Map<string, AgentProcess>;
  /** Pid of the detached root-namespace relay (detached mode only). */
  readonly relayPid: number | undefined;
  /** The last lines of every agent's output, for error messages. */
  logs(): string;
  /** Kills the agents and the root relay (the host relays die with the lab's namespaces). */
  stop(): Promise<void>;
}

export async function startLabAgents(o: LabAgentsOptions): Promise<LabAgents> {
  const { lab } = o;
  const progress = o.progress ?? (() => undefined);
  const agents = new Map<string, AgentProcess>();
  const relayPath = join(lab.runRoot, 'ctl.sock');
  const logFile = (name: string) => join(lab.runRoot, `${name}.log`);
  let server: net.Server | undefined;
  let relayPid: number | undefined;
  const logs = () => [...agents.values()].map((a) => `--- agent ${a.host}\n${a.output().slice(-3000)}`).join('\n');
  const stop = async () => {
    await Promise.all([...agents.values()].map((a) => a.kill('SIGKILL').catch(() => undefined)));
    if (relayPid !== undefined) await killAndWait(relayPid, 2000).catch(() => undefined);
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  };
  /** The root relay to the controller, then one in each host namespace (not needed with controllerSocket). */
  const startRelays = async (port: number) => {
    if (o.detached) {
      const first = o.controller();
      relayPid = spawnDetached(undefined, [process.execPath, RELAY, 'unix-to-tcp', relayPath, first.host, String(first.port)], { logFile: logFile('relay') });
      await until('the relay to the controller', () => existsSync(relayPath), 10_000);
    } else {
      server = net.createServer((c) => {
        const up = net.connect(o.controller());
        c.pipe(up).pipe(c);
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
      });
      await new Promise<void>((r) => server!.listen(relayPath, r));
    }
    for (const name of lab.hosts) {
      const relayArgv = [process.execPath, RELAY, 'tcp-to-unix', String(port), relayPath];
      if (o.detached) {
        spawnDetached(lab.host(name).netns, relayArgv, { logFile: logFile(`relay-${name}`) });
        await until(`relay in ${name}`, () => /listening/.test(readFileSync(logFile(`relay-${name}`), 'utf8')), 10_000);
      } else {
        const relay = lab.host(name).spawn(relayArgv);
        await until(`relay in ${name}`, () => /listening/.test(relay.output()), 10_000);
      }
    }
  };
  try {
    const { port } = o.controller();
    const replicas = o.replicaSockets ?? [];
    if (replicas.length) {
      for (const name of lab.hosts) {
        for (const [i, socket] of replicas.entries()) {
          const relay = lab.host(name).spawn([process.execPath, RELAY, 'tcp-to-unix', String(REPLICA_PORT + i), socket]);
          await until(`relay to replica ${i} in ${name}`, () => /listening/.test(relay.output()), 10_000);
        }
      }
    } else if (!o.controllerSocket) await startRelays(port);
    const inHostUrl = replicas.length ? replicas.map((_, i) => `http://127.0.0.1:${REPLICA_PORT + i}`).join(',') : `http://127.0.0.1:${port}`;
    for (const name of lab.hosts) {
      const h = lab.host(name);
      const env: Record<string, string> = { ...h.agentEnv(inHostUrl, await o.enrol(name)), WEFT_LOG_LEVEL: o.logLevel ?? 'info' };
      if (o.controllerSocket && !replicas.length) env.WEFT_CONTROLLER_SOCKET = o.controllerSocket;
      if (o.existingOvs?.includes(name)) {
        const { ovs } = await ownOpenvswitch({ runDir: h.runDir, netns: h.netns });
        Object.assign(env, { WEFT_OVSDB: ovs.dbTarget, WEFT_DATAPATH: 'netdev' });
      }
      const agent = new AgentProcess(name, h.netns, env, o.detached ? logFile(name) : undefined);
      agents.set(name, agent);
      agent.start();
    }
    progress(`waiting for ${lab.hosts.length} agent(s) to start Open vSwitch and register`);
    await until('agents to register', async () => {
      const listed = await o.listAgents();
      return lab.hosts.every((h) => listed.some((a) => a.host === h && a.alive));
    }, o.registerTimeoutMs ?? 60_000);
    progress('attaching the hosts to the underlay');
    for (const name of lab.hosts) await lab.attachUnderlay(name);
    return { agents, relayPid, logs, stop };
  } catch (e) {
    const text = logs();
    await stop();
    throw new Error(`${(e as Error).message}\n${text}`, { cause: e });
  }
}
