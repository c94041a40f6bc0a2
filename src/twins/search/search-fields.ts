/**
 * What a search property (in a filter or a sort option) may address: a system field kept as a
 * column, or a JSON pointer into the Thing document. Shared by the RQL parser and the option
 * parser so both accept exactly the same properties and render them the same way.
 */

export const COLUMN_FIELDS = [
  'thingId',
  'policyId',
  '_namespace',
  '_revision',
  '_created',
  '_modified',
] as const;
export type ColumnField = (typeof COLUMN_FIELDS)[number];

const DOC_ROOTS = ['attributes', 'features', 'definition'];

export type SearchField =
  | { kind: 'column'; name: ColumnField }
  /** `path` holds decoded keys; a `*` key (only as the feature id) matches every feature. */
  | { kind: 'doc'; path: string[]; wildcard: boolean };

export type FieldResult = { ok: true; field: SearchField } | { ok: false; message: string; offset: number };

function isColumn(name: string): name is ColumnField {
  return (COLUMN_FIELDS as readonly string[]).includes(name);
}

/**
 * Resolves a property as written by the client (`attributes/a`, `/features/f/properties/x`,
 * `thingId`). Failures carry the offset inside `pointer`, so callers can report the position
 * in their own input.
 */
export function resolveField(pointer: string, allowWildcard: boolean): FieldResult {
  const start = pointer.startsWith('/') ? 1 : 0;
  if (pointer.length === start) return fail('the property is empty', 0);
  const segments: string[] = [];
  const offsets: number[] = [];
  let offset = start;
  for (const raw of pointer.slice(start).split('/')) {
    offsets.push(offset);
    if (raw === '') return fail(`empty segment in property '${pointer}'`, offset);
    const badTilde = /~(?![01])/.exec(raw);
    if (badTilde)
      return fail(`invalid escape '~' in property '${pointer}' (only ~0 and ~1)`, offset + badTilde.index);
    if (raw.includes('\u0000'))
      return fail(`NUL character in property '${pointer}'`, offset + raw.indexOf('\u0000'));
    segments.push(raw.replace(/~1/g, '/').replace(/~0/g, '~'));
    offset += raw.length + 1;
  }

  const [root] = segments;
  if (isColumn(root)) {
    if (segments.length > 1) return fail(`'${root}' has no sub-properties`, offsets[1]);
    return { ok: true, field: { kind: 'column', name: root } };
  }
  if (root.startsWith('_')) return fail(`unknown system field '${root}'`, start);
  if (!DOC_ROOTS.includes(root)) {
    return fail(
      `unknown property root '${root}': use thingId, policyId, _namespace, _revision, _created, _modified, ` +
        'attributes, features or definition',
      start,
    );
  }
  if (root === 'definition' && segments.length > 1)
    return fail(`'definition' has no sub-properties`, offsets[1]);

  let wildcard = false;
  for (const [i, segment] of segments.entries()) {
    if (segment !== '*') continue;
    if (root !== 'features' || i !== 1) {
      return fail(`'*' is only allowed as the feature id (features/*/...)`, offsets[i]);
    }
    if (!allowWildcard) return fail(`'*' (any feature) is not allowed here`, offsets[i]);
    wildcard = true;
  }
  return { ok: true, field: { kind: 'doc', path: segments, wildcard } };
}

/** The canonical spelling of a field: no leading slash, `~` and `/` in keys escaped. */
export function formatField(field: SearchField): string {
  if (field.kind === 'column') return field.name;
  return field.path
    .map((key) => (key === '*' ? key : key.replace(/~/g, '~0').replace(/\//g, '~1')))
    .join('/');
}

function fail(message: string, offset: number): FieldResult {
  return { ok: false, message, offset };
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Checks an ISO-8601 date or date-time for `_created`/`_modified` and returns it in a form
 * Postgres parses the same under any session setting (no zone means UTC), or undefined.
 * Validating here keeps a bad date a client error instead of a failing SQL statement.
 */
export function normalizeTimestamp(text: string): string | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = m;
  const y = Number(year);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Number(month) - 1];
  // Postgres has no year 0.
  if (y === 0 || daysInMonth === undefined) return undefined;
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth)
    return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  if (zone.length > 1 && (Number(zone.slice(1, 3)) > 15 || Number(zone.slice(-2)) > 59)) return undefined;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${zone.toUpperCase()}`;
}
