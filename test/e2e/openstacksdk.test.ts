import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// A second real client: openstacksdk (Debian's python3-openstacksdk, for the system python)
// used directly from Python, as scripts, Ansible modules and other tools use it, against a real
// controller process with static tokens and no Keystone. test/e2e/openstacksdk-scenario.py does
// the README's quick start through the SDK's network proxy (conn.network.*), with the errors the
// SDK must parse, and checks every answer itself; here we run it, require its exit code 0 and its
// OK line, and check from outside that it left the model as it found it.
// WEFT_E2E_DEBUG=1 adds --debug: a failure then shows every HTTP request and answer.

const PYTHON = '/usr/bin/python3';
const SCENARIO = fileURLToPath(new URL('./openstacksdk-scenario.py', import.meta.url));
const MEMBER_TOKEN = 'sdk-member-token-0123456789abcdef';
const MEMBER_PROJECT = '5e1f0c0ffee0000000000000000000bb';
const PREFIX = 'sdk-e2e-';

let ctl: ControllerProcess;

interface Run { code: number; stdout: string; stderr: string }

/** The scenario, with a clean environment (no OS_*, no clouds.yaml of this machine's user). */
function scenario(): Promise<Run> {
  const home = join(ctl.dataDir, 'sdk-home');
  mkdirSync(home, { recursive: true });
  const args = [SCENARIO, '--endpoint', ctl.url, '--data-dir', ctl.dataDir, '--prefix', PREFIX, ...(process.env.WEFT_E2E_DEBUG ? ['--debug'] : [])];
  const env = { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  return new Promise((resolve) => {
    execFile(PYTHON, args, { env, timeout: 150_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every resource the admin sees, by collection, as `name id` (sorted). */
async function model(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const c of ['networks', 'subnets', 'ports', 'routers', 'floatingips', 'security-groups']) {
    const res = await fetch(`${ctl.url}/v2.0/${c}`, { headers: { 'X-Auth-Token': ctl.adminToken } });
    expect(res.status, `GET /v2.0/${c}`).toBe(200);
    const body = (await res.json()) as Record<string, Array<{ id: string; name?: string }>>;
    out[c] = body[c.replace('-', '_')].map((r) => `${r.name ?? ''} ${r.id}`).sort();
  }
  return out;
}

beforeAll(async () => {
  expect(existsSync(PYTHON), 'the system python').toBe(true);
  expect(() => execFileSync(PYTHON, ['-c', 'import openstack'], { stdio: 'pipe' }), 'python3-openstacksdk is installed (scripts/system-deps.sh)').not.toThrow();
  ctl = await startController({ tokens: [{ token: MEMBER_TOKEN, project_id: MEMBER_PROJECT, roles: ['member'], user_id: 'carol' }] });
}, 60_000);

afterAll(async () => {
  await ctl?.cleanup();
  if (ctl) expect(existsSync(ctl.dataDir)).toBe(false);
});

describe('openstacksdk against a Weft controller (static tokens, no Keystone)', () => {
  it('runs the quick start through conn.network.*, with Neutron errors as the SDK parses them, and leaves nothing behind', async () => {
    const before = await model();
    const r = await scenario();
    const why = `${PYTHON} ${SCENARIO} exited ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- controller ---\n${ctl.output()}`;
    expect(r.code, why).toBe(0);
    expect(r.stdout, why).toMatch(/^OK: openstacksdk scenario$/m);
    expect(r.stdout, why).not.toMatch(/SKIP|FAIL/); // the member's steps ran too
    const after = await model();
    // What may stay: the default security groups the first request of each project made.
    const withoutDefaults = (m: Record<string, string[]>) => ({ ...m, 'security-groups': m['security-groups'].filter((g) => !g.startsWith('default ')) });
    expect(withoutDefaults(after)).toEqual(withoutDefaults(before));
    expect(Object.values(after).flat().filter((x) => x.startsWith(PREFIX))).toEqual([]);
  }, 180_000);
});
