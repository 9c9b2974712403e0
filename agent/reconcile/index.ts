// Desired vs installed flows on br-int: the only module that talks OpenFlow to the switch.
export * from './reconciler.ts';
export * from './errors.ts';
export {
  CookieJar, addMod, chunk, deleteStrictMod, describeFlow, planChanges, planLeftovers, planReplay, sameFlow,
  statsKey, type InstalledFlow, type Leftover, type PlannedMod,
} from './plan.ts';
export type { ResyncHooks } from './resync.ts';
