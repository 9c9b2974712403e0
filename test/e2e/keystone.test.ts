import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeystone, type Keystone } from '../../lab/keystone.ts';
import { startController, type ControllerProcess } from '../helpers/controller-process.ts';

// Weft in keystone mode behind a real Keystone (Debian's python3-keystone), driven by the
// openstack CLI with password logins, as a cloud's users would: the commands that resolve
// projects by name through Keystone's API or find Weft through its catalog (quota list, network
// create --project), project isolation, and tokens Keystone has revoked.

const OPENSTACK = '/usr/bin/openstack';
const NEUTRON = '/usr/bin/neutron';

let keystone: Keystone;
let ctl: ControllerProcess;
let home: string;
const project: Record<string, string> = {};

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cloud = 'admin', bin = OPENSTACK): Promise<CliResult> {
  const env = { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', PYTHONWARNINGS: 'ignore', OS_CLIENT_CONFIG_FILE: join(home, 'clouds.yaml') };
  return new Promise((resolve) => {
    execFile(bin, ['--os-cloud', cloud, ...args], { env, timeout: 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0, stdout, stderr });
    });
  });
}

async function json(args: string[], cloud = 'admin'): Promise<any> {
  const r = await cli([...args, '-f', 'json'], cloud);
  if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} (${cloud}) exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout);
}

async function neutronCli(args: string[], cloud = 'admin'): Promise<any> {
  const r = await cli([...args, '-f', 'json'], cloud, NEUTRON);
  if (r.code !== 0) throw new Error(`neutron ${args.join(' ')} (${cloud}) exited ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function fails(args: string[], cloud = 'admin'): Promise<string> {
  const r = await cli(args, cloud);
  if (r.code === 0) throw new Error(`openstack ${args.join(' ')} (${cloud}) succeeded, expected a failure:\n${r.stdout}`);
  return r.stderr;
}

const ids = (rows: any[]) => rows.map((r) => r.ID ?? r.id);

beforeAll(async () => {
  expect(existsSync(OPENSTACK), 'python3-openstackclient is installed (scripts/system-deps.sh)').toBe(true);
  keystone = await startKeystone();
  const service = await keystone.createProject('service');
  await keystone.createUser('neutron', 'neutron-pw', service, 'admin');
  project.alice = await keystone.createProject('alice');
  project.bob = await keystone.createProject('bob');
  await keystone.createUser('alice', 'alice-pw', project.alice);
  await keystone.createUser('bob', 'bob-pw', project.bob);
  ctl = await startController({
    env: { WEFT_AUTH: 'keystone', WEFT_KEYSTONE_URL: keystone.url, WEFT_KEYSTONE_USERNAME: 'neutron', WEFT_KEYSTONE_PASSWORD: 'neutron-pw', WEFT_KEYSTONE_PROJECT: 'service' },
  });
  await keystone.registerService('network', 'neutron', ctl.url);
  home = join(ctl.dataDir, 'cli-home');
  mkdirSync(home, { recursive: true });
  const cloud = (user: string, password: string, projectName: string) =>
    `  ${user}:\n    auth:\n      auth_url: ${keystone.url}\n      username: ${user}\n      password: ${password}\n      project_name: ${projectName}\n` +
    '      user_domain_id: default\n      project_domain_id: default\n    region_name: RegionOne\n    identity_api_version: 3\n';
  writeFileSync(join(home, 'clouds.yaml'), `clouds:\n${cloud('admin', keystone.adminPassword, 'admin')}${cloud('alice', 'alice-pw', 'alice')}${cloud('bob', 'bob-pw', 'bob')}`);
}, 180_000);

afterAll(async () => {
  await ctl?.cleanup();
  await keystone?.cleanup();
  if (keystone) expect(existsSync(keystone.dir)).toBe(false);
});

describe('Weft behind a real Keystone, through the openstack CLI', { timeout: 180_000 }, () => {
  it('finds Weft through the catalog and creates a network for a project named through Keystone', async () => {
    const net = await json(['network', 'create', '--project', 'alice', 'alice-net']);
    expect(net.project_id).toBe(project.alice);
    expect(ids(await json(['network', 'list'], 'alice'))).toContain(net.id);
    expect(ids(await json(['network', 'list'], 'bob'))).not.toContain(net.id);
    expect(await fails(['network', 'show', net.id], 'bob')).toMatch(/No Network found/);
  });

  it('refuses --project for a project Keystone does not know', async () => {
    expect(await fails(['network', 'create', '--project', 'nobody-here', 'ghost-net'])).toMatch(/nobody-here/);
  });

  // `openstack quota show|set` (OSC 6.0) read Nova's and Cinder's catalog entries before anything
  // else and stop without them: on a catalog of Keystone and Weft alone, `quota list --network`
  // is the openstack command, and python-neutronclient's `quota-update` (same clouds.yaml) sets.
  it('sets and lists network quotas of projects resolved through Keystone', async () => {
    expect(await json(['quota', 'list', '--network'])).toEqual([]); // only projects off the defaults are listed
    const neutron = await neutronCli(['quota-update', '--tenant-id', project.alice, '--network', '2', '--port', '7']);
    expect(neutron).toMatchObject({ network: 2, port: 7, router: 10 });
    const listed = await json(['quota', 'list', '--network']);
    expect(listed).toEqual([expect.objectContaining({ 'Project ID': project.alice, Networks: 2, Ports: 7, Routers: 10 })]);
    expect(await json(['quota', 'list', '--network', '--project', 'alice'])).toEqual(listed);
    // The project's limit holds for its members: alice-net and one more, then 409.
    await json(['network', 'create', 'alice-second'], 'alice');
    expect(await fails(['network', 'create', 'alice-third'], 'alice')).toMatch(/[Qq]uota exceeded/);
  });

  it("keeps a member from setting another project's quota", async () => {
    await expect(neutronCli(['quota-update', '--tenant-id', project.bob, '--network', '50'], 'alice')).rejects.toThrow(/403|not authorized|disallowed|Forbidden/i);
    expect(await neutronCli(['quota-show', '--tenant-id', project.bob])).toMatchObject({ network: 100 });
  });

  it('refuses a token that Keystone has revoked', async () => {
    const token = await keystone.login('bob', 'bob-pw', 'bob');
    const before = await fetch(`${ctl.url}/v2.0/networks`, { headers: { 'x-auth-token': token } });
    expect(before.status).toBe(200);
    await fetch(`${keystone.url}/auth/tokens`, { method: 'DELETE', headers: { 'x-auth-token': await keystone.adminToken(), 'x-subject-token': token } });
    // A revocation reaches Weft when its cache of the validation ends (keystone.cacheSeconds);
    // a restarted controller has no cache and asks Keystone again.
    await ctl.restart();
    const after = await fetch(`${ctl.url}/v2.0/networks`, { headers: { 'x-auth-token': token } });
    expect(after.status).toBe(401);
    expect((await after.json()).NeutronError.type).toBe('HTTPUnauthorized');
  });
});
