import { formatField, type SearchField } from './search-fields.js';

/** The syntax tree of a Ditto RQL filter, as produced by `parseRql`. */

export const COMPARISON_OPS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'like', 'ilike'] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

export type RqlPlaceholder = 'time:now' | 'time:now_epoch_millis';

/**
 * Ditto's placeholders that may stand where a property goes, e.g. `eq(topic:action,"created")`.
 * They describe a change notification, not a thing, so only event filters can resolve them.
 */
export const PROPERTY_PLACEHOLDERS = [
  'topic:full',
  'topic:namespace',
  'topic:entityName',
  'topic:group',
  'topic:channel',
  'topic:criterion',
  'topic:action',
  'resource:type',
  'resource:path',
] as const;
export type PropertyPlaceholder = (typeof PROPERTY_PLACEHOLDERS)[number];

/** What a filter property names: a field of the thing, or a placeholder of the event. */
export type FilterField = SearchField | { kind: 'placeholder'; name: PropertyPlaceholder };

export type RqlValue =
  | { kind: 'string'; value: string }
  /** `raw` is the literal as written, so large or precise numbers reach Postgres unrounded. */
  | { kind: 'number'; value: number; raw: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'placeholder'; name: RqlPlaceholder };

export interface RqlProperty {
  field: FilterField;
  /** Offset of the property in the filter string, for error messages. */
  pos: number;
}

export type RqlNode =
  | { type: 'and' | 'or'; children: RqlNode[] }
  | { type: 'not'; child: RqlNode }
  | { type: 'compare'; op: ComparisonOp; property: RqlProperty; value: RqlValue }
  | { type: 'in'; property: RqlProperty; values: RqlValue[] }
  | { type: 'exists' | 'empty'; property: RqlProperty };

export function formatProperty(field: FilterField): string {
  return field.kind === 'placeholder' ? field.name : formatField(field);
}

export function formatValue(value: RqlValue): string {
  switch (value.kind) {
    case 'string':
      return JSON.stringify(value.value);
    case 'number':
      return value.raw;
    case 'boolean':
      return String(value.value);
    case 'null':
      return 'null';
    case 'placeholder':
      return value.name;
  }
}

/**
 * Prints a node back as normalized RQL (canonical property spelling, double-quoted strings, no
 * spaces). Two filters that mean the same print the same, which is what cursors are bound to.
 */
export function formatRql(node: RqlNode): string {
  switch (node.type) {
    case 'and':
    case 'or':
      return `${node.type}(${node.children.map(formatRql).join(',')})`;
    case 'not':
      return `not(${formatRql(node.child)})`;
    case 'compare':
      return `${node.op}(${formatProperty(node.property.field)},${formatValue(node.value)})`;
    case 'in':
      return `in(${formatProperty(node.property.field)},${node.values.map(formatValue).join(',')})`;
    case 'exists':
    case 'empty':
      return `${node.type}(${formatProperty(node.property.field)})`;
  }
}
