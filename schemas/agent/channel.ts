import { z } from 'zod';
import { VIEW_KINDS } from './view.ts';

// The controller <-> agent channel: one WebSocket per agent at CHANNEL_PATH, authenticated with
// the agent token (X-Auth-Token). The agent says hello; the controller answers with a snapshot of
// the model at revision R, then streams the changes after R in order. The agent reports what it
// has applied and the state of its local ports. An agent that falls behind (or whose hello
// revision is older than the change log) gets a fresh snapshot.

export const CHANNEL_PATH = '/v2.0/agents/channel';
export const PROTOCOL_VERSION = 1;

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

export const agentMessage = z.discriminatedUnion('type', [helloMessage, appliedMessage, heartbeatMessage]);

// controller -> agent

export const welcomeMessage = z.object({
  type: z.literal('welcome'),
  agentId: z.string(),
  /** Seconds between heartbeats; the agent is dead after agentDownTime without one. */
  heartbeatInterval: z.number(),
  /** What the agent's DHCP responder hands out beside the model (Neutron's dns_domain, dhcp_lease_duration). */
  dhcp: z.object({ domain: z.string(), leaseSeconds: z.number().int().positive() }).optional(),
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

export const changesMessage = z.object({
  type: z.literal('changes'),
  revision: z.number().int().nonnegative(),
  changes: z.array(changeEntry),
  /**
   * The API request ids (X-Openstack-Request-Id) that made this commit, for the agent's logs;
   * absent for commits no API request made. Optional, so either side may be older.
   */
  requestIds: z.array(z.string()).optional(),
});

export const controllerMessage = z.discriminatedUnion('type', [welcomeMessage, snapshotMessage, changesMessage]);

export type HelloMessage = z.infer<typeof helloMessage>;
export type AppliedMessage = z.infer<typeof appliedMessage>;
export type AgentMessage = z.infer<typeof agentMessage>;
export type WelcomeMessage = z.infer<typeof welcomeMessage>;
export type SnapshotMessage = z.infer<typeof snapshotMessage>;
export type ChangeEntry = z.infer<typeof changeEntry>;
export type ChangesMessage = z.infer<typeof changesMessage>;
export type ControllerMessage = z.infer<typeof controllerMessage>;
export type PortState = z.infer<typeof portState>;
export type RouterState = z.infer<typeof routerState>;
export type FloatingIpState = z.infer<typeof floatingIpState>;

/** The header (or query parameter) that makes a mutating request wait for the dataplane. */
export const WAIT_HEADER = 'x-weft-wait-dataplane';
export const WAIT_QUERY = 'wait_for_dataplane';
/** The answer's header saying how the wait ended: 'applied' or 'timeout'. */
export const DATAPLANE_HEADER = 'x-weft-dataplane';
