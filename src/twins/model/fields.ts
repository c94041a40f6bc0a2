import { DomainError } from '../../common/domain-error.js';
import { Errors } from '../../common/errors.js';
import { queryLimits } from '../../common/query-limits.js';
import { hasKey, isJsonObject, parsePointer, putKey, type JsonObject } from './json-pointer.js';

/** Matches any key at its level; meant for feature IDs, which can never be `*` themselves. */
export const WILDCARD = '*';

/** Real selectors nest a few levels; the cap keeps a hostile query string off the call stack. */
const MAX_GROUP_DEPTH = 32;

/** A parsed `fields` expression: the JSON pointers it selects, groups flattened. */
export interface FieldSelector {
  expression: string;
  pointers: string[][];
}

/**
 * Parses Ditto's field selector syntax, e.g.
 * `thingId,attributes(model,location/floor),features/*\/properties/on`. Groups nest.
 */
export function parseFieldSelector(expr: string): FieldSelector {
  const fail = (why: string): never => {
    throw Errors.fieldSelectionInvalid(expr, why);
  };
  if (expr === '') fail('it is empty.');
  let pos = 0;

  const parseList = (prefix: string[], depth: number): string[][] => {
    const out: string[][] = [];
    for (;;) {
      out.push(...parseEntry(prefix, depth));
      if (pos < expr.length && expr[pos] === ',') {
        pos++;
        continue;
      }
      return out;
    }
  };

  const parseEntry = (prefix: string[], depth: number): string[][] => {
    const start = pos;
    while (pos < expr.length && !',()'.includes(expr[pos])) pos++;
    const path = expr.slice(start, pos);
    const next = pos < expr.length ? expr[pos] : '';
    if (next === '(') {
      if (depth >= MAX_GROUP_DEPTH) fail(`groups are nested deeper than ${MAX_GROUP_DEPTH} levels.`);
      pos++;
      const head = [...prefix, ...segmentsOf(path, fail)];
      const inner = parseList(head, depth + 1);
      if (expr[pos] !== ')') fail(`a '(' at position ${start + path.length} is not closed.`);
      pos++;
      if (pos < expr.length && expr[pos] !== ',' && expr[pos] !== ')') {
        fail(`a group must be followed by ',' or ')' (position ${pos}).`);
      }
      return inner;
    }
    if (next === ')' && depth === 0) fail(`the ')' at position ${pos} has no matching '('.`);
    if (path === '' || path === '/') fail(`it contains an empty entry at position ${start}.`);
    return [[...prefix, ...segmentsOf(path, fail)]];
  };

  const pointers = parseList([], 0);
  if (pos < expr.length) fail(`the ')' at position ${pos} has no matching '('.`);
  // Every selected field is walked in every returned thing.
  const maxFields = queryLimits().fields;
  if (pointers.length > maxFields) fail(`it selects more than ${maxFields} fields.`);
  return { expression: expr, pointers };
}

function segmentsOf(path: string, fail: (why: string) => never): string[] {
  try {
    return parsePointer(path);
  } catch (err) {
    if (err instanceof DomainError) fail(`'${path}' contains an empty segment.`);
    throw err;
  }
}

/** A trie of selected pointers; `all` means the whole value at that node is selected. */
interface Node {
  all: boolean;
  children: Map<string, Node>;
}

/**
 * The parts of `doc` the selector names, in the selector's order and with the JSON structure
 * kept. Pointers to absent paths contribute nothing; an object reached only through deeper
 * pointers is left out when none of them matched. Works the same on any JSON object, so
 * callers may add system fields or pass a sub-resource.
 */
export function selectFields(doc: Record<string, unknown>, selector: FieldSelector): Record<string, unknown> {
  const selected = selectObject(doc, trieOf(selector.pointers));
  return selected ?? {};
}

function trieOf(pointers: readonly string[][]): Node {
  const root: Node = { all: false, children: new Map() };
  for (const pointer of pointers) {
    let node = root;
    for (const key of pointer) {
      let child = node.children.get(key);
      if (!child) {
        child = { all: false, children: new Map() };
        node.children.set(key, child);
      }
      node = child;
    }
    node.all = true;
  }
  return root;
}

function selectValue(value: unknown, nodes: readonly Node[]): unknown {
  if (nodes.some((n) => n.all)) return value;
  if (!isJsonObject(value)) return undefined;
  return selectObject(value, nodes.length === 1 ? nodes[0] : mergeNodes(nodes));
}

function selectObject(obj: JsonObject, node: Node): JsonObject | undefined {
  // Each key of the result with every trie branch that reaches it (named or by wildcard).
  const branches = new Map<string, Node[]>();
  const add = (key: string, child: Node): void => {
    if (!hasKey(obj, key)) return;
    const list = branches.get(key);
    if (list) list.push(child);
    else branches.set(key, [child]);
  };
  for (const [key, child] of node.children) {
    if (key === WILDCARD) for (const k of Object.keys(obj)) add(k, child);
    else add(key, child);
  }
  const out: JsonObject = {};
  let found = false;
  for (const [key, nodes] of branches) {
    const value = selectValue(obj[key], nodes);
    if (value !== undefined) {
      putKey(out, key, value);
      found = true;
    }
  }
  return found ? out : undefined;
}

function mergeNodes(nodes: readonly Node[]): Node {
  const merged: Node = { all: nodes.some((n) => n.all), children: new Map() };
  const grouped = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const [key, child] of n.children) {
      const list = grouped.get(key);
      if (list) list.push(child);
      else grouped.set(key, [child]);
    }
  }
  for (const [key, list] of grouped) merged.children.set(key, list.length === 1 ? list[0] : mergeNodes(list));
  return merged;
}
