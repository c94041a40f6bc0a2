import { metadataView } from './metadata.js';
import { parseFieldSelector, selectFields } from './model/fields.js';
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
  return selectFields(
    {
      ...doc,
      _namespace: t.namespace,
      _revision: t.revision,
      _created: t.created,
      _modified: t.modified,
      _metadata: metadataView(t.metadata),
    },
    selector,
  );
}

export function parseFields(fields: string | undefined): FieldSelector | undefined {
  return fields === undefined || fields === '' ? undefined : parseFieldSelector(fields);
}
