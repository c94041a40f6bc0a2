import type { PolicyEntryJson } from './model/policy.types.js';
import type { TrieNode } from './policy-trie.js';
import type { ResourceType } from './policy-enforcer.js';

/** What an entry contributes once its expired subjects are left out. */
export interface LiveEntry {
  subjects: string[];
  resources: NonNullable<PolicyEntryJson['resources']>;
}

/** The evaluation structure a set of live entries compiles to; read-only once built. */
export interface CompiledShape {
  readonly trees: ReadonlyMap<ResourceType, TrieNode>;
  readonly subjects: ReadonlySet<string>;
}

/** Longer keys are compiled on their own: a few large policies must not fill the memory. */
const MAX_KEY_LENGTH = 4096;

/**
 * Compiled structures shared by policies that say the same thing. Ditto gives every thing a
 * policy of its own by default, and a fleet's are copies of one another but for their ids: each
 * compiled alone they cost ~4 KB apiece in the policy cache, shared they cost one structure, and
 * the cache holds little more than an id and a reference per policy. Keyed by the live entries
 * (subjects and resources, in their stored order: a reordering only misses the sharing);
 * expiries are not part of the key, each policy keeps its own `staleAfter`. At most `maxShapes`
 * are kept, least recently used out first; a structure dropped here lives on in the policies
 * that reference it.
 */
export class CompiledShapes {
  private readonly shapes = new Map<string, CompiledShape>();

  constructor(private readonly maxShapes: number) {}

  get size(): number {
    return this.shapes.size;
  }

  get(live: readonly LiveEntry[], build: () => CompiledShape): CompiledShape {
    const key = JSON.stringify(live.map((e) => [e.subjects, e.resources]));
    if (key.length > MAX_KEY_LENGTH) return build();
    const hit = this.shapes.get(key);
    if (hit) {
      this.shapes.delete(key);
      this.shapes.set(key, hit);
      return hit;
    }
    const shape = build();
    this.shapes.set(key, shape);
    if (this.shapes.size > this.maxShapes) this.shapes.delete(this.shapes.keys().next().value!);
    return shape;
  }
}
