// The controller's API as the CLI uses it: one request function whose failures are sentences a
// person can act on (controller down, token refused, no such port), and the lookups that let
// commands take a name or an address where the API wants an id.
import { CliError } from './args.ts';

export interface ApiAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export class ApiError extends CliError {
  constructor(message: string, readonly status: number) {
    super(message, 1);
    this.name = 'ApiError';
  }
}

export interface Client {
  readonly url: string;
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer<T>>;
  get<T = any>(path: string): Promise<T>;
}

/** Neutron's error body: {"NeutronError": {"type", "message", "detail"}}. */
function neutronMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text);
    return body?.NeutronError?.message ?? body?.message;
  } catch {
    return undefined;
  }
}

export function createClient(url: string, token: string | undefined, timeoutMs = 70_000): Client {
  const base = url.replace(/\/+$/, '');
  const request = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer<T>> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token ? { 'x-auth-token': token } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CliError(`cannot reach the controller at ${base} (${why}); is it running (npm start)? Set --url or WEFT_URL to reach another one`);
    }
    const text = await res.text();
    if (res.status === 401) {
      throw new ApiError(`the controller at ${base} refused the token (401 Unauthorized): pass --token or set OS_TOKEN to an admin token (the controller writes one to data/admin-token)`, 401);
    }
    if (res.status === 403) throw new ApiError(`${method} ${path}: not allowed with this token (403${neutronMessage(text) ? `: ${neutronMessage(text)}` : ''}); weft needs an admin token`, 403);
    if (!res.ok) throw new ApiError(`${method} ${path} failed: ${res.status} ${neutronMessage(text) ?? (text.trim() || res.statusText)}`, res.status);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`${method} ${path}: the answer is not JSON (is ${base} a Weft controller?)`);
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
  return { url: base, request, get: async (path) => (await request<any>('GET', path)).body };
}

export interface Port {
  id: string;
  name: string;
  network_id: string;
  mac_address: string;
  status: string;
  device_owner: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  'binding:host_id'?: string;
}

export interface Subnet {
  id: string;
  cidr: string;
  ip_version: 4 | 6;
  gateway_ip: string | null;
  enable_dhcp: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const q = encodeURIComponent;

/** A port by id or by name (a name must be unique). */
export async function findPort(client: Client, idOrName: string): Promise<Port> {
  if (UUID.test(idOrName)) {
    try {
      return (await client.get<{ port: Port }>(`/v2.0/ports/${q(idOrName)}`)).port;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
  }
  const { ports } = await client.get<{ ports: Port[] }>(`/v2.0/ports?name=${q(idOrName)}`);
  if (ports.length === 1) return ports[0]!;
  if (!ports.length) throw new CliError(`no port with id or name '${idOrName}'`);
  throw new CliError(`${ports.length} ports are named '${idOrName}' (${ports.map((p) => p.id).join(', ')}): give an id`);
}

export interface FloatingIp {
  id: string;
  floating_ip_address: string;
  floating_network_id: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
  status: string;
}

/** A floating IP by id or by its address. */
export async function findFloatingIp(client: Client, idOrAddress: string): Promise<FloatingIp> {
  if (UUID.test(idOrAddress)) {
    try {
      return (await client.get<{ floatingip: FloatingIp }>(`/v2.0/floatingips/${q(idOrAddress)}`)).floatingip;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
  }
  const { floatingips } = await client.get<{ floatingips: FloatingIp[] }>(`/v2.0/floatingips?floating_ip_address=${q(idOrAddress)}`);
  if (floatingips.length) return floatingips[0]!;
  throw new CliError(`no floating IP with id or address '${idOrAddress}'`);
}

export async function getSubnet(client: Client, id: string): Promise<Subnet> {
  return (await client.get<{ subnet: Subnet }>(`/v2.0/subnets/${q(id)}`)).subnet;
}
