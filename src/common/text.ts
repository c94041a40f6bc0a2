/**
 * What PostgreSQL can store as text and jsonb: no NUL, and no lone UTF-16 surrogate (it would
 * need a code point that does not exist). Such text is refused up front instead of failing the
 * transaction (a 500) or being stored altered.
 */
export function storableText(s: string): boolean {
  if (s.includes('\u0000')) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const next = s.charCodeAt(i + 1);
    if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/** What a parsed JSON value holds that cannot be stored as it was sent; undefined when nothing. */
export function unstorableJson(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!storableText(v)) return 'a string with a NUL character or a lone surrogate';
    } else if (typeof v === 'number') {
      // JSON.parse turns 1e400 into Infinity, which would be stored as null.
      if (!Number.isFinite(v)) return 'a number out of range';
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (!storableText(k)) return 'a key with a NUL character or a lone surrogate';
        stack.push(child);
      }
    }
  }
  return undefined;
}
