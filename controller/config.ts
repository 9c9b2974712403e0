import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

// One config file (JSON, validated here), overridden by WEFT_* environment variables.

/** The numbers of a MIN:MAX text lie within [lo, hi]. */
const within = (lo: number, hi: number, what: string) => (s: string) => {
  const nums = s.split(':').slice(-2).map(Number).filter((n) => !Number.isNaN(n));
  return nums.every((n) => n >= lo && n <= hi) ? true : `${what} must be within ${lo}:${hi}`;
};
const check = (fn: (s: string) => true | string) => (s: string, ctx: z.RefinementCtx) => {
  const verdict = fn(s);
  if (verdict !== true) ctx.addIssue({ code: 'custom', message: `'${s}': ${verdict}` });
};
const range = z.string().regex(/^\d+:\d+$/, 'expected MIN:MAX').superRefine(check(within(1, 16777215, 'VXLAN VNIs')));
const vlanRange = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(:\d+:\d+)?$/, 'expected PHYSNET or PHYSNET:MIN:MAX')
  .superRefine(check((s) => (s.includes(':') ? within(1, 4094, 'VLAN ids')(s) : true)));

export const ConfigSchema = z
  .object({
    listen: z.string().regex(/^[^:]+:\d+$|^\[.+\]:\d+$/, 'expected HOST:PORT').default('127.0.0.1:9696'),
    /** Also serve the API and the agent channel on this unix socket (agents on this machine, without TCP). */
    listenSocket: z.string().min(1).max(107, 'a unix socket path has at most 107 bytes').optional(),
    dataDir: z.string().default('./data'),
    /** Where the model lives: SQLite in dataDir (one controller), or etcd (several replicas). */
    store: z.enum(['sqlite', 'etcd']).default('sqlite'),
    etcd: z
      .object({
        endpoints: z.array(z.string().url()).default(['http://127.0.0.1:2379']),
        /** Every key Weft writes starts with it: several fabrics can share one etcd cluster. */
        prefix: z.string().regex(/^\/.*\/$/, "expected a key prefix that starts and ends with '/'").default('/weft/'),
        /** Most keys one commit writes; etcd must allow as many (--max-txn-ops). */
        maxTxnOps: z.number().int().min(16).default(8192),
        /** etcd history older than this is compacted away (an agent away longer resyncs from a snapshot). */
        historyMinutes: z.number().positive().default(60),
      })
      .strict()
      .default({ endpoints: ['http://127.0.0.1:2379'], prefix: '/weft/', maxTxnOps: 8192, historyMinutes: 60 }),
    auth: z.enum(['keystone', 'token', 'noauth']).default('token'),
    keystone: z
      .object({
        url: z.string().url().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        project: z.string().optional(),
        userDomain: z.string().default('Default'),
        projectDomain: z.string().default('Default'),
        cacheSeconds: z.number().int().min(0).default(300),
      })
      .strict()
      .default({ userDomain: 'Default', projectDomain: 'Default', cacheSeconds: 300 }),
    /** Static tokens file (token mode); default $dataDir/tokens.json. */
    tokensFile: z.string().optional(),
    /**
     * Retired: the shared agent token let its holder act as any host. Each agent now has its own
     * credential (README, "Enrolling a host"); setting this is an error that says so.
     */
    agentToken: z.string().optional(),
    segments: z
      .object({
        tenantNetworkTypes: z.array(z.enum(['vxlan', 'vlan'])).min(1).default(['vxlan']),
        vniRanges: z.array(range).default(['1000:65535']),
        /** PHYSNET:MIN:MAX for tenant VLANs; a bare PHYSNET allows provider networks only. */
        vlanRanges: z.array(vlanRange).default(['physnet1:100:199']),
        /** Physical networks usable by flat networks ('*' = any). */
        flatNetworks: z.array(z.string()).default(['*']),
      })
      .strict()
      .default({ tenantNetworkTypes: ['vxlan'], vniRanges: ['1000:65535'], vlanRanges: ['physnet1:100:199'], flatNetworks: ['*'] }),
    /** MTU of the physical underlay; VXLAN networks get 50 bytes less. */
    physicalMtu: z.number().int().min(1280).max(9216).default(1500),
    dnsDomain: z.string().default('openstacklocal.'),
    /** Seconds a DHCP lease lasts; clients renew at half of it, which is when model changes reach them. */
    dhcpLeaseDuration: z.number().int().min(10).default(86400),
    /** First three octets of generated MACs. */
    baseMac: z.string().regex(/^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/).default('fa:16:3e'),
    /**
     * Behind a load balancer or TLS terminator that sets X-Forwarded-Proto and X-Forwarded-Host
     * (Neutron's enable_proxy_headers_parsing): links in answers use the client's scheme and host.
     * Off by default: a client talking to Weft directly could otherwise choose them.
     */
    proxyHeaders: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Seconds between an agent's heartbeats (told to the agent in the channel's welcome). */
    agentHeartbeatInterval: z.number().positive().max(3600).default(2),
    /** Seconds without a heartbeat after which an agent is listed as not alive. */
    agentDownTime: z.number().positive().max(86400).default(6),
    /** Bytes queued on an agent's channel beyond which it stops getting changes and gets a fresh snapshot once drained. */
    agentSendBufferLimit: z.number().int().min(1).default(32 * 1024 * 1024),
    /** Default of a new router's `ha` (Neutron's l3_ha): highly available routers get standby gateway hosts. */
    l3Ha: z.boolean().default(false),
    /** Most gateway hosts (active plus standbys) an HA router gets (Neutron's max_l3_agents_per_router). */
    maxL3AgentsPerRouter: z.number().int().min(2).max(16).default(3),
    /**
     * Milliseconds after which an agent cut off from the controller silences its active routers
     * (self-fence); agents must be given the same value (WEFT_L3_FENCE_MS on the agent).
     */
    l3FenceMs: z.number().int().min(0).max(60_000).default(300),
    /** Milliseconds the controller waits beyond l3FenceMs before moving an HA router off a lost gateway host. */
    l3FailoverMarginMs: z.number().int().min(0).max(60_000).default(100),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seg = c.segments;
    if (seg.tenantNetworkTypes.includes('vlan') && !seg.vlanRanges.some((r) => r.includes(':'))) {
      ctx.addIssue({ code: 'custom', path: ['segments', 'vlanRanges'], message: "tenant network type 'vlan' needs at least one PHYSNET:MIN:MAX range" });
    }
    if (c.agentDownTime <= c.agentHeartbeatInterval) {
      ctx.addIssue({ code: 'custom', path: ['agentDownTime'], message: `must exceed agentHeartbeatInterval (${c.agentHeartbeatInterval} s); twice that or more is advisable` });
    }
    if (c.agentToken !== undefined) {
      ctx.addIssue({
        code: 'custom', path: ['agentToken'],
        message: 'the shared agent token (WEFT_AGENT_TOKEN) is gone: it let its holder act as any host. Each host\'s agent now has its own '
          + 'credential: make a one-time enrolment token with `weft agent enrol HOST` and start the agent with WEFT_ENROLMENT_TOKEN (README, "Enrolling a host")',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

type Env = Record<string, string | undefined>;

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
/** 1/true and 0/false; anything else is left for the schema to refuse. */
const flag = (s: string): unknown => (/^(1|true)$/i.test(s.trim()) ? true : /^(0|false)$/i.test(s.trim()) ? false : s);

/** Environment variables that override the file. */
function fromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, any> = {};
  const set = (path: string[], value: unknown) => {
    let node = out;
    for (const key of path.slice(0, -1)) node = node[key] ??= {};
    node[path[path.length - 1]] = value;
  };
  const vars: Array<[string, string[], (s: string) => unknown]> = [
    ['WEFT_LISTEN', ['listen'], String],
    ['WEFT_LISTEN_SOCKET', ['listenSocket'], String],
    ['WEFT_DATA_DIR', ['dataDir'], String],
    ['WEFT_STORE', ['store'], String],
    ['WEFT_ETCD_ENDPOINTS', ['etcd', 'endpoints'], list],
    ['WEFT_ETCD_PREFIX', ['etcd', 'prefix'], String],
    ['WEFT_ETCD_MAX_TXN_OPS', ['etcd', 'maxTxnOps'], Number],
    ['WEFT_ETCD_HISTORY_MINUTES', ['etcd', 'historyMinutes'], Number],
    ['WEFT_AUTH', ['auth'], String],
    ['WEFT_KEYSTONE_URL', ['keystone', 'url'], String],
    ['WEFT_KEYSTONE_USERNAME', ['keystone', 'username'], String],
    ['WEFT_KEYSTONE_PASSWORD', ['keystone', 'password'], String],
    ['WEFT_KEYSTONE_PROJECT', ['keystone', 'project'], String],
    ['WEFT_KEYSTONE_USER_DOMAIN', ['keystone', 'userDomain'], String],
    ['WEFT_KEYSTONE_PROJECT_DOMAIN', ['keystone', 'projectDomain'], String],
    ['WEFT_KEYSTONE_CACHE_SECONDS', ['keystone', 'cacheSeconds'], Number],
    ['WEFT_TOKENS_FILE', ['tokensFile'], String],
    ['WEFT_AGENT_TOKEN', ['agentToken'], String],
    ['WEFT_TENANT_NETWORK_TYPES', ['segments', 'tenantNetworkTypes'], list],
    ['WEFT_VNI_RANGES', ['segments', 'vniRanges'], list],
    ['WEFT_VLAN_RANGES', ['segments', 'vlanRanges'], list],
    ['WEFT_FLAT_NETWORKS', ['segments', 'flatNetworks'], list],
    ['WEFT_PHYSICAL_MTU', ['physicalMtu'], Number],
    ['WEFT_DNS_DOMAIN', ['dnsDomain'], String],
    ['WEFT_DHCP_LEASE_DURATION', ['dhcpLeaseDuration'], Number],
    ['WEFT_LOG_LEVEL', ['logLevel'], String],
    ['WEFT_AGENT_HEARTBEAT_INTERVAL', ['agentHeartbeatInterval'], Number],
    ['WEFT_AGENT_DOWN_TIME', ['agentDownTime'], Number],
    ['WEFT_AGENT_SEND_BUFFER_LIMIT', ['agentSendBufferLimit'], Number],
    ['WEFT_L3_HA', ['l3Ha'], flag],
    ['WEFT_PROXY_HEADERS', ['proxyHeaders'], flag],
    ['WEFT_MAX_L3_AGENTS_PER_ROUTER', ['maxL3AgentsPerRouter'], Number],
    ['WEFT_L3_FENCE_MS', ['l3FenceMs'], Number],
    ['WEFT_L3_FAILOVER_MARGIN_MS', ['l3FailoverMarginMs'], Number],
  ];
  for (const [name, path, parse] of vars) {
    const v = env[name];
    if (v !== undefined && v !== '') set(path, parse(v));
  }
  return out;
}

function merge(a: Record<string, any>, b: Record<string, any>): Record<string, any> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' ? merge(out[k], v) : v;
  }
  return out;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Load WEFT_CONFIG (default ./weft.json when present), then apply the environment. */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const file = env.WEFT_CONFIG ?? (existsSync('weft.json') ? 'weft.json' : undefined);
  let fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new ConfigError(`invalid configuration (${file}): expected a JSON object`);
    }
  }
  const parsed = ConfigSchema.safeParse(merge(merge(fromFile, fromEnv(env)), overrides));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration${file ? ` (${file} + environment)` : ''}:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  if (config.auth === 'keystone') {
    const k = config.keystone;
    const missing = (['url', 'username', 'password', 'project'] as const).filter((f) => !k[f]);
    if (missing.length) {
      const names = missing.map((m) => `keystone.${m} (WEFT_KEYSTONE_${m.toUpperCase()})`);
      throw new ConfigError(`invalid configuration: auth=keystone needs ${names.join(', ')}`);
    }
  }
  return { ...config, dataDir: resolve(config.dataDir) };
}

/** A config for tests: in-memory defaults, noauth unless said otherwise. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return ConfigSchema.parse({ auth: 'noauth', dataDir: '/nonexistent', logLevel: 'silent', ...overrides });
}
