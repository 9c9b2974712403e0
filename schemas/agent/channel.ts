import { z } from 'zod';
import { VIEW_KINDS } from './view.ts';

// The controller <-> agent channel: one WebSocket per agent at CHANNEL_PATH, authenticated with
// its host's credential (X-Auth-Token; controller/auth/agent-credentials.ts), which binds it to
// that host. The agent says hello; the controller answers with its host's
// view: a snapshot at revision R, or, when the hello asks to resume from revision S and the store's
// change log reaches back that far, a `changes` message (since S, revision R) with only what differs
// from what the agent holds. It then sends a `changes` message for each later commit that changes
// the host's view, and nothing for the others: every message names the revision of the one before
// it (`since`), so the agent tells a skipped revision (nothing for it) from a lost message (since !=
// its revision: it reconnects). Agents that hear nothing learn the revision lazily: a heartbeat of
// an agent the controller sent nothing since a later commit is answered with a `revision` message.
// The agent reports what it has applied and the state of its local ports. An agent that falls
// behind gets a fresh snapshot.

export const CHANNEL_PATH = '/v2.0/agents/channel';
/** 2: changes only to the hosts concerned (`since`), `revision` messages, resume in hello. */
export const PROTOCOL_VERSION = 2;

const viewKind = z.enum(VIEW_KINDS as [string, ...string[]]);
const doc = z.record(z.string(), z.unknown());

// agent -> controller

export const helloMessage = z.object({
  type: z.literal('hello'),
  protocol: z.literal(PROTOCOL_VERSION),
  host: z.string().min(1).max(255),
  tunnelIp: z.string().nullable(),
  bridgeMappings: z.record(z.string(), z.string()),
  datapath: z.enum(['system', 'netdev']),
  /**
   * What the agent holds from an earlier connection (to this controller or another replica): the
   * agent id that connection's welcome named, the revision of the last message it took in, and the
   * ids it holds of each kind. Absent: it holds nothing, send a snapshot.
   */
  resume: z.object({
    agentId: z.string(),
    revision: z.number().int().nonnegative(),
    held: z.partialRecord(viewKind, z.array(z.string())),
  }).optional(),
  /** The agent takes `lostHosts` messages (an older one would close the channel on them). */
  lostHosts: z.boolean().optional(),
});

export const portState = z.enum(['up', 'down']);
export const routerState = z.enum(['active', 'error']);
export const floatingIpState = z.enum(['active', 'down']);

/**
 * Applied everything up to `revision`; `ports` = local ports whose state changed since the last
 * report (all of them after hello). Likewise `routers` (routers placed on this host) and
 * `floatingips` (floating IPs of those routers), when the agent reports them.
 */
export const appliedMessage = z.object({
  type: z.literal('applied'),
  revision: z.number().int().nonnegative(),
  ports: z.record(z.string(), portState),
  routers: z.record(z.string(), routerState).optional(),
  floatingips: z.record(z.string(), floatingIpState).optional(),
});

export const heartbeatMessage = z.object({ type: z.literal('heartbeat') });

export const underlayReach = z.enum(['up', 'down']);

/**
 * What the agent's BFD sessions over the underlay say of its peers (agent/underlay), by peer host:
 * sent when a session changes state (a peer is 'down' only after it was 'up'; null: no longer a
 * peer), and in full after each welcome (`full`: replaces whatever the controller held).
 */
export const underlayMessage = z.object({
  type: z.literal('underlay'),
  full: z.boolean().optional(),
  peers: z.record(z.string(), underlayReach.nullable()),
  /**
   * This host lost a majority of its peers and its HA routers are silent now (true), or it follows
   * its view again (false); absent: unchanged. Lets the controller move them without its margin.
   */
  isolated: z.boolean().optional(),
});

/**
 * The agent is stopping cleanly and its HA routers are silent already: the controller moves the
 * ones active on its host to their standbys at once (controller/sync/gateway-failover.ts handover),
 * instead of l3FenceMs + margin after the channel closes. Sent only to a controller whose welcome
 * says `handover` (an older one would close the channel on it).
 */
export const leavingMessage = z.object({ type: z.literal('leaving') }).strict();

export const agentMessage = z.discriminatedUnion('type', [helloMessage, appliedMessage, heartbeatMessage, underlayMessage, leavingMessage]);

// controller -> agent

export const welcomeMessage = z.object({
  type: z.literal('welcome'),
  agentId: z.string(),
  /** Seconds between heartbeats; the agent is dead after agentDownTime without one. */
  heartbeatInterval: z.number(),
  /** What the agent's DHCP responder hands out beside the model (Neutron's dns_domain, dhcp_lease_duration). */
  dhcp: z.object({ domain: z.string(), leaseSeconds: z.number().int().positive() }).optional(),
  /** The controller takes `underlay` reports (an older one would close the channel on them). */
  underlay: z.boolean().optional(),
  /** The controller takes `leaving` messages (an older one would close the channel on them). */
  handover: z.boolean().optional(),
});

export const snapshotMessage = z.object({
  type: z.literal('snapshot'),
  revision: z.number().int().nonnegative(),
  docs: z.record(viewKind, z.array(doc)),
});

export const changeEntry = z.object({
  kind: viewKind,
  id: z.string(),
  op: z.enum(['create', 'update', 'delete']),
  /** The view of the document after the change; null for delete. */
  doc: doc.nullable(),
});

/** The revision of the message before, and this message's; since < revision, or equal for a resume that found nothing to change. */
const sinceRevision = {
  since: z.number().int().nonnegative(),
  revision: z.number().int().nonnegative(),
};
const ordered = (m: { since: number; revision: number }) => m.since <= m.revision;

export const changesMessage = z.object({
  type: z.literal('changes'),
  ...sinceRevision,
  changes: z.array(changeEntry),
  /**
   * The API request ids (X-Openstack-Request-Id) that made this commit, for the agent's logs;
   * absent for commits no API request made. Optional, so either side may be older.
   */
  requestIds: z.array(z.string()).optional(),
}).refine(ordered, 'since is after revision');

/** Nothing in the host's view changed after `since` up to `revision`. */
export const revisionMessage = z.object({
  type: z.literal('revision'),
  ...sinceRevision,
}).refine(ordered, 'since is after revision');

/**
 * The controller moved the HA routers off these hosts (their agent is lost, or their peers lost
 * them on the underlay). Outside the revision sequence. A receiving agent leaves them out of its
 * own isolation majority while their BFD sessions are down (agent/underlay/peer-states.ts): once
 * one gateway is gone, a survivor with one other peer would otherwise take one missed BFD window
 * to that peer for being cut off itself. Sent only to agents whose hello says `lostHosts`.
 */
export const lostHostsMessage = z.object({ type: z.literal('lostHosts'), hosts: z.array(z.string().min(1)) });

export const controllerMessage = z.discriminatedUnion('type', [welcomeMessage, snapshotMessage, changesMessage, revisionMessage, lostHostsMessage]);

export type HelloMessage = z.infer<typeof helloMessage>;
export type AppliedMessage = z.infer<typeof appliedMessage>;
export type AgentMessage = z.infer<typeof agentMessage>;
export type UnderlayMessage = z.infer<typeof underlayMessage>;
export type LeavingMessage = z.infer<typeof leavingMessage>;
export type UnderlayReach = z.infer<typeof underlayReach>;
export type WelcomeMessage = z.infer<typeof welcomeMessage>;
export type SnapshotMessage = z.infer<typeof snapshotMessage>;
export type ChangeEntry = z.infer<typeof changeEntry>;
export type ChangesMessage = z.infer<typeof changesMessage>;
export type RevisionMessage = z.infer<typeof revisionMessage>;
export type LostHostsMessage = z.infer<typeof lostHostsMessage>;
export type ResumeState = NonNullable<HelloMessage['resume']>;
export type ControllerMessage = z.infer<typeof controllerMessage>;
export type PortState = z.infer<typeof portState>;
export type RouterState = z.infer<typeof routerState>;
export type FloatingIpState = z.infer<typeof floatingIpState>;

/** The header (or query parameter) that makes a mutating request wait for the dataplane. */
export const WAIT_HEADER = 'x-weft-wait-dataplane';
export const WAIT_QUERY = 'wait_for_dataplane';
/** The answer's header saying how the wait ended: 'applied' or 'timeout'. */
export const DATAPLANE_HEADER = 'x-weft-dataplane';
