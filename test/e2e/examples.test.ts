// examples/*.sh, one story each, run as a user runs them: against one all-in-one (`npm start`, in a
// network namespace of this test: test/helpers/all-in-one.ts) with the quick start's environment,
// one after the other. Each must end with its `OK:` line and leave
// the model and the machine as it found them (its trap removes what it made).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNetns } from '../../agent/host/netns.ts';
import { allInOne, REPO } from '../helpers/all-in-one.ts';

const aio = allInOne({ name: 'ex' });

async function example(name: string) {
  const r = await aio.inNs(['bash', join(REPO, 'examples', `${name}.sh`)], {
    timeoutMs: 150_000,
    env: { ...aio.quickStartEnv(), WEFT_EXAMPLE_PREFIX: aio.netns },
  });
  return { ...r, why: `exit code ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}` };
}

/** Every resource id the API lists, by collection: what the scripts must leave as they found it. */
async function model(): Promise<Record<string, string[]>> {
  const collections = ['networks', 'subnets', 'ports', 'routers', 'floatingips', 'security-groups', 'security-group-rules',
    'fwaas/firewall_groups', 'fwaas/firewall_policies', 'fwaas/firewall_rules'];
  const script = collections
    .map((c) => `curl -sS --fail-with-body -H "X-Auth-Token: $OS_TOKEN" "$OS_ENDPOINT/v2.0/${c}" | jq -c '{"${c}": [.[keys[0]][].id] | sort}'`)
    .join(' && ');
  const r = await aio.inNs(['bash', '-o', 'pipefail', '-c', script], { env: aio.quickStartEnv() });
  if (r.code !== 0) throw new Error(`listing the model: ${r.stderr}`);
  return Object.assign({}, ...r.stdout.trim().split('\n').map((l) => JSON.parse(l)));
}

/** The run's VM and router namespaces that are still there (router namespaces go a moment after their router). */
async function namespacesLeft(): Promise<string[]> {
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = (await listNetns(aio.netns)).filter((ns) => ns !== aio.netns);
    if (!left.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return left;
}

let before: Record<string, string[]>;

beforeAll(async () => {
  await aio.start();
  before = await model();
}, 120_000);
afterAll(() => aio.cleanup(), 60_000);

describe('examples/ against one all-in-one', () => {
  it('isolated-tenants.sh: the same subnet in two projects, each reaching only its own VMs', async () => {
    const r = await example('isolated-tenants');
    expect(r.code, r.why).toBe(0);
    expect(r.stdout, r.why).toMatch(/^OK: isolated tenants/m);
    expect(r.stdout).toContain('alice1 -> 10.0.0.12: answered');
    expect(r.stdout).toContain('bob1 -> 10.0.0.13: answered');
    expect(r.stdout).toContain('alice1 -> 10.0.0.13: no answer');
    expect(r.stdout).toContain('bob2 -> 10.0.0.12: no answer');
    expect(await model()).toEqual(before);
    expect(await namespacesLeft()).toEqual([]);
  }, 180_000);

  it('floating-ip-failover.sh: the floating IP answers from the second VM after weft fip move, probes counted', async () => {
    const r = await example('floating-ip-failover');
    expect(r.code, r.why).toBe(0);
    expect(r.stdout, r.why).toMatch(/^OK: floating IP failover/m);
    const fip = /^\s+(172\.24\.4\.\d+):7000 says: fo-a$/m.exec(r.stdout)?.[1];
    expect(fip, r.why).toBeDefined();
    expect(r.stdout).toMatch(/moved 172\.24\.4\.\d+ to port fo-b .*: applied by the dataplane/);
    // fo-a answered before the move, fo-b after it.
    expect(r.stdout.indexOf(`${fip}:7000 says: fo-b`)).toBeGreaterThan(r.stdout.indexOf(`${fip}:7000 says: fo-a`));
    const [, lost, sent] = /probes lost during the failover: (\d+) of (\d+)/.exec(r.stdout) ?? [];
    expect(Number(sent), r.why).toBeGreaterThan(10);
    expect(Number(lost), r.why).toBeLessThanOrEqual(5); // one remap: at most a second of 0.2 s probes
    expect(await model()).toEqual(before);
    expect(await namespacesLeft()).toEqual([]);
  }, 180_000);

  it('router-firewall-nat.sh: SNAT, a port forwarding, and a router firewall that blocks it and then allows it', async () => {
    const r = await example('router-firewall-nat');
    expect(r.code, r.why).toBe(0);
    expect(r.stdout, r.why).toMatch(/^OK: router with SNAT, a port forwarding and a firewall/m);
    const gateway = /gateway (172\.24\.4\.\d+) on public \(SNAT on\)/.exec(r.stdout)?.[1];
    expect(gateway, r.why).toBeDefined();
    expect(r.stdout).toContain(`this machine saw the VM's connection come from ${gateway}`);
    const forwarded = r.stdout.search(/:2222 says: nat-vm/);
    const blocked = r.stdout.search(/:2222 says nothing now/);
    const allowed = r.stdout.lastIndexOf(':2222 says: nat-vm');
    expect(forwarded, r.why).toBeGreaterThan(0);
    expect(blocked, r.why).toBeGreaterThan(forwarded);
    expect(allowed, r.why).toBeGreaterThan(blocked);
    expect(r.stdout).toContain('-> 172.24.4.1: still answered');
    expect(await model()).toEqual(before);
    expect(await namespacesLeft()).toEqual([]);
  }, 180_000);
});
