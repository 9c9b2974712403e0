import type { Dataplane } from '../dataplane.ts';
import type { ControllerChannel } from './channel-client.ts';

// The agent's protocol loop, apart from the switch: what the controller channel delivers goes into
// the dataplane (which folds it into the host model and compiles it), and what the dataplane
// applied goes back as an `applied` report. weft-agent wires its Open vSwitch dataplane with it;
// the scale test and benchmark wire simulated hosts (a dataplane over a fake switch) the same way.

export function feedDataplane(channel: ControllerChannel, dataplane: Dataplane): void {
  // A new connection: every local port is reported again in the first report.
  channel.on('welcome', () => dataplane.forgetReported());
  channel.on('snapshot', (m) => dataplane.snapshot(m.revision, m.docs));
  channel.on('changes', (m) => dataplane.changes(m.revision, m.changes, m.requestIds));
  // Nothing for this host up to the revision: the model is at it once what is queued before has run.
  channel.on('revision', (m) => dataplane.changes(m.revision, []));
  dataplane.on('applied', (r) => channel.reportApplied(r.revision, r.ports));
}
