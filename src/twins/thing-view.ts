import { metadataView } from './metadata.js';
import { parseFieldSelector, selectFields, WILDCARD } from './model/fields.js';
import { regularFields } from './model/thing-fields.js';
import type { StoredThing } from './twin.types.js';

export type FieldSelector = ReturnType<typeof parseFieldSelector>;

/**
 * The Thing as a client sees it. System fields (`_revision`, `_created`, `_modified`,
 * `_namespace`) appear only when `fields` asks for them, as in Ditto.
 */
export function thingView(t: StoredThing, selector?: FieldSelector): Record<string, unknown> {
  const doc = regularFields(t.doc);
  if (!selector) return doc;
  const view: Record<string, unknown> = {
    ...doc,
    _namespace: t.namespace,
    _revision: t.revision,
    _created: t.created,
    _modified: t.modified,
  };
  // The metadata tree is built leaf by leaf from the stored leaf times: only when asked for.
  if (selectsMetadata(selector)) view._metadata = metadataView(t.metadata);
  return selectFields(view, selector);
}

/**
 * Whether a view with this selector shows `_metadata`; reads that say no need not load it
 * (a thing's leaf times are stored beside its document and are often larger).
 */
export function selectsMetadata(selector: FieldSelector | undefined): boolean {
  return selector?.pointers.some((p) => p[0] === '_metadata' || p[0] === WILDCARD) ?? false;
}

export function parseFields(fields: string | undefined): FieldSelector | undefined {
  return fields === undefined || fields === '' ? undefined : parseFieldSelector(fields);
}
