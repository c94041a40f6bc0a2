/** What the loop remembers of a target between ticks. */
interface Entry {
  stepMs: number;
  /** When the target next wants work: a forecast, a retraining or a retry after a failure. */
  nextDue: number;
  /** The step boundary its readings were last checked for drift up to. */
  driftTo: number;
}

/**
 * The scheduler's memory of its targets, so that a tick with nothing due reads nothing: each
 * known target's next due time, things to (re)read because the journal says their definition
 * changed, and targets with new readings for the drift check. Things found not to be targets are
 * remembered too (null), until a change could make them one.
 */
export class ForecastSchedule {
  private readonly entries = new Map<string, Entry | null>();
  private readonly toExamine = new Set<string>();
  private readonly withReadings = new Set<string>();

  /** A journal change of the thing at `path` (JSON pointer into the thing). */
  noteChange(thingId: string, path: string): void {
    const known = this.entries.get(thingId);
    // The whole thing, its attributes (attributes/forecast) or, for a thing that is not a target,
    // the features that would make it one: its target may have changed.
    if (path === '/' || path.startsWith('/attributes') || path === '/features' || known === undefined)
      this.toExamine.add(thingId);
    else if (known === null && path.startsWith('/features/energy')) this.toExamine.add(thingId);
    if (path.startsWith('/features') && known !== null) this.withReadings.add(thingId);
  }

  /** A thing the full scan of targets found. */
  noteTarget(thingId: string): void {
    if (!this.entries.get(thingId)) this.toExamine.add(thingId);
  }

  /** Things whose definition must be read again; the set is emptied. */
  takeExamine(): string[] {
    const out = [...this.toExamine];
    this.toExamine.clear();
    return out;
  }

  /** The thing's target at `stepMs` (due at once when new), null when it has none, undefined when it is gone. */
  examined(thingId: string, stepMs: number | null | undefined, now: number): void {
    if (stepMs === undefined || stepMs === null) {
      this.withReadings.delete(thingId);
      if (stepMs === null) this.entries.set(thingId, null);
      else this.entries.delete(thingId);
      return;
    }
    const e = this.entries.get(thingId);
    if (e && e.stepMs === stepMs) return;
    this.entries.set(thingId, { stepMs, nextDue: now, driftTo: e?.driftTo ?? 0 });
  }

  /**
   * Targets whose readings may have completed a step since their last drift check (at most once
   * per step each); the readings noted are consumed.
   */
  takeDriftChecks(now: number): string[] {
    const out: string[] = [];
    for (const thingId of this.withReadings) {
      const e = this.entries.get(thingId);
      if (e === null) continue;
      // Not examined yet: kept for the tick that knows its step.
      if (e === undefined) continue;
      this.withReadings.delete(thingId);
      const boundary = Math.floor(now / e.stepMs) * e.stepMs;
      if (boundary <= e.driftTo) continue;
      e.driftTo = boundary;
      out.push(thingId);
    }
    return out;
  }

  /** Targets due at `now`, soonest first. */
  due(now: number): string[] {
    const out: [string, number][] = [];
    for (const [thingId, e] of this.entries) if (e && e.nextDue <= now) out.push([thingId, e.nextDue]);
    return out.sort((a, b) => a[1] - b[1]).map(([thingId]) => thingId);
  }

  stepOf(thingId: string): number | undefined {
    return this.entries.get(thingId)?.stepMs;
  }

  /** The target next wants work at `at`. */
  dueAt(thingId: string, at: number): void {
    const e = this.entries.get(thingId);
    if (e) e.nextDue = at;
  }

  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e) n++;
    return n;
  }
}

/**
 * The pointers a journal entry changed, as far as the schedule cares: a merge into the whole
 * thing (how readings arrive over MQTT) or into its features names each top-level part and
 * each feature it touched, so that readings are not taken for a new definition of the thing.
 */
export function changedPaths(path: string, action: string, value: unknown): string[] {
  if (action !== 'merged' || !isObject(value)) return [path];
  if (path === '/') {
    const out: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      if (key === 'features' && isObject(v)) for (const f of Object.keys(v)) out.push(`/features/${f}`);
      else out.push(`/${key}`);
    }
    return out;
  }
  if (path === '/features') return Object.keys(value).map((f) => `/features/${f}`);
  return [path];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
