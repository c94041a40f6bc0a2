/**
 * A thing's document is serialized once per change: the size limit measures that text (twin-change)
 * and the repository writes the same text. Taken on write, so the twin cache, which keeps the
 * document, does not keep its text as well.
 */
const texts = new WeakMap<object, string>();

/** The document's JSON, kept for its write. */
export function serializeDoc(doc: object): string {
  const text = JSON.stringify(doc);
  texts.set(doc, text);
  return text;
}

/** The document's JSON for writing: as its change serialized it, or now. */
export function takeDocJson(doc: object): string {
  const text = texts.get(doc);
  if (text === undefined) return JSON.stringify(doc);
  texts.delete(doc);
  return text;
}
