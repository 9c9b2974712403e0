import { describe, expect, it } from 'vitest';
import { agentLag, formatDuration, formatStatus, table, type StatusReport } from '../../../cli/format.ts';

describe('table', () => {
  it('pads columns to their widest cell and prints empty cells as -', () => {
    expect(table(['HOST', 'ALIVE', 'LAG'], [['h1', 'yes', 0], ['host-two', 'NO', null]])).toEqual([
      'HOST      ALIVE  LAG',
      'h1        yes    0',
      'host-two  NO     -',
    ]);
  });
});

describe('status report', () => {
  const report: StatusReport = {
    controller: 'http://127.0.0.1:9696',
    revision: 42,
    agents: [
      { id: 'a1', host: 'h1', alive: true, admin_state_up: true, applied_revision: 42, lag: 0, heartbeat_timestamp: '2025-01-01 00:00:00' },
      { id: 'a2', host: 'h2', alive: false, admin_state_up: true, applied_revision: 30, lag: null, heartbeat_timestamp: '2025-01-01 00:00:00' },
    ],
    ports_not_active: [{ id: 'p1', name: 'web', status: 'DOWN', host: 'h2', device_owner: 'compute:nova' }],
  };

  it('lag is the controller revision minus the applied one, unknown when either is', () => {
    expect([agentLag(42, 40), agentLag(42, 42), agentLag(null, 4), agentLag(42, null), agentLag(3, 5)]).toEqual([2, 0, null, null, 0]);
  });

  it('prints agents and the ports that are not ACTIVE', () => {
    expect(formatStatus(report)).toBe([
      'controller http://127.0.0.1:9696, revision 42',
      '',
      'agents: 2 (1 alive)',
      '  HOST  ALIVE  APPLIED  LAG  HEARTBEAT            ID',
      '  h1    yes    42       0    2025-01-01 00:00:00  a1',
      '  h2    NO     30       -    2025-01-01 00:00:00  a2',
      '',
      'ports not ACTIVE: 1',
      '  ID  NAME  STATUS  HOST  OWNER',
      '  p1  web   DOWN    h2    compute:nova',
    ].join('\n'));
  });

  it('says when there is nothing to list, and when the revision is unknown', () => {
    expect(formatStatus({ ...report, revision: null, agents: [], ports_not_active: [] })).toBe(
      'controller http://127.0.0.1:9696, revision unknown\n\nagents: 0 (0 alive)\n\nports not ACTIVE: 0');
  });
});

describe('formatDuration', () => {
  it('milliseconds under a second, seconds above', () => {
    expect([formatDuration(12.4), formatDuration(999.6), formatDuration(1234.5)]).toEqual(['12 ms', '1000 ms', '1.234 s']);
  });
});
