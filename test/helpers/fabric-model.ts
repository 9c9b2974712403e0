// Model shortcuts for fabric tests: networks, subnets and ports through the admin API, and
// plugging a port into a lab host the way Nova or a CNI plugin would.
import type { Fabric } from './fabric.ts';
import type { LabVm } from '../../lab/lab.ts';

export interface Port {
  id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  status: string;
  security_groups: string[];
}

export async function network(f: Fabric, project: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { network: n } = await f.api('POST', '/v2.0/networks', { network: { name: `net-${project}`, project_id: project, ...extra } });
  return n.id;
}

export async function subnet(f: Fabric, project: string, networkId: string, cidr: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { subnet: s } = await f.api('POST', '/v2.0/subnets', {
    subnet: { network_id: networkId, project_id: project, cidr, ip_version: cidr.includes(':') ? 6 : 4, enable_dhcp: false, ...extra },
  });
  return s.id;
}

export async function port(f: Fabric, project: string, networkId: string, host: string, extra: Record<string, unknown> = {}): Promise<Port> {
  const { port: p } = await f.api('POST', '/v2.0/ports', {
    port: { network_id: networkId, project_id: project, 'binding:host_id': host, ...extra },
  });
  return p;
}

export async function portStatus(f: Fabric, id: string): Promise<string> {
  const { port: p } = await f.api('GET', `/v2.0/ports/${id}`);
  return p.status;
}

/** Plugs the port into `host` as VM `name` with its first fixed IP, and waits until it is ACTIVE. */
export async function plug(f: Fabric, host: string, p: Port, name: string, prefixLen = 24): Promise<LabVm> {
  const vm = await f.lab.plug(host, { name, portId: p.id, mac: p.mac_address, ip: `${p.fixed_ips[0].ip_address}/${prefixLen}` });
  await f.until(`port ${name} ACTIVE`, async () => (await portStatus(f, p.id)) === 'ACTIVE');
  return vm;
}

/** True when one ping gets an answer (2 s budget for the first packet over a new tunnel). */
export async function pings(vm: LabVm, ip: string, count = 1): Promise<boolean> {
  const r = await vm.exec(['ping', '-c', String(count), '-W', '2', '-i', '0.2', ip]);
  return r.code === 0;
}

/** Polls until the ping result is `want` (flows take effect asynchronously after an API call). */
export async function expectPing(f: Fabric, vm: LabVm, ip: string, want: boolean): Promise<void> {
  if (want) {
    await f.until(`ping ${ip} from ${vm.name} to pass`, async () => pings(vm, ip), 15000);
  } else {
    // A negative needs its own proof that the dataplane caught up: callers wait for the change first.
    const ok = await pings(vm, ip, 2);
    if (ok) throw new Error(`ping ${ip} from ${vm.name} passed but must not`);
  }
}
