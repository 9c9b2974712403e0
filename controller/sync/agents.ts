import type { HelloMessage } from '../../schemas/agent/channel.ts';
import type { AgentUpdate } from '../../schemas/api/agent.ts';
import { revokeCredential } from '../auth/agent-credentials.ts';
import { evacuateGatewayHost, leaveGatewayGroups, scheduleUnplacedRouters } from '../domain/l3-scheduler.ts';
import { refreshGatewayCapable, withGatewayFlag } from '../domain/gateway-capable.ts';
import { newId } from '../domain/standard-attrs.ts';
import { notFound } from '../errors.ts';
import type { Doc, ReadView, Tx } from '../store/types.ts';

// The agent documents: one per host, written when an agent says hello with a new host or a new
// configuration, or when an admin changes admin_state_up/description. Everything that changes
// all the time (heartbeats, the applied revision, whether it is connected) is runtime state kept
// by the SyncHub and merged in only when an agent is presented.

export const AGENT_KIND = 'agent';
export const AGENT_TYPE = 'Open vSwitch agent';
export const AGENT_BINARY = 'weft-agent';

/** Attributes of a presented agent that may be filtered and sorted on. */
export const AGENT_ATTRIBUTES = [
  'id', 'agent_type', 'binary', 'host', 'topic', 'admin_state_up', 'alive', 'created_at', 'started_at',
  'heartbeat_timestamp', 'description', 'availability_zone', 'resources_synced',
] as const;

export interface AgentConfigurations {
  tunneling_ip: string | null;
  bridge_mappings: Record<string, string>;
  datapath_type: 'system' | 'netdev';
}

export interface AgentDoc extends Doc {
  id: string;
  agent_type: string;
  binary: string;
  host: string;
  topic: string;
  admin_state_up: boolean;
  description: string | null;
  created_at: string;
  /** When the configuration was last registered; the live session's start time wins when connected. */
  started_at: string;
  configurations: AgentConfigurations;
  /** Top-level copy of configurations.tunneling_ip: what the agent view (pickView) sends other hosts. */
  tunnel_ip: string | null;
  /** Whether BFD peers run sessions to it (domain/gateway-capable.ts); internal, in the agent view only. */
  gateway_capable?: boolean;
}

/** What the hub knows about an agent at runtime (nothing is persisted). */
export interface AgentRuntimeView {
  connected: boolean;
  alive: boolean;
  startedAt?: string;
  heartbeatAt?: string;
  applied: number | null;
}

export type HelloFields = Omit<HelloMessage, 'type' | 'protocol'>;

/** Neutron prints agent times as `2026-11-21 10:00:00` (UTC, no zone). */
export function agentTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

export function agentByHost(view: ReadView, host: string): AgentDoc | undefined {
  return view.list<AgentDoc>(AGENT_KIND).find((a) => a.host === host);
}

function configurationsOf(hello: HelloFields): AgentConfigurations {
  return { tunneling_ip: hello.tunnelIp, bridge_mappings: { ...hello.bridgeMappings }, datapath_type: hello.datapath };
}

function sameConfigurations(a: AgentConfigurations, b: AgentConfigurations): boolean {
  const keys = (m: Record<string, string>) => Object.keys(m).sort();
  const am = keys(a.bridge_mappings);
  const bm = keys(b.bridge_mappings);
  return a.tunneling_ip === b.tunneling_ip && a.datapath_type === b.datapath_type &&
    am.length === bm.length && am.every((k, i) => k === bm[i] && a.bridge_mappings[k] === b.bridge_mappings[k]);
}

/** Register the agent of hello.host: create it, or rewrite it only when its configuration changed. */
export function registerAgent(tx: Tx, hello: HelloFields, now: number): AgentDoc {
  const current = agentByHost(tx, hello.host);
  const configurations = configurationsOf(hello);
  if (current && sameConfigurations(current.configurations, configurations) && current.tunnel_ip === hello.tunnelIp) {
    // A document from before the flag existed (or a stale one) is set right when its agent says hello.
    const flagged = withGatewayFlag(tx, current);
    if (flagged !== current) tx.put(AGENT_KIND, flagged);
    return flagged;
  }
  const at = agentTime(now);
  const doc: AgentDoc = current
    ? { ...current, configurations, tunnel_ip: hello.tunnelIp, started_at: at }
    : {
        id: newId(), agent_type: AGENT_TYPE, binary: AGENT_BINARY, host: hello.host, topic: 'N/A', admin_state_up: true,
        description: null, created_at: at, started_at: at, configurations, tunnel_ip: hello.tunnelIp,
      };
  const flagged = withGatewayFlag(tx, doc);
  tx.put(AGENT_KIND, flagged);
  return flagged;
}

export function updateAgent(tx: Tx, id: string, input: AgentUpdate): AgentDoc {
  const current = tx.get<AgentDoc>(AGENT_KIND, id);
  if (!current) throw notFound(AGENT_KIND, id);
  const next: AgentDoc = { ...current };
  if (input.admin_state_up !== undefined) next.admin_state_up = input.admin_state_up;
  if (input.description !== undefined) next.description = input.description;
  if (next.admin_state_up !== current.admin_state_up || next.description !== current.description) tx.put(AGENT_KIND, next);
  return next;
}

/**
 * updateAgent, and an agent set admin-down hands the routers it is the gateway of to other
 * gateway hosts (same transaction); one set admin-up takes routers that found no host meanwhile.
 */
export function updateAgentAndPlacement(tx: Tx, id: string, input: AgentUpdate): AgentDoc {
  const before = tx.get<AgentDoc>(AGENT_KIND, id);
  const doc = updateAgent(tx, id, input);
  if (before?.admin_state_up && !doc.admin_state_up) evacuateGatewayHost(tx, doc.host);
  if (before && !before.admin_state_up && doc.admin_state_up) scheduleUnplacedRouters(tx);
  refreshGatewayCapable(tx, [doc.host]);
  return doc;
}

/**
 * Delete the agent's record and revoke its host's credential: an agent connected with it is
 * disconnected (the hub sees the credential go) and cannot come back without a new enrolment; one
 * on an admin token (a tool) registers afresh when it reconnects.
 */
export function deleteAgentAndCredential(tx: Tx, id: string): AgentDoc {
  const doc = removeAgent(tx, id);
  revokeCredential(tx, doc.host);
  leaveGatewayGroups(tx, doc.host);
  return doc;
}

export function removeAgent(tx: Tx, id: string): AgentDoc {
  const current = tx.get<AgentDoc>(AGENT_KIND, id);
  if (!current) throw notFound(AGENT_KIND, id);
  tx.remove(AGENT_KIND, id);
  return current;
}

/** The agent as Neutron's API shows it. */
export function presentAgent(view: ReadView, doc: AgentDoc, runtime: AgentRuntimeView): Record<string, unknown> {
  return {
    id: doc.id,
    agent_type: doc.agent_type,
    binary: doc.binary,
    host: doc.host,
    topic: doc.topic,
    admin_state_up: doc.admin_state_up,
    alive: runtime.alive,
    created_at: doc.created_at,
    started_at: runtime.startedAt ?? doc.started_at,
    // Heartbeats are never written: after a controller restart the last one known is the registration.
    heartbeat_timestamp: runtime.heartbeatAt ?? doc.started_at,
    description: doc.description,
    availability_zone: null,
    resources_synced: null,
    // What changes all the time sits in configurations, as Neutron's agents report `devices` there:
    // clients (Tempest's test_list_agent among them) compare agents without it.
    configurations: { ...doc.configurations, devices: view.countBy('port', 'host', doc.host), applied_revision: runtime.applied },
  };
}
