import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ConfigSchema, loadConfig, testConfig } from '../../controller/config.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'weft-config-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const file = (content: unknown) => {
  const path = join(dir, 'weft.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
/** The ConfigError message loadConfig throws (fails the test if it does not throw one). */
const failure = (env: Record<string, string>, overrides = {}) => {
  try {
    loadConfig(env, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('has defaults', () => {
    const c = loadConfig({ WEFT_CONFIG: file({}) });
    expect(c).toMatchObject({
      listen: '127.0.0.1:9696', auth: 'token', physicalMtu: 1500, dnsDomain: 'openstacklocal.', baseMac: 'fa:16:3e', logLevel: 'info',
      segments: { tenantNetworkTypes: ['vxlan'], vniRanges: ['1000:65535'], vlanRanges: ['physnet1:100:199'], flatNetworks: ['*'] },
      keystone: { userDomain: 'Default', projectDomain: 'Default', cacheSeconds: 300 },
    });
    expect(isAbsolute(c.dataDir)).toBe(true);
    expect(c.dataDir.endsWith('data')).toBe(true);
    expect(ConfigSchema.parse({})).toMatchObject({ auth: 'token', listen: '127.0.0.1:9696' });
  });

  it('applies the file, then the environment, then explicit overrides', () => {
    const path = file({ listen: '0.0.0.0:9000', physicalMtu: 9000, logLevel: 'warn', segments: { vniRanges: ['5:10'], flatNetworks: ['ext'] }, dataDir: dir });
    const fromFile = loadConfig({ WEFT_CONFIG: path });
    expect(fromFile).toMatchObject({ listen: '0.0.0.0:9000', physicalMtu: 9000, logLevel: 'warn', dataDir: dir });
    // Nested objects merge: the file's vniRanges stays, the default tenant types remain.
    expect(fromFile.segments).toMatchObject({ vniRanges: ['5:10'], flatNetworks: ['ext'], tenantNetworkTypes: ['vxlan'] });

    const withEnv = loadConfig({ WEFT_CONFIG: path, WEFT_PHYSICAL_MTU: '1600', WEFT_VNI_RANGES: '1:2, 7:9', WEFT_LOG_LEVEL: '' });
    expect(withEnv.physicalMtu).toBe(1600);
    expect(withEnv.segments.vniRanges).toEqual(['1:2', '7:9']);
    expect(withEnv.segments.flatNetworks).toEqual(['ext']);
    expect(withEnv.logLevel).toBe('warn'); // an empty variable does not override
    expect(withEnv.listen).toBe('0.0.0.0:9000');

    const overridden = loadConfig({ WEFT_CONFIG: path, WEFT_PHYSICAL_MTU: '1600' }, { physicalMtu: 1400 });
    expect(overridden.physicalMtu).toBe(1400);
  });

  it('names the field of an invalid value', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ WEFT_PHYSICAL_MTU: 'big' }, 'physicalMtu'],
      [{ WEFT_PHYSICAL_MTU: '100' }, 'physicalMtu'],
      [{ WEFT_AUTH: 'password' }, 'auth'],
      [{ WEFT_LISTEN: 'localhost' }, 'listen'],
      [{ WEFT_TENANT_NETWORK_TYPES: 'gre' }, 'segments.tenantNetworkTypes'],
      [{ WEFT_VNI_RANGES: '10-20' }, 'segments.vniRanges'],
      [{ WEFT_VNI_RANGES: '1:99999999' }, 'segments.vniRanges'],
      [{ WEFT_VLAN_RANGES: 'physnet1:1:5000' }, 'segments.vlanRanges'],
      [{ WEFT_TENANT_NETWORK_TYPES: 'vlan', WEFT_VLAN_RANGES: 'physnet1' }, 'segments.vlanRanges'],
      [{ WEFT_KEYSTONE_CACHE_SECONDS: '-1' }, 'keystone.cacheSeconds'],
    ];
    for (const [env, field] of cases) {
      expect(failure({ WEFT_CONFIG: file({}), ...env }), JSON.stringify(env)).toContain(field);
    }
    expect(failure({ WEFT_CONFIG: file({ colour: 'red' }) })).toContain('colour');
    expect(failure({ WEFT_CONFIG: file({ segments: { vniRange: ['1:2'] } }) })).toContain('vniRange');
    expect(failure({ WEFT_CONFIG: file({ baseMac: 'FA:16:3E' }) })).toContain('baseMac');
  });

  it('reports an unreadable or malformed file', () => {
    expect(failure({ WEFT_CONFIG: join(dir, 'missing.json') })).toContain('missing.json');
    expect(failure({ WEFT_CONFIG: file('{ "listen": ') })).toContain('weft.json');
    expect(failure({ WEFT_CONFIG: file('[1, 2]') })).toContain('JSON object');
  });

  it('needs Keystone credentials in keystone mode', () => {
    const message = failure({ WEFT_CONFIG: file({}), WEFT_AUTH: 'keystone', WEFT_KEYSTONE_URL: 'http://keystone:5000/v3' });
    expect(message).toContain('keystone.username');
    expect(message).toContain('keystone.password');
    expect(message).toContain('WEFT_KEYSTONE_PROJECT');
    expect(message).not.toContain('keystone.url');
    expect(failure({ WEFT_CONFIG: file({}), WEFT_AUTH: 'keystone', WEFT_KEYSTONE_URL: 'not a url' })).toContain('keystone.url');

    const ok = loadConfig({
      WEFT_CONFIG: file({ auth: 'keystone', keystone: { url: 'http://keystone:5000/v3', username: 'weft', project: 'service' } }),
      WEFT_KEYSTONE_PASSWORD: 'secret',
      WEFT_KEYSTONE_USER_DOMAIN: 'users',
      WEFT_KEYSTONE_CACHE_SECONDS: '60',
    });
    expect(ok.keystone).toMatchObject({ url: 'http://keystone:5000/v3', username: 'weft', password: 'secret', userDomain: 'users', projectDomain: 'Default', cacheSeconds: 60 });
  });

  it('takes a unix socket to listen on as well (a path the kernel accepts)', () => {
    expect(loadConfig({ WEFT_CONFIG: file({}), WEFT_LISTEN_SOCKET: '/run/weft/controller.sock' }).listenSocket).toBe('/run/weft/controller.sock');
    expect(loadConfig({ WEFT_CONFIG: file({}) }).listenSocket).toBeUndefined();
    expect(failure({ WEFT_CONFIG: file({}), WEFT_LISTEN_SOCKET: `/${'x'.repeat(120)}` })).toMatch(/listenSocket.*107 bytes/);
  });

  it('gives tests a quiet noauth config', () => {
    expect(testConfig()).toMatchObject({ auth: 'noauth', logLevel: 'silent' });
    expect(testConfig({ physicalMtu: 9000 }).physicalMtu).toBe(9000);
  });
});
