/**
 * The simulators as a library, for the platform's ingest tests: start a fleet in-process
 * against a broker and get back exactly what was sent.
 */
export { runFleet } from './fleet.js';
export { fleetThingIds, provisionFleet, readCredentialsFile } from './provision.js';
export type {
  FleetHooks,
  FleetProgress,
  FleetSummary,
  SentMessage,
  SentReading,
  StopReason,
} from './fleet.js';
export { FleetOptionsError, resolveFleetOptions } from './options.js';
export type { FleetOptions, ResolvedFleetOptions } from './options.js';
export * from './contract.js';
export { FaultInjector, MALFORMED_KINDS, NO_FAULTS, OVERSIZE_BYTES, buildMalformed } from './faults.js';
export type { FaultRates, MalformedKind, Outgoing } from './faults.js';
export { PROFILES } from './profiles/index.js';
export type { Profile, SignalModel } from './profiles/index.js';
export { createRng, Rng } from './rng.js';
export {
  homeThings,
  homesThingIds,
  parseBackfill,
  runHomesBackfill,
  seedNumber,
  writeTopology,
} from './homes-fleet.js';
export type { BackfillProgress, BackfillSummary, HomeThing, HomesBackfillOptions } from './homes-fleet.js';
export { generateHomes } from './profiles/homes.js';
export type { GeneratedHome } from './profiles/homes.js';
