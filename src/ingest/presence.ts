import type { ConfigService } from '../config/config.service.js';
import { presenceLeaves, type TimedLeaf } from './batch-plan.js';
import type { PresenceRow } from './ingest.repository.js';

/**
 * Evidence of a device's presence. Explicit: its status message (or Last Will). Implicit: any
 * other message, which shows it was online at the message's time.
 */
export interface PresenceEvent {
  thingId: string;
  online: boolean;
  /** Epoch ms the message speaks for (device time when it gave one). */
  time: number;
  explicit: boolean;
  /** Epoch ms it arrived here: what the inactivity timeout counts from. */
  receivedAt: number;
}

/**
 * What the batch writes for presence, given the stored rows. The newest event per device
 * decides; one older than the stored state changes nothing (a late `online` never revives a
 * device already seen going offline), and an implicit one only turns an offline device online.
 */
export function decidePresence(
  events: PresenceEvent[],
  stored: ReadonlyMap<string, PresenceRow>,
): { leaves: TimedLeaf[]; rows: PresenceRow[] } {
  const latest = new Map<string, PresenceEvent>();
  const lastSeen = new Map<string, number>();
  for (const e of events) {
    const held = latest.get(e.thingId);
    if (!held || e.time > held.time || (e.time === held.time && (e.explicit || !held.explicit))) {
      latest.set(e.thingId, e);
    }
    lastSeen.set(e.thingId, Math.max(lastSeen.get(e.thingId) ?? 0, e.receivedAt));
  }
  const leaves: TimedLeaf[] = [];
  const rows: PresenceRow[] = [];
  for (const [thingId, e] of latest) {
    const prev = stored.get(thingId);
    const seen = Math.max(prev?.lastSeen ?? 0, lastSeen.get(thingId)!);
    const outdated = prev !== undefined && e.time < prev.stateAt;
    const changes = !outdated && (e.explicit || !prev?.online);
    if (changes) leaves.push(...presenceLeaves(thingId, e.online, e.time));
    rows.push(
      changes
        ? { thingId, lastSeen: seen, online: e.online, stateAt: e.time }
        : { thingId, lastSeen: seen, online: prev?.online ?? e.online, stateAt: prev?.stateAt ?? e.time },
    );
  }
  return { leaves, rows };
}

/**
 * The last presence each device had when this replica wrote it. A device known online and
 * written recently needs no presence write for its implicit events; that keeps a busy ingest
 * from upserting a presence row per device per batch. Others (an offline device, a status
 * message, a refresh due) go to the table, which is the truth every replica shares.
 */
export class PresenceMemory {
  private readonly known = new Map<string, { online: boolean; writtenAt: number }>();

  constructor(private readonly refreshMs: number) {}

  needsWrite(e: PresenceEvent): boolean {
    if (e.explicit) return true;
    const k = this.known.get(e.thingId);
    return !k || !k.online || e.receivedAt - k.writtenAt >= this.refreshMs;
  }

  remember(rows: PresenceRow[], writtenAt: number): void {
    for (const r of rows) this.known.set(r.thingId, { online: r.online, writtenAt });
  }

  markOffline(thingIds: string[], at: number): void {
    for (const id of thingIds) this.known.set(id, { online: false, writtenAt: at });
  }
}

/**
 * The replica's one memory (a provider of the ingest module: the writer consults and fills it,
 * the sweeper marks the devices it took offline): refreshed at a quarter of the inactivity
 * timeout, at least every 30 s, so the table's last-seen times stay well inside it.
 */
export function presenceMemoryFor(config: ConfigService): PresenceMemory {
  const timeoutMs = config.get('DEVICE_INACTIVITY_TIMEOUT') * 1000;
  return new PresenceMemory(timeoutMs > 0 ? Math.min(timeoutMs / 4, 30_000) : 30_000);
}
