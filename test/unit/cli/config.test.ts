import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, controllerUrl, labDir, switchTarget } from '../../../cli/config.ts';
import { writeLabState } from '../../../cli/lab-state.ts';
import { parseVsctlRows } from '../../../lab/vm.ts';

// Where the CLI's settings come from: flag, then environment, then files and defaults.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-cli-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('controller and tokens', () => {
  it('--url, else WEFT_URL, else the local controller', () => {
    expect(controllerUrl({ url: 'http://a:1/' }, { WEFT_URL: 'http://b:2' })).toBe('http://a:1');
    expect(controllerUrl({}, { WEFT_URL: 'http://b:2' })).toBe('http://b:2');
    expect(controllerUrl({}, { WEFT_URL: '' })).toBe('http://127.0.0.1:9696');
    expect(() => controllerUrl({ url: 'b:2' }, {})).toThrow(/--url must be http\(s\):\/\/HOST:PORT/);
  });

  it('--token, else OS_TOKEN, else the data folder the controller wrote (WEFT_DATA_DIR or ./data)', () => {
    const cwd = join(dir, 'work');
    mkdirSync(join(cwd, 'data'), { recursive: true });
    writeFileSync(join(cwd, 'data', 'admin-token'), 'from-cwd\n');
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'elsewhere', 'admin-token'), 'from-data-dir\n');
    expect(adminToken({ token: 'flag' }, { OS_TOKEN: 'env' }, cwd)).toBe('flag');
    expect(adminToken({}, { OS_TOKEN: 'env' }, cwd)).toBe('env');
    expect(adminToken({}, {}, cwd)).toBe('from-cwd');
    expect(adminToken({}, { WEFT_DATA_DIR: join(dir, 'elsewhere') }, cwd)).toBe('from-data-dir');
    expect(adminToken({}, {}, dir)).toBeUndefined();
  });

  it('the lab folder: --lab-dir, WEFT_LAB_DIR, /tmp/weft-lab', () => {
    expect(labDir({ 'lab-dir': '/x' }, { WEFT_LAB_DIR: '/y' })).toBe('/x');
    expect(labDir({}, { WEFT_LAB_DIR: '/y' })).toBe('/y');
    expect(labDir({}, {})).toBe('/tmp/weft-lab');
  });
});

describe('switchTarget', () => {
  it("by default the agent's private switch: WEFT_RUN_DIR, else the all-in-one's, else /tmp/weft-<WEFT_HOST>; its host is this machine's agent", () => {
    expect(switchTarget({}, { WEFT_RUN_DIR: '/tmp/r1' })).toEqual({
      ovsdb: 'unix:/tmp/r1/db.sock', appctl: { target: '/tmp/r1/ovs-vswitchd.ctl', rundir: '/tmp/r1' }, host: undefined, unboundHost: hostname(),
    });
    mkdirSync(join(dir, 'aio', 'agent'), { recursive: true });
    writeFileSync(join(dir, 'aio', 'agent', 'db.sock'), '');
    expect(switchTarget({}, { WEFT_DATA_DIR: join(dir, 'aio') }).ovsdb).toBe(`unix:${join(dir, 'aio', 'agent', 'db.sock')}`);
    expect(switchTarget({ 'host-netns': 'ns1' }, { WEFT_HOST: 'hv7' })).toMatchObject({ ovsdb: 'unix:/tmp/weft-hv7/db.sock', host: 'hv7', hostNetns: 'ns1' });
  });

  it('an existing Open vSwitch: --ovsdb or WEFT_OVSDB; its vswitchd beside the socket, or by pid file', () => {
    writeFileSync(join(dir, 'ovs-vswitchd.ctl'), '');
    expect(switchTarget({ ovsdb: `unix:${dir}/db.sock` }, { WEFT_OVSDB: 'unix:/ignored' }).appctl).toEqual({ target: join(dir, 'ovs-vswitchd.ctl'), rundir: dir });
    expect(switchTarget({}, { WEFT_OVSDB: 'unix:/run/openvswitch/db.sock' }).appctl).toEqual({ target: 'ovs-vswitchd', rundir: '/run/openvswitch' });
    expect(() => switchTarget({ ovsdb: '/run/db.sock' }, {})).toThrow(/--ovsdb must be unix:PATH or tcp:HOST:PORT/);
  });

  it("a lab host's switch and namespace, from the lab's state file", () => {
    const lab = join(dir, 'lab');
    mkdirSync(lab);
    writeLabState(lab, { prefix: 'wl00aa', hosts: ['h1', 'h2'], provider: false, runRoot: lab, controllerUrl: 'http://x:1', relayPid: undefined, agents: {}, createdAt: '' });
    expect(switchTarget({ 'lab-host': 'h2', 'lab-dir': lab }, {})).toMatchObject({
      ovsdb: `unix:${lab}/h2/db.sock`, hostNetns: 'wl00aa-h2', host: 'h2', appctl: { target: `${lab}/h2/ovs-vswitchd.ctl` }, lab: { host: 'h2' },
    });
    expect(() => switchTarget({ 'lab-host': 'h9', 'lab-dir': lab }, {})).toThrow(/has no host 'h9' \(hosts: h1, h2\)/);
    expect(() => switchTarget({ 'lab-host': 'h1', 'lab-dir': join(dir, 'none') }, {})).toThrow(/no lab in .*none .*run weft lab up/);
  });
});

describe('parseVsctlRows', () => {
  it('decodes OVSDB maps, sets and uuids of `ovs-vsctl --format=json list`', () => {
    const text = JSON.stringify({
      headings: ['name', 'ofport', 'options', 'external_ids', '_uuid'],
      data: [
        ['tap1', 3, ['map', []], ['map', [['iface-id', 'p1'], ['vm-id', 'ns1']]], ['uuid', 'u1']],
        ['vxlan0', ['set', []], ['map', [['remote_ip', 'flow']]], ['map', []], ['uuid', 'u2']],
      ],
    });
    expect(parseVsctlRows(text)).toEqual([
      { name: 'tap1', ofport: 3, options: {}, external_ids: { 'iface-id': 'p1', 'vm-id': 'ns1' }, _uuid: 'u1' },
      { name: 'vxlan0', ofport: undefined, options: { remote_ip: 'flow' }, external_ids: {}, _uuid: 'u2' },
    ]);
  });
});
