import { describe, expect, it } from 'vitest';
import { checkIfName, checkNetnsName } from '../../../agent/host/netns.ts';
import { ensureOpenvswitchInstalled } from '../../../agent/host/packages.ts';
import type { RunResult } from '../../../agent/host/exec.ts';

describe('ensureOpenvswitchInstalled', () => {
  it('does nothing when everything is there', async () => {
    const calls: string[] = [];
    const r = await ensureOpenvswitchInstalled({ findMissing: () => [], runner: async (c, a) => (calls.push([c, ...a].join(' ')), ok('')) });
    expect(r).toEqual({ installed: false, missing: [] });
    expect(calls).toEqual([]);
  });

  it('refuses to install when not root', async () => {
    await expect(ensureOpenvswitchInstalled({ findMissing: () => ['ovs-vswitchd'], isRoot: false, log: () => {} })).rejects.toThrow(/not installed/);
  });

  it('runs apt-get update only when the package is unknown, then installs', async () => {
    const calls: string[] = [];
    let missing = ['ovs-vswitchd'];
    const logs: string[] = [];
    const r = await ensureOpenvswitchInstalled({
      isRoot: true,
      log: (l) => logs.push(l),
      findMissing: () => missing,
      runner: async (c, a) => {
        calls.push([c, ...a].join(' '));
        if (c === 'apt-cache') return { code: 100, stdout: '', stderr: 'E: No packages found' };
        if (a[0] === 'install') missing = [];
        return ok('');
      },
    });
    expect(r).toEqual({ installed: true, missing: ['ovs-vswitchd'] });
    expect(calls).toEqual(['apt-cache show openvswitch-switch', 'apt-get update', 'apt-get install -y --no-install-recommends openvswitch-switch']);
    expect(logs.join('\n')).toMatch(/apt-get install/);
  });
});

describe('name checks', () => {
  it('enforces IFNAMSIZ', () => {
    expect(checkIfName('a'.repeat(15))).toBe('a'.repeat(15));
    expect(() => checkIfName('a'.repeat(16))).toThrow(/1\.\.15/);
    expect(() => checkIfName('')).toThrow();
    expect(() => checkIfName('a/b')).toThrow();
    expect(() => checkIfName('a b')).toThrow();
    expect(() => checkNetnsName('../x')).toThrow();
    expect(checkNetnsName('wtabc123h1')).toBe('wtabc123h1');
  });
});

function ok(stdout: string): RunResult {
  return { code: 0, stdout, stderr: '' };
}
