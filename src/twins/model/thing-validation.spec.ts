import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import {
  classifyPath,
  notFoundCodeFor,
  validateFeature,
  validateThingBody,
  validateValueAt,
  type PathKind,
} from './thing-validation.js';

/** `"<status> <code>"` of the DomainError thrown, or `ok`. */
function outcome(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'ok';
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

const KEY_INVALID = '400 json.key.invalid';
const JSON_INVALID = '400 json.invalid';
const DEF_INVALID = '400 things:definition.identifier.invalid';

describe('validateThingBody', () => {
  const full = {
    thingId: 'com.acme:BE-42',
    policyId: 'com.acme:policy',
    definition: 'com.acme:coffeebrewer:0.1.0',
    attributes: { manufacturer: 'ACME', location: { floor: 2 }, list: [{ 'a/b': 1 }] },
    features: {
      'coffee-brewer': { definition: ['com.acme:coffeebrewer:0.1.0'], properties: { 'brewed-coffees': 0 } },
      'water-tank': { properties: { status: { temperature: 44 } }, desiredProperties: { temperature: 50 } },
      empty: {},
    },
  };

  it('accepts a full thing and returns its fields', () => {
    expect(validateThingBody(full, { thingId: 'com.acme:BE-42' })).toEqual(full);
  });

  it('accepts an empty object and returns nothing', () => {
    expect(validateThingBody({}, {})).toEqual({});
  });

  it('accepts and drops _policy and _copyPolicyFrom', () => {
    expect(validateThingBody({ _policy: { entries: {} }, attributes: {} }, {})).toEqual({ attributes: {} });
    expect(validateThingBody({ _copyPolicyFrom: 'a:b' }, {})).toEqual({});
  });

  it('keeps a null definition', () => {
    expect(validateThingBody({ definition: null }, {})).toEqual({ definition: null });
  });

  it.each([
    ['a non-object body', [], JSON_INVALID],
    ['a null body', null, JSON_INVALID],
    ['a string body', 'thing', JSON_INVALID],
    ['_revision', { _revision: 1 }, JSON_INVALID],
    ['_created', { _created: 'x' }, JSON_INVALID],
    ['_modified', { _modified: 'x' }, JSON_INVALID],
    ['_namespace', { _namespace: 'x' }, JSON_INVALID],
    ['_metadata', { _metadata: {} }, JSON_INVALID],
    ['_context', { _context: {} }, JSON_INVALID],
    ['an unknown key', { foo: 1 }, JSON_INVALID],
    ['an invalid thingId', { thingId: 'nope' }, '400 things:id.invalid'],
    ['a non-string thingId', { thingId: 5 }, '400 things:id.invalid'],
    ['a different thingId', { thingId: 'a:other' }, '400 things:id.notsettable'],
    ['an invalid policyId', { policyId: 'nope' }, '400 policies:id.invalid'],
    ['a null policyId', { policyId: null }, '400 policies:id.invalid'],
    ['an invalid definition', { definition: 'not-a-definition' }, DEF_INVALID],
    ['a non-string definition', { definition: 5 }, DEF_INVALID],
    ['an ftp definition', { definition: 'ftp://x.org/model' }, DEF_INVALID],
    ['array attributes', { attributes: [] }, JSON_INVALID],
    ['null attributes', { attributes: null }, JSON_INVALID],
    ['an attribute key with a slash', { attributes: { 'a/b': 1 } }, KEY_INVALID],
    ['a nested attribute key with a control char', { attributes: { a: { 'b\nc': 1 } } }, KEY_INVALID],
    ['an empty attribute key', { attributes: { '': 1 } }, KEY_INVALID],
    ['an attribute key with ä', { attributes: { ä: 1 } }, KEY_INVALID],
    ['null features', { features: null }, JSON_INVALID],
    ['a feature id with a slash', { features: { 'a/b': {} } }, KEY_INVALID],
    ['a * feature id', { features: { '*': {} } }, KEY_INVALID],
    ['a null feature', { features: { lamp: null } }, JSON_INVALID],
    ['an unknown feature key', { features: { lamp: { foo: 1 } } }, JSON_INVALID],
    [
      'an empty feature definition',
      { features: { lamp: { definition: [] } } },
      '400 things:feature.definition.empty',
    ],
    ['a bad property key', { features: { lamp: { properties: { 'a/b': 1 } } } }, KEY_INVALID],
    ['_policy that is no object', { _policy: 'x' }, JSON_INVALID],
    ['_copyPolicyFrom that is no string', { _copyPolicyFrom: 1 }, JSON_INVALID],
    [
      '_policy with _copyPolicyFrom',
      { _policy: {}, _copyPolicyFrom: 'a:b' },
      '400 things:policy.conflicting',
    ],
  ])('rejects %s', (_name, body, expected) => {
    expect(outcome(() => validateThingBody(body, { thingId: 'a:b' }))).toBe(expected);
  });

  it('accepts any valid thingId when the URI gives none', () => {
    expect(validateThingBody({ thingId: 'x:y' }, {})).toEqual({ thingId: 'x:y' });
  });

  it.each([
    [{ _revision: 1 }, "'_revision'"],
    [{ foo: 1 }, "'foo'"],
    [{ features: { lamp: { foo: 1 } } }, "'foo'"],
    [{ attributes: { 'a/b': 1 } }, '<a/b>'],
  ])('names the offending field of %j', (body, name) => {
    expect(messageOf(() => validateThingBody(body, {}))).toContain(name);
  });
});

describe('validateFeature', () => {
  it.each([
    [{}, 'ok'],
    [{ definition: ['a:b:1.0.0', 'https://models.example.org/lamp-1.0.0.tm.jsonld'] }, 'ok'],
    [{ properties: {}, desiredProperties: { a: [1, { b: 2 }] } }, 'ok'],
    [{ definition: [] }, '400 things:feature.definition.empty'],
    [{ definition: ['a:b:1', 'a:b:1'] }, DEF_INVALID],
    [{ definition: ['nope'] }, DEF_INVALID],
    [{ definition: [5] }, DEF_INVALID],
    [{ definition: 'a:b:1' }, JSON_INVALID],
    [{ properties: 5 }, JSON_INVALID],
    [{ properties: [] }, JSON_INVALID],
    [{ desiredProperties: null }, JSON_INVALID],
    [{ thingId: 'a:b' }, JSON_INVALID],
    [[], JSON_INVALID],
  ])('%j → %s', (value, expected) => {
    expect(outcome(() => validateFeature('lamp', value))).toBe(expected);
  });

  it.each(['', '*', 'a/b', 'tab\t', 'ä'])('rejects the feature id %j', (id) => {
    expect(outcome(() => validateFeature(id, {}))).toBe(KEY_INVALID);
  });

  it.each(['lamp', 'lamp-1', 'with space', '$x', '名前'])('accepts the feature id %j', (id) => {
    expect(outcome(() => validateFeature(id, {}))).toBe('ok');
  });
});

describe('classifyPath', () => {
  it.each<[string[], PathKind, string | undefined]>([
    [[], 'thing', undefined],
    [['policyId'], 'policyId', undefined],
    [['definition'], 'definition', undefined],
    [['attributes'], 'attributes', undefined],
    [['attributes', 'a'], 'attribute', undefined],
    [['attributes', 'a', 'b', 'c'], 'attribute', undefined],
    [['features'], 'features', undefined],
    [['features', 'lamp'], 'feature', 'lamp'],
    [['features', 'lamp', 'definition'], 'featureDefinition', 'lamp'],
    [['features', 'lamp', 'properties'], 'properties', 'lamp'],
    [['features', 'lamp', 'properties', 'on'], 'property', 'lamp'],
    [['features', 'lamp', 'properties', 'a', 'b'], 'property', 'lamp'],
    [['features', 'lamp', 'desiredProperties'], 'desiredProperties', 'lamp'],
    [['features', 'lamp', 'desiredProperties', 'on'], 'desiredProperty', 'lamp'],
  ])('%j → %s', (segments, kind, featureId) => {
    const result = classifyPath(segments);
    expect(result.kind).toBe(kind);
    expect(result.featureId).toBe(featureId);
  });

  it.each([
    [['thingId'], '404 gateway:resource.notfound'],
    [['foo'], '404 gateway:resource.notfound'],
    [['_revision'], '404 gateway:resource.notfound'],
    [['policyId', 'x'], '404 gateway:resource.notfound'],
    [['definition', 'x'], '404 gateway:resource.notfound'],
    [['features', 'lamp', 'foo'], '404 gateway:resource.notfound'],
    [['features', 'lamp', 'definition', '0'], '404 gateway:resource.notfound'],
    [['features', '*'], KEY_INVALID],
    [['features', 'l\u0001'], KEY_INVALID],
    [['attributes', 'a\u0000'], KEY_INVALID],
    [['features', 'lamp', 'properties', 'ü'], KEY_INVALID],
    [['attributes', ''], '400 json.pointer.invalid'],
    [['', 'x'], '400 json.pointer.invalid'],
  ])('rejects %j', (segments, expected) => {
    expect(outcome(() => classifyPath(segments))).toBe(expected);
  });
});

describe('notFoundCodeFor', () => {
  it.each<[PathKind, string]>([
    ['thing', 'things:thing.notfound'],
    ['policyId', 'things:policyId.notfound'],
    ['definition', 'things:definition.notfound'],
    ['attributes', 'things:attributes.notfound'],
    ['attribute', 'things:attribute.notfound'],
    ['features', 'things:features.notfound'],
    ['feature', 'things:feature.notfound'],
    ['featureDefinition', 'things:feature.definition.notfound'],
    ['properties', 'things:feature.properties.notfound'],
    ['property', 'things:feature.property.notfound'],
    ['desiredProperties', 'things:feature.desiredProperties.notfound'],
    ['desiredProperty', 'things:feature.desiredProperty.notfound'],
  ])('%s → %s', (kind, code) => {
    expect(notFoundCodeFor(kind)).toBe(code);
  });
});

describe('validateValueAt', () => {
  it.each<[string[], unknown, string]>([
    [[], { attributes: {} }, 'ok'],
    [[], { _revision: 1 }, JSON_INVALID],
    [['policyId'], 'a:b', 'ok'],
    [['policyId'], 'nope', '400 policies:id.invalid'],
    [['policyId'], 5, '400 policies:id.invalid'],
    [['definition'], 'a:b:c', 'ok'],
    [['definition'], 'https://example.org/model.tm.jsonld', 'ok'],
    [['definition'], null, 'ok'],
    [['definition'], 'x', DEF_INVALID],
    [['attributes'], { a: { b: 1 } }, 'ok'],
    [['attributes'], 5, JSON_INVALID],
    [['attributes'], { 'a/b': 1 }, KEY_INVALID],
    [['attributes', 'a', 'b'], 5, 'ok'],
    [['attributes', 'a'], null, 'ok'],
    [['attributes', 'a'], [1, 'x', { y: 2 }], 'ok'],
    [['attributes', 'a'], { 'b\u0007': 1 }, KEY_INVALID],
    [['attributes', 'a'], undefined, JSON_INVALID],
    [['features'], { lamp: { properties: { on: true } } }, 'ok'],
    [['features'], { lamp: 5 }, JSON_INVALID],
    [['features'], [], JSON_INVALID],
    [['features', 'lamp'], { properties: { on: true } }, 'ok'],
    [['features', 'lamp'], { definition: [] }, '400 things:feature.definition.empty'],
    [['features', 'lamp'], 'on', JSON_INVALID],
    [['features', 'lamp', 'definition'], ['a:b:1'], 'ok'],
    [['features', 'lamp', 'definition'], [], '400 things:feature.definition.empty'],
    [['features', 'lamp', 'definition'], ['x'], DEF_INVALID],
    [['features', 'lamp', 'properties'], { on: true }, 'ok'],
    [['features', 'lamp', 'properties'], true, JSON_INVALID],
    [['features', 'lamp', 'desiredProperties'], { on: true }, 'ok'],
    [['features', 'lamp', 'desiredProperties'], [], JSON_INVALID],
    [['features', 'lamp', 'properties', 'on'], true, 'ok'],
    [['features', 'lamp', 'desiredProperties', 'on', 'x'], { y: 'z' }, 'ok'],
    [['features', 'lamp', 'properties', 'on'], { '': 1 }, KEY_INVALID],
    [['thingId'], 'a:b', '404 gateway:resource.notfound'],
    [['features', '*', 'properties'], {}, KEY_INVALID],
  ])('%j = %j → %s', (segments, value, expected) => {
    expect(outcome(() => validateValueAt(segments, value))).toBe(expected);
  });
});

describe('deeply nested input', () => {
  it('is checked without exhausting the call stack', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 50_000; i++) deep = { a: deep };
    expect(outcome(() => validateValueAt(['attributes'], deep))).toBe('ok');
  });
});
