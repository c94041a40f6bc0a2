import { isJsonObject } from '../twins/model/json-pointer.js';
/**
 * Ditto's `{{ request:subjectId }}` placeholder in the subject ids of a policy (or one entry, or
 * a subjects object): replaced by the requester's default subject. Spaces inside the braces are
 * optional, as in Ditto. Other values pass through unchanged.
 */
const PLACEHOLDER = '{{request:subjectId}}';

export function isRequestSubject(key: string): boolean {
  return key.length <= 64 && key.replace(/\s/g, '') === PLACEHOLDER;
}

export function withRequestSubject(value: unknown, subject: string): unknown {
  if (!isJsonObject(value)) return value;
  if (isJsonObject(value.entries)) {
    const entries = mapValues(value.entries, (entry) => withRequestSubjectInEntry(entry, subject));
    return { ...value, entries };
  }
  return value;
}

export function withRequestSubjectInEntry(entry: unknown, subject: string): unknown {
  if (!isJsonObject(entry) || !isJsonObject(entry.subjects)) return entry;
  return { ...entry, subjects: withRequestSubjectInSubjects(entry.subjects, subject) };
}

export function withRequestSubjectInSubjects(subjects: unknown, subject: string): unknown {
  if (!isJsonObject(subjects)) return subjects;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(subjects)) define(out, isRequestSubject(k) ? subject : k, v);
  return out;
}

function mapValues(obj: Record<string, unknown>, f: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) define(out, k, f(v));
  return out;
}

function define(into: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}
