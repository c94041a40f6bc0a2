/**
 * Series ids (thing, feature, path → integer) this process has seen committed. Series are never
 * deleted, so an id once known stays right; the cache only has to stay bounded, and dropping
 * entries costs at most a lookup when one of them shows up again. Nested by thing, feature and
 * path: every reading is looked up, and the strings are at hand, so no key is built.
 */
export class SeriesCache {
  private readonly things = new Map<string, Map<string, Map<string, number>>>();
  private entries = 0;

  constructor(private readonly maxEntries: number) {}

  get(thingId: string, featureId: string, path: string): number | undefined {
    return this.things.get(thingId)?.get(featureId)?.get(path);
  }

  remember(thingId: string, featureId: string, path: string, id: number): void {
    let features = this.things.get(thingId);
    if (!features) {
      if (this.entries >= this.maxEntries) this.shed();
      this.things.set(thingId, (features = new Map<string, Map<string, number>>()));
    }
    let paths = features.get(featureId);
    if (!paths) features.set(featureId, (paths = new Map<string, number>()));
    if (!paths.has(path)) this.entries++;
    paths.set(path, id);
  }

  get size(): number {
    return this.entries;
  }

  /** Forgets the things seen first (maps iterate in insertion order) until a tenth is free. */
  private shed(): void {
    for (const [thingId, features] of this.things) {
      if (this.entries < this.maxEntries * 0.9) return;
      for (const paths of features.values()) this.entries -= paths.size;
      this.things.delete(thingId);
    }
  }
}
