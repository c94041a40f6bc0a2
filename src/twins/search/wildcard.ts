/**
 * Ditto's `like`/`ilike` patterns (`*`: any run of characters, `?`: exactly one) matched without a
 * regular expression. A RegExp of `*a*a*a…b` backtracks exponentially on a near-miss, and the
 * pattern comes from the client; here the segments between stars are placed greedily, each at its
 * earliest position, which is exact for patterns that have only these two wildcards and costs at
 * most text length × pattern length steps.
 */
export interface Wildcard {
  test(text: string): boolean;
}

type Segment = readonly string[];

export function compileWildcard(pattern: string, insensitive: boolean): Wildcard {
  const fold = insensitive ? foldCase : (c: string) => c;
  const parts = pattern.split('*').map((p) => Array.from(p, fold));
  const head = parts[0];
  // No star at all: the whole text must match the one segment.
  if (parts.length === 1) {
    return { test: (text) => matchesWhole(head, Array.from(text, fold)) };
  }
  const tail = parts[parts.length - 1];
  const middle = parts.slice(1, -1).filter((p) => p.length > 0);
  return {
    test(text) {
      const chars = Array.from(text, fold);
      if (chars.length < head.length + tail.length) return false;
      if (!matchesAt(head, chars, 0)) return false;
      const end = chars.length - tail.length;
      if (!matchesAt(tail, chars, end)) return false;
      let from = head.length;
      for (const segment of middle) {
        const at = indexOf(segment, chars, from, end);
        if (at < 0) return false;
        from = at + segment.length;
      }
      return true;
    },
  };
}

function matchesWhole(segment: Segment, chars: readonly string[]): boolean {
  return segment.length === chars.length && matchesAt(segment, chars, 0);
}

function matchesAt(segment: Segment, chars: readonly string[], at: number): boolean {
  for (let i = 0; i < segment.length; i++) {
    const p = segment[i];
    if (p !== '?' && p !== chars[at + i]) return false;
  }
  return true;
}

/** The first position ≥ from where `segment` fits entirely before `end`; -1 when none. */
function indexOf(segment: Segment, chars: readonly string[], from: number, end: number): number {
  for (let at = from; at + segment.length <= end; at++) if (matchesAt(segment, chars, at)) return at;
  return -1;
}

/** Per character, as a RegExp's `iu` flags compare (simple case folding, close enough for search). */
function foldCase(c: string): string {
  return c === '?' ? c : c.toUpperCase().toLowerCase();
}
