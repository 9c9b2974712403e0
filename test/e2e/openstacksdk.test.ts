import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalancer, type Balancer } from '../../lab/balancer.ts';
import { startEtcdCluster, type EtcdCluster } from '../../lab/etcd.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// A second real client: openstacksdk (Debian's python3-openstacksdk, for the system python)
// used directly from Python, as scripts, Ansible modules and other tools use it, against a real
// controller process with static tokens and no Keystone. test/e2e/openstacksdk-scenario.py does
// the README's quick start through the SDK's network proxy (conn.network.*), with the errors the
// SDK must parse, and checks every answer itself; here we run it, require its exit code 0 and its
// OK line, and check from outside that it left the model as it found it. Then the same against two
// replicas on etcd behind a round-robin balancer, so that nearly every read follows a write made
// on the other replica.
// WEFT_E2E_DEBUG=1 adds --debug: a failure then shows every HTTP request and answer.

const PYTHON = '/usr/bin/python3';
const SCENARIO = fileURLToPath(new URL('./openstacksdk-scenario.py', import.meta.url));
const MEMBER_TOKEN = 'sdk-member-token-0123456789abcdef';
const MEMBER_PROJECT = '5e1f0c0ffee0000000000000000000bb';
const PREFIX = 'sdk-e2e-';

let ctl: ControllerProcess;
const member = { token: MEMBER_TOKEN, project_id: MEMBER_PROJECT, roles: ['member'], user_id: 'carol' };

interface Run { code: number; stdout: string; stderr: string }

/**
 * The scenario through `endpoint`, with `owner`'s tokens (its dataDir), in a clean environment (no
 * OS_*, no clouds.yaml of this machine's user).
 */
function scenario(endpoint: string, owner: ControllerProcess): Promise<Run> {
  const home = join(owner.dataDir, 'sdk-home');
  mkdirSync(home, { recursive: true });
  const args = [SCENARIO, '--endpoint', endpoint, '--data-dir', owner.dataDir, '--prefix', PREFIX, ...(process.env.WEFT_E2E_DEBUG ? ['--debug'] : [])];
  const env = { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  return new Promise((resolve) => {
    execFile(PYTHON, args, { env, timeout: 150_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every resource the admin sees on `replica`, by collection, as `name id` (sorted). */
async function model(replica: ControllerProcess): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const c of ['networks', 'subnets', 'ports', 'routers', 'floatingips', 'security-groups']) {
    const res = await fetch(`${replica.url}/v2.0/${c}`, { headers: { 'X-Auth-Token': replica.adminToken } });
    expect(res.status, `GET /v2.0/${c}`).toBe(200);
    const body = (await res.json()) as Record<string, Array<{ id: string; name?: string }>>;
    out[c] = body[c.replace('-', '_')].map((r) => `${r.name ?? ''} ${r.id}`).sort();
  }
  return out;
}

beforeAll(async () => {
  expect(existsSync(PYTHON), 'the system python').toBe(true);
  expect(() => execFileSync(PYTHON, ['-c', 'import openstack'], { stdio: 'pipe' }), 'python3-openstacksdk is installed (scripts/system-deps.sh)').not.toThrow();
  ctl = await startController({ tokens: [member] });
}, 60_000);

afterAll(async () => {
  await ctl?.cleanup();
  if (ctl) expect(existsSync(ctl.dataDir)).toBe(false);
});

/** Runs the scenario through `endpoint` and checks that it passed and left `replica`'s model as it was. */
async function expectCleanScenario(endpoint: string, replica: ControllerProcess, logs: () => string): Promise<void> {
  const before = await model(replica);
  const r = await scenario(endpoint, replica);
  const why = `${PYTHON} ${SCENARIO} exited ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- controller ---\n${logs()}`;
  expect(r.code, why).toBe(0);
  expect(r.stdout, why).toMatch(/^OK: openstacksdk scenario$/m);
  expect(r.stdout, why).not.toMatch(/SKIP|FAIL/); // the member's steps ran too
  const after = await model(replica);
  // What may stay: the default security groups the first request of each project made.
  const withoutDefaults = (m: Record<string, string[]>) => ({ ...m, 'security-groups': m['security-groups'].filter((g) => !g.startsWith('default ')) });
  expect(withoutDefaults(after)).toEqual(withoutDefaults(before));
  expect(Object.values(after).flat().filter((x) => x.startsWith(PREFIX))).toEqual([]);
}

describe('openstacksdk against a Weft controller (static tokens, no Keystone)', () => {
  it('runs the quick start through conn.network.*, with Neutron errors as the SDK parses them, and leaves nothing behind', async () => {
    await expectCleanScenario(ctl.url, ctl, () => ctl.output());
  }, 180_000);
});

describe('openstacksdk against two replicas on etcd behind a round-robin balancer', () => {
  let cluster: EtcdCluster | undefined;
  let first: ControllerProcess | undefined;
  let second: ControllerProcess | undefined;
  let balancer: Balancer | undefined;
  beforeAll(async () => {
    cluster = await startEtcdCluster();
    const env = { WEFT_STORE: 'etcd', WEFT_ETCD_ENDPOINTS: cluster.endpoints.join(','), WEFT_PROXY_HEADERS: 'true' };
    // The first replica shares its tokens (the member's among them) through etcd; the second takes them.
    first = await startController({ tokens: [member], env });
    second = await startController({ controllerMakesTokens: true, env });
    balancer = await startBalancer([first.url, second.url]);
  }, 90_000);
  afterAll(async () => {
    await balancer?.close();
    await second?.cleanup();
    await first?.cleanup();
    await cluster?.cleanup();
  }, 60_000);

  it('runs the same scenario, every request to the next replica', async () => {
    await expectCleanScenario(balancer!.url, first!, () => `${first!.output()}\n--- second replica ---\n${second!.output()}`);
    // Both replicas answered about half of it.
    const [a, b] = balancer!.counts;
    expect(Math.abs(a - b)).toBeLessThanOrEqual(1);
    expect(a + b).toBeGreaterThan(50);
  }, 180_000);
});
