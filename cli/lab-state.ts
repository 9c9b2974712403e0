// What `weft lab up` leaves behind for `weft lab down` and `--lab-host`: <lab dir>/lab.json.
// The lab dir is also the lab's run root (the hosts' Open vSwitch folders and the logs), so that
// removing it removes everything.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabDescription } from '../lab/lab.ts';
import { CliError } from './args.ts';

export interface LabState extends LabDescription {
  /** The controller the agents were pointed at. */
  controllerUrl: string;
  /** Detached processes: the root-namespace relay and each host's agent. */
  relayPid: number | undefined;
  agents: Record<string, number | undefined>;
  /** The "outside" namespace on the provider fabric, if any. */
  external?: { netns: string; cidr: string };
  createdAt: string;
}

export const labStatePath = (dir: string): string => join(dir, 'lab.json');

export function hasLabState(dir: string): boolean {
  return existsSync(labStatePath(dir));
}

export function readLabState(dir: string): LabState {
  const path = labStatePath(dir);
  if (!existsSync(path)) throw new CliError(`no lab in ${dir} (${path} is missing): run weft lab up, or pass --lab-dir`);
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as LabState;
    if (typeof s.prefix !== 'string' || !Array.isArray(s.hosts) || typeof s.runRoot !== 'string') throw new Error('fields missing');
    return s;
  } catch (e) {
    throw new CliError(`${path} is not a lab state file (${(e as Error).message})`);
  }
}

export function writeLabState(dir: string, state: LabState): void {
  writeFileSync(labStatePath(dir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}
