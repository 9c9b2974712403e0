import { z } from 'zod';
import { bool, description } from '../common.ts';

// Neutron's agent resource (the `agent` extension). Agents register themselves over the
// controller channel; the API lists them and lets an admin change these two attributes.

export const AgentUpdate = z
  .object({
    admin_state_up: bool.optional(),
    description: description.nullable().optional(),
  })
  .strict();
export type AgentUpdate = z.infer<typeof AgentUpdate>;

export const Agent = z.object({
  id: z.string(),
  agent_type: z.string(),
  binary: z.string(),
  host: z.string(),
  topic: z.string(),
  admin_state_up: z.boolean(),
  alive: z.boolean(),
  created_at: z.string(),
  started_at: z.string(),
  heartbeat_timestamp: z.string(),
  description: z.string().nullable(),
  availability_zone: z.string().nullable(),
  resources_synced: z.boolean().nullable(),
  configurations: z.object({
    tunneling_ip: z.string().nullable(),
    bridge_mappings: z.record(z.string(), z.string()),
    datapath_type: z.enum(['system', 'netdev']),
    devices: z.number().int(),
    /** Weft: the last model revision the agent reported as applied (null before its first report). */
    applied_revision: z.number().int().nullable(),
  }),
});
export type Agent = z.infer<typeof Agent>;
