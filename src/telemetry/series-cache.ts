/**
 * Series ids (thing, feature, path → integer) this process has seen committed. Series are never
 * deleted, so an id once known stays right; the map only has to stay bounded, and dropping the
 * oldest entries costs at most a lookup when one of them shows up again.
 */
export class SeriesCache {
  private readonly ids = new Map<string, number>();

  constructor(private readonly maxEntries: number) {}

  /** Thing ids, feature ids and property keys hold no control characters, so NUL separates them. */
  static key(thingId: string, featureId: string, path: string): string {
    return `${thingId}\u0000${featureId}\u0000${path}`;
  }

  get(key: string): number | undefined {
    return this.ids.get(key);
  }

  remember(key: string, id: number): void {
    if (this.ids.size >= this.maxEntries && !this.ids.has(key)) {
      // Maps iterate in insertion order: the first tenth are the oldest.
      let drop = Math.max(1, Math.floor(this.maxEntries / 10));
      for (const old of this.ids.keys()) {
        this.ids.delete(old);
        if (--drop === 0) break;
      }
    }
    this.ids.set(key, id);
  }

  get size(): number {
    return this.ids.size;
  }
}
