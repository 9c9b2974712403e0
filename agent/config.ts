// weft-agent is configured by environment variables (README, "Agent configuration").
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { isIpv4 } from '../schemas/common.ts';

export class AgentConfigError extends Error {}

const mappings = z.string().transform((text, ctx) => {
  const out: Record<string, string> = {};
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [physnet, bridge, extra] = entry.split(':');
    if (!physnet || !bridge || extra !== undefined || bridge.length > 15) {
      ctx.addIssue({ code: 'custom', message: `'${entry}' is not PHYSNET:BRIDGE (bridge names have at most 15 characters)` });
      return z.NEVER;
    }
    if (out[physnet]) {
      ctx.addIssue({ code: 'custom', message: `physical network '${physnet}' is mapped twice` });
      return z.NEVER;
    }
    out[physnet] = bridge;
  }
  return out;
});

/** One controller URL, or several replicas' separated by commas (the agent fails over between them). */
const controllerUrls = z.string().transform((text, ctx) => {
  const urls = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const url of urls) {
    if (!z.url({ protocol: /^https?$/ }).safeParse(url).success) {
      ctx.addIssue({ code: 'custom', message: `'${url}' is not an http:// or https:// URL` });
      return z.NEVER;
    }
  }
  if (!urls.length) {
    ctx.addIssue({ code: 'custom', message: 'names no URL' });
    return z.NEVER;
  }
  return urls.map((url) => url.replace(/\/+$/, ''));
});

/** HOST:PORT or [IPv6]:PORT. */
const listen = z.string().refine((text) => {
  const m = /^(?:[^:[\]]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(text);
  return !!m && Number(m[1]) <= 65535;
}, 'must be HOST:PORT (empty to disable)');

const AgentEnv = z.object({
  WEFT_CONTROLLER_URL: controllerUrls.default(['http://127.0.0.1:9696']),
  WEFT_CONTROLLER_SOCKET: z.string().max(107, 'a unix socket path has at most 107 bytes').optional(),
  WEFT_AGENT_TOKEN: z.string().min(1).optional(),
  WEFT_AGENT_CREDENTIAL: z.string().min(1).optional(),
  WEFT_ENROLMENT_TOKEN: z.string().min(1).optional(),
  WEFT_STATE_DIR: z.string().min(1).default('/var/lib/weft-agent'),
  WEFT_HOST: z.string().min(1).max(255).default(hostname()),
  WEFT_OVSDB: z.string().regex(/^(unix|tcp):/, 'must be unix:PATH or tcp:HOST:PORT').optional(),
  WEFT_OPENFLOW: z.string().regex(/^unix:/, 'must be unix:PATH').optional(),
  WEFT_RUN_DIR: z.string().optional(),
  WEFT_DATAPATH: z.enum(['system', 'netdev']).optional(),
  WEFT_TUNNEL_IP: z.string().refine(isIpv4, 'is not an IPv4 address').optional(),
  WEFT_BRIDGE_MAPPINGS: mappings.default({}),
  WEFT_ROUTER_NAMESPACE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,24}$/, 'must be 1-24 of [A-Za-z0-9_.-]').default('qrouter-'),
  WEFT_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WEFT_METRICS_LISTEN: listen.default('127.0.0.1:9697'),
  WEFT_L3_FENCE_MS: z.coerce.number().int().min(0).max(60_000).default(300),
});

export interface AgentConfig {
  /** The controller, or its replicas (sharing one store) in the order they are tried. */
  controllerUrls: string[];
  /** The controller's unix socket (its WEFT_LISTEN_SOCKET): connect there instead of to the URL's host and port (one URL only). */
  controllerSocket: string | undefined;
  /** This host's agent credential, when given directly (WEFT_AGENT_CREDENTIAL); else the stored one, or enrolment. */
  credential: string | undefined;
  /** A one-time enrolment token (WEFT_ENROLMENT_TOKEN), redeemed for the credential when none is stored. */
  enrolmentToken: string | undefined;
  /** Where the credential is kept once enrolled (WEFT_STATE_DIR). */
  stateDir: string;
  host: string;
  /** OVSDB target of an existing Open vSwitch; undefined = start and own one in runDir. */
  ovsdb: string | undefined;
  /** Folder of the private Open vSwitch (when ovsdb is unset). */
  runDir: string;
  /** br-int's OpenFlow management socket. */
  openflow: string;
  datapath: 'system' | 'netdev';
  tunnelIp: string | null;
  bridgeMappings: Record<string, string>;
  /** Router namespaces are <prefix><router id>; the agent owns every namespace with this prefix. */
  routerNamespacePrefix: string;
  logLevel: string;
  /** Where the Prometheus metrics endpoint listens (HOST:PORT); null: no endpoint. */
  metricsListen: string | null;
  /** Milliseconds without the controller after which routers go silent (HA self-fence); the controller's l3FenceMs. */
  l3FenceMs: number;
}

export function loadAgentConfig(env: Record<string, string | undefined> = process.env): AgentConfig {
  const clean = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('WEFT_') && v !== ''));
  const parsed = AgentEnv.safeParse(clean);
  if (!parsed.success) {
    throw new AgentConfigError(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; '));
  }
  const e = parsed.data;
  if (e.WEFT_CONTROLLER_SOCKET && e.WEFT_CONTROLLER_URL.length > 1) {
    throw new AgentConfigError('WEFT_CONTROLLER_SOCKET: a unix socket is one controller; WEFT_CONTROLLER_URL must name one URL beside it');
  }
  if (e.WEFT_CONTROLLER_SOCKET && e.WEFT_CONTROLLER_URL[0].startsWith('https:')) {
    throw new AgentConfigError('WEFT_CONTROLLER_SOCKET: a unix socket is spoken to in plain http; WEFT_CONTROLLER_URL must be http://');
  }
  if (e.WEFT_AGENT_TOKEN) {
    throw new AgentConfigError('WEFT_AGENT_TOKEN is gone: the shared agent token let its holder act as any host. Each host\'s agent has its own '
      + 'credential now: start it once with WEFT_ENROLMENT_TOKEN (from `weft agent enrol HOST` on the controller) and it keeps the credential in WEFT_STATE_DIR');
  }
  const runDir = e.WEFT_RUN_DIR ?? join(tmpdir(), `weft-${e.WEFT_HOST}`.slice(0, 40));
  // The mgmt socket sits beside the database socket for a system Open vSwitch too.
  const dbDir = e.WEFT_OVSDB?.startsWith('unix:') ? e.WEFT_OVSDB.slice(5).replace(/\/[^/]*$/, '') : runDir;
  return {
    controllerUrls: e.WEFT_CONTROLLER_URL,
    controllerSocket: e.WEFT_CONTROLLER_SOCKET,
    credential: e.WEFT_AGENT_CREDENTIAL,
    enrolmentToken: e.WEFT_ENROLMENT_TOKEN,
    stateDir: e.WEFT_STATE_DIR,
    host: e.WEFT_HOST,
    ovsdb: e.WEFT_OVSDB,
    runDir,
    openflow: e.WEFT_OPENFLOW ?? `unix:${join(dbDir, 'br-int.mgmt')}`,
    datapath: e.WEFT_DATAPATH ?? (e.WEFT_OVSDB ? 'system' : 'netdev'),
    tunnelIp: e.WEFT_TUNNEL_IP ?? null,
    bridgeMappings: e.WEFT_BRIDGE_MAPPINGS,
    routerNamespacePrefix: e.WEFT_ROUTER_NAMESPACE_PREFIX,
    logLevel: e.WEFT_LOG_LEVEL,
    // Empty variables count as unset, except this one: empty is how the endpoint is turned off.
    metricsListen: env.WEFT_METRICS_LISTEN === '' ? null : e.WEFT_METRICS_LISTEN,
    l3FenceMs: e.WEFT_L3_FENCE_MS,
  };
}
