// Flow priorities by meaning, so that compilers agree on what overrides what.
export const PRIORITY = {
  /** Drops that must win over everything (e.g. ct_state=+inv). */
  guard: 65000,
  /** Always-allowed control traffic (ARP, ND, DHCP) and established replies. */
  control: 60000,
  /** A port's own exact flows (in_port, MAC, IP). */
  port: 1000,
  /** Conjunction clauses and their conj_id flows. */
  conjunction: 500,
  /** Catch-alls of a feature (flood, default handling). */
  fallback: 10,
  /** What happens when nothing else matched, when it is not a plain drop. */
  miss: 1,
} as const;
