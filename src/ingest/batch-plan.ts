import { isJsonObject, putKey, toPointer } from '../twins/model/json-pointer.js';
import type { TwinCommand } from '../twins/twin.types.js';
import { iso } from './device-contract.js';
import type { DeviceCommand } from './ditto-command.js';

/** A leaf the batch writes to a twin: from a new reading or from presence. */
export interface TimedLeaf {
  thingId: string;
  /** Path inside the thing, e.g. ['features', 'energy', 'properties', 'power']. */
  path: string[];
  value: unknown;
  /** Epoch ms of the value (device time); the newest wins, then the higher seq, then the later. */
  time: number;
  seq: number | null;
  /** `time` as ISO 8601, when the caller has it already (it is what the twin's leaf times hold). */
  at?: string;
}

export interface QueuedCommand {
  thingId: string;
  command: DeviceCommand;
}

export const CONNECTION_STATUS = 'ConnectionStatus';
/** Ditto's convention for "connected until further notice". */
export const READY_FOREVER = '9999-12-31T23:59:59.999Z';

/** Ditto's ConnectionStatus feature: status with readySince/readyUntil. */
export function presenceLeaves(thingId: string, online: boolean, time: number): TimedLeaf[] {
  const at = (property: string, value: string): TimedLeaf => ({
    thingId,
    path: ['features', CONNECTION_STATUS, 'properties', property],
    value,
    time,
    seq: null,
  });
  return online
    ? [at('status', 'online'), at('readySince', iso(time)), at('readyUntil', READY_FOREVER)]
    : [at('status', 'offline'), at('readyUntil', iso(time))];
}

function newer(a: TimedLeaf, b: TimedLeaf): boolean {
  if (a.time !== b.time) return a.time > b.time;
  return (a.seq ?? -1) >= (b.seq ?? -1);
}

/**
 * One merge per thing holding the newest value of every leaf the batch touched, each with its
 * own source time (leafTimes), so the twin service drops the leaves the twin already has newer
 * values for. Device commands follow in arrival order: they carry no device time and win.
 * With `create` (AUTO_CREATE_THINGS) a merge of the whole thing creates a missing one, linking
 * `create.policyId` (the platform's device policy) instead of a policy of its own; without, it
 * merges `/features`, which fails for a missing thing instead.
 */
export function twinCommands(
  leafList: TimedLeaf[],
  commands: QueuedCommand[],
  create: { policyId: string } | false,
): TwinCommand[] {
  const byThing = new Map<string, Map<string, TimedLeaf>>();
  for (const leaf of leafList) {
    let thing = byThing.get(leaf.thingId);
    if (!thing) byThing.set(leaf.thingId, (thing = new Map<string, TimedLeaf>()));
    const pointer = toPointer(leaf.path);
    const held = thing.get(pointer);
    if (!held || newer(leaf, held)) thing.set(pointer, leaf);
  }
  const out: TwinCommand[] = [];
  for (const [thingId, thing] of byThing) {
    const value: Record<string, unknown> = {};
    const leafTimes: Record<string, string> = {};
    // Parents before children, so a reading of `a` and one of `a/b` in one batch nest sanely.
    for (const [pointer, leaf] of [...thing].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      place(value, leaf.path, leaf.value);
      leafTimes[pointer] = leaf.at ?? iso(leaf.time);
    }
    out.push(
      create
        ? {
            type: 'merge',
            thingId,
            path: [],
            value,
            origin: 'mqtt',
            leafTimes,
            policyIdIfCreated: create.policyId,
          }
        : { type: 'merge', thingId, path: ['features'], value: value.features, origin: 'mqtt', leafTimes },
    );
  }
  for (const { thingId, command } of commands) {
    out.push({
      type: command.type,
      thingId,
      path: command.path,
      value: command.value,
      origin: 'mqtt',
      ...(create ? { policyIdIfCreated: create.policyId } : {}),
      ...(command.correlationId === undefined ? {} : { correlationId: command.correlationId }),
      // Beyond its features a device's command is enforced against the thing's policy.
      ...(command.auth === undefined ? {} : { auth: command.auth }),
    });
  }
  return out;
}

function place(root: Record<string, unknown>, path: string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isJsonObject(next)) putKey(node, key, {});
    node = node[key] as Record<string, unknown>;
  }
  putKey(node, path[path.length - 1], value);
}

/** How many leaves a merge patch holds; what a journal entry holds less is what was stale. */
export function leafCount(value: unknown): number {
  return isJsonObject(value) ? countLeaves(value) : 0;
}

/** As metadata's leaves(…).length (an empty object is a leaf too), without building the pointers. */
function countLeaves(value: unknown): number {
  if (!isJsonObject(value)) return 1;
  const keys = Object.keys(value);
  if (keys.length === 0) return 1;
  let n = 0;
  for (const k of keys) n += countLeaves(value[k]);
  return n;
}
