import { enforced, type AuthContext } from '../auth/auth-context.js';
import type { JournalEntry } from '../journal/journal.types.js';
import type { PolicyEnforcer, ResourceType } from '../policies/policy-enforcer.js';
import type { PolicyJson } from '../policies/model/policy.types.js';
import { compilePolicy } from '../policies/policy-evaluation.js';
import type { JsonObject } from '../twins/model/json-pointer.js';
import { isJsonObject } from '../twins/model/json-pointer.js';
import { leafTimesWithin } from '../twins/metadata.js';
import { twinEventOf, type TwinEvent } from './twin-event.js';

/** Where a stream finds compiled policies: synchronously when cached, else by loading them. */
export interface EnforcerSource {
  /** undefined: not cached (call load); null: the policy does not exist. */
  cached(policyId: string, namespace: string): PolicyEnforcer | null | undefined;
  load(policyId: string, namespace: string): Promise<PolicyEnforcer | null>;
  /** The policy as its first deletion after the seq left it; null when it was not deleted since. */
  deletedAfter(policyId: string, namespace: string, afterSeq: string): Promise<PolicyEnforcer | null>;
}

/**
 * What one subscriber may see of each event, Ditto's way: an event reaches a subscriber only when
 * its subjects may read some part of what changed, and then carries only that part; the thing's
 * policy decides (for a policy's own change, its `policy:/` resources). Events of things whose readers get all of
 * the change keep the shared, once-serialised envelope; only cut events are serialised per client.
 */
export class EventAccess {
  /**
   * What the last load() fetched: the shared cache may refuse or evict them (a concurrent policy
   * change, LRU) before the batch renders, and an event must not be dropped for that.
   */
  private readonly loaded = new Map<string, PolicyEnforcer | null>();
  /**
   * Policies deleted by the time the batch renders: who could see a change made before the
   * deletion is decided by the policy as it was deleted (Ditto decides readers when it persists
   * an event), not dropped for everyone.
   */
  private readonly deleted = new Map<string, PolicyEnforcer | null>();

  constructor(
    private readonly auth: AuthContext,
    private readonly source: EnforcerSource,
  ) {}

  /** undefined for a context policies are not enforced for: it sees every event whole. */
  static for(auth: AuthContext, source: EnforcerSource): EventAccess | undefined {
    const subject = enforced(auth);
    return subject ? new EventAccess(subject, source) : undefined;
  }

  /**
   * Who this is, as far as what it sees goes: subscribers with the same subjects see every event
   * alike, so their streams may share renderings.
   */
  get key(): string {
    return JSON.stringify([...new Set(this.auth.subjects)].sort());
  }

  /** The same subscriber with nothing loaded yet: one per batch, so batches never share loads. */
  fresh(): EventAccess {
    return new EventAccess(this.auth, this.source);
  }

  /** Entries whose policies are not compiled yet: the stream loads them before it renders. */
  missing(entries: readonly JournalEntry[]): { policyId: string; namespace: string }[] {
    const out = new Map<string, { policyId: string; namespace: string }>();
    for (const e of entries) {
      const policyId = governingPolicy(e);
      if (policyId === undefined) continue;
      const namespace = namespaceOf(e.thingId);
      if (this.source.cached(policyId, namespace) === undefined)
        out.set(key(policyId, namespace), { policyId, namespace });
    }
    return [...out.values()];
  }

  /** Loads them, a few at a time (the enforcer source shares loads already under way). */
  async load(entries: readonly JournalEntry[]): Promise<void> {
    this.loaded.clear();
    this.deleted.clear();
    const todo = this.missing(entries);
    await inParallel(todo, async (next) => {
      this.loaded.set(
        key(next.policyId, next.namespace),
        await this.source.load(next.policyId, next.namespace),
      );
    });
    // The earliest entry of each policy that is gone now: its deletion after that entry decides.
    const gone = new Map<string, { policyId: string; namespace: string; seq: string }>();
    for (const e of entries) {
      const policyId = governingPolicy(e);
      if (policyId === undefined) continue;
      const namespace = namespaceOf(e.thingId);
      const k = key(policyId, namespace);
      if (gone.has(k) || this.current(policyId, namespace) !== null) continue;
      gone.set(k, { policyId, namespace, seq: e.seq });
    }
    await inParallel([...gone.values()], async (g) => {
      this.deleted.set(
        key(g.policyId, g.namespace),
        await this.source.deletedAfter(g.policyId, g.namespace, g.seq),
      );
    });
  }

  /** The event as this subscriber may see it, or undefined when it may see nothing of it. */
  visible(ev: TwinEvent): TwinEvent | undefined {
    const enforcer = this.enforcerOf(ev.entry);
    if (!enforcer) return undefined;
    const subjects = this.auth.subjects;
    const type: ResourceType = ev.entry.entity === 'policy' ? 'policy' : 'thing';
    if (enforcer.hasUnrestricted(type, ev.segments, subjects, 'READ')) return ev;
    if (!enforcer.hasPartial(type, ev.segments, subjects, 'READ')) return undefined;
    if (ev.value === undefined) return ev;
    const value = enforcer.readable(type, ev.segments, ev.entry.value, subjects);
    if (value === undefined) return undefined;
    const times = ev.entry.leafTimes;
    if (!times) return twinEventOf({ ...ev.entry, value });
    // No time of a leaf the subscriber may not read.
    return twinEventOf({ ...ev.entry, value, leafTimes: leafTimesWithin(times, ev.segments, value) });
  }

  /** The enriched fields cut to what the subscriber may read. */
  extra(ev: TwinEvent, extra: JsonObject | undefined): JsonObject | undefined {
    if (!extra) return undefined;
    const enforcer = this.enforcerOf(ev.entry);
    const cut = enforcer?.readable('thing', [], extra, this.auth.subjects);
    return isJsonObject(cut) ? cut : undefined;
  }

  private enforcerOf(entry: JournalEntry): PolicyEnforcer | null {
    const namespace = namespaceOf(entry.thingId);
    // A deleted policy is gone from the store: who could read it is decided by what was deleted.
    if (entry.entity === 'policy' && entry.action === 'deleted' && entry.path === '/') {
      return isJsonObject(entry.value)
        ? compilePolicy(entry.value as unknown as PolicyJson, { namespace })
        : null;
    }
    const policyId = governingPolicy(entry);
    // A thing entry without a policy id was written before policies were journaled with changes.
    if (policyId === undefined) return null;
    return this.current(policyId, namespace) ?? this.deleted.get(key(policyId, namespace)) ?? null;
  }

  /** The policy as it is now: null when it does not exist, undefined when not loaded. */
  private current(policyId: string, namespace: string): PolicyEnforcer | null | undefined {
    const cached = this.source.cached(policyId, namespace);
    if (cached) return cached;
    const loaded = this.loaded.get(key(policyId, namespace));
    return loaded !== undefined ? loaded : cached;
  }
}

async function inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  const todo = [...items];
  const worker = async (): Promise<void> => {
    for (let next = todo.pop(); next !== undefined; next = todo.pop()) await work(next);
  };
  await Promise.all(Array.from({ length: Math.min(LOAD_PARALLEL, todo.length) }, worker));
}

/** The policy deciding who may see an entry: the thing's, or for a policy change the policy itself. */
function governingPolicy(entry: JournalEntry): string | undefined {
  return entry.entity === 'policy' ? entry.thingId : entry.policyId;
}

/** Policies loaded at once for one batch. */
const LOAD_PARALLEL = 8;

const key = (policyId: string, namespace: string): string => `${namespace}\u0000${policyId}`;

function namespaceOf(thingId: string): string {
  return thingId.slice(0, thingId.indexOf(':'));
}
