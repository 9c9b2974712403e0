// weft lab up / weft lab down: the tests' lab (lab/lab.ts) and agents (lab/agents.ts), started for a
// person against the controller they run: hosts h1..hN as namespaces, each with its own Open
// vSwitch and a detached weft-agent, state in <lab dir>/lab.json so that `down` removes everything
// (agents, relays, switches, namespaces, the lab dir) from another process.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { killAndWait } from '../../agent/host/local-ovs.ts';
import { startLabAgents } from '../../lab/agents.ts';
import { attachExternal } from '../../lab/lab-external.ts';
import { createLab, openLab, type Lab } from '../../lab/lab.ts';
import { CliError } from '../args.ts';
import { ENROLMENTS_PATH } from '../../schemas/api/agent-identity.ts';
import { labDir } from '../config.ts';
import { emit, optFlag, optInt, optString, type CommandContext } from '../context.ts';
import { table } from '../format.ts';
import { hasLabState, readLabState, writeLabState, type LabState } from '../lab-state.ts';

/** host:port of the controller as a process in the root namespace reaches it. */
function controllerAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}

export async function labUpCommand(ctx: CommandContext): Promise<void> {
  const dir = labDir(ctx.options, ctx.env);
  if (hasLabState(dir)) {
    const s = readLabState(dir);
    throw new CliError(`a lab is up in ${dir} already (prefix ${s.prefix}, hosts ${s.hosts.join(', ')}): weft lab down first, or pass another --lab-dir`);
  }
  if (existsSync(dir) && readdirSync(dir).length) throw new CliError(`${dir} exists and is not empty: choose another --lab-dir (lab down removes the whole folder)`);
  const provider = optFlag(ctx, 'provider');
  const external = optString(ctx, 'external');
  if (external && !provider) throw new CliError('--external needs --provider (the outside namespace sits on the provider fabric)');
  const c = ctx.client();
  // Fails early, with the client's clear message, when the controller is down or the token is not an admin's.
  await c.get('/v2.0/agents');
  const hosts = Array.from({ length: optInt(ctx, 'hosts') ?? 2 }, (_, i) => `h${i + 1}`);
  const prefix = optString(ctx, 'prefix');
  ctx.progress(`creating ${hosts.length} host namespace(s) and the fabric in ${dir}`);
  const lab = await createLab({ hosts, provider, runRoot: dir, ...(prefix ? { prefix } : {}) });
  const address = controllerAddress(c.url);
  const state: LabState = { ...lab.describe(), controllerUrl: c.url, relayPid: undefined, agents: {}, createdAt: new Date().toISOString() };
  writeLabState(dir, state); // from here on, `weft lab down` can clean up whatever happens next
  try {
    ctx.progress(`starting a weft-agent in each host (logs in ${dir}/<host>.log)`);
    const started = await startLabAgents({
      lab, detached: true, controller: () => address,
      // Each agent gets a one-time enrolment token for its host, made with the admin token.
      enrol: async (host) => (await c.request<{ agent_enrolment: { token: string } }>('POST', ENROLMENTS_PATH, { agent_enrolment: { host } })).body.agent_enrolment.token,
      listAgents: async () => (await c.get<{ agents: Array<{ host: string; alive: boolean }> }>('/v2.0/agents')).agents,
      progress: ctx.progress,
    });
    state.relayPid = started.relayPid;
    for (const [h, a] of started.agents) state.agents[h] = a.pid;
    if (external) state.external = { netns: (await attachExternal(lab, external)).netns, cidr: external };
    writeLabState(dir, state);
  } catch (e) {
    ctx.progress('lab up failed: removing what it made');
    await lab.destroy().catch(() => undefined);
    throw e;
  }
  printLab(ctx, lab, state);
}

function printLab(ctx: CommandContext, lab: Lab, s: LabState): void {
  const hosts = s.hosts.map((h) => {
    const lh = lab.host(h);
    return { host: h, netns: lh.netns, tunnel_ip: lh.tunnelIp, run_dir: lh.runDir, ovsdb: lh.ovs.dbTarget, agent_pid: s.agents[h] ?? null, log: `${s.runRoot}/${h}.log` };
  });
  emit(ctx, { ...s, hosts: s.hosts, host_details: hosts, fabric_netns: lab.fabricNetns, underlay: lab.underlayCidr }, () => [
    `lab ${s.prefix} is up in ${s.runRoot}: ${s.hosts.length} host(s) with agents connected to ${s.controllerUrl}` +
      `${s.provider ? ', provider network physnet1 on every host (br-phys)' : ''}`,
    '',
    ...table(['HOST', 'NAMESPACE', 'TUNNEL IP', 'OVSDB', 'AGENT PID', 'LOG'], hosts.map((h) => [h.host, h.netns, h.tunnel_ip, h.ovsdb, h.agent_pid, h.log])).map((l) => `  ${l}`),
    '',
    `fabric: namespace ${lab.fabricNetns} (bridge brf), underlay ${lab.underlayCidr}`,
    ...(s.external ? [`outside: namespace ${s.external.netns} at ${s.external.cidr} on physnet1 (flat)`] : []),
    `plug a port into a host:   weft plug PORT --lab-host h1`,
    `trace from it:             weft trace PORT DST --lab-host h1`,
    `remove everything:         weft lab down`,
  ].join('\n'));
}

/** True when /proc says `pid` runs a command line containing `needle` (guards against pid reuse). */
function runs(pid: number | undefined, needle: string): pid is number {
  if (pid === undefined) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

export async function labDownCommand(ctx: CommandContext): Promise<void> {
  const dir = labDir(ctx.options, ctx.env);
  if (!hasLabState(dir)) {
    emit(ctx, { removed: false, lab_dir: dir }, () => `no lab is up in ${dir}: nothing to remove`);
    return;
  }
  const s = readLabState(dir);
  const lab = openLab(s);
  const namespaces = await lab.namespaces();
  // Agents first, or their switch supervisor would restart the ovs-vswitchd that destroy() stops.
  const agents = Object.values(s.agents).filter((pid) => runs(pid, 'agent/main.ts')) as number[];
  ctx.progress(`stopping ${agents.length} agent(s), the switches and ${namespaces.length} namespace(s) of lab ${s.prefix}`);
  await Promise.all(agents.map((pid) => killAndWait(pid, 5000).catch(() => undefined)));
  if (runs(s.relayPid, 'relay.mjs')) await killAndWait(s.relayPid, 2000).catch(() => undefined);
  await lab.destroy();
  const left = await lab.namespaces();
  if (left.length) throw new CliError(`lab ${s.prefix}: namespaces still there after clean-up: ${left.join(', ')}`);
  emit(ctx, { removed: true, prefix: s.prefix, lab_dir: dir, namespaces, agent_pids: agents }, () =>
    `removed lab ${s.prefix}: agents ${agents.join(', ') || '(none running)'}, namespaces ${namespaces.join(', ') || '(none)'}, and ${dir}`);
}
