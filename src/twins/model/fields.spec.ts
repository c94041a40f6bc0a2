import { describe, expect, it } from '@jest/globals';
import { DomainError } from '../../common/domain-error.js';
import { parseFieldSelector, selectFields } from './fields.js';

describe('parseFieldSelector', () => {
  it.each([
    ['thingId', [['thingId']]],
    ['/thingId', [['thingId']]],
    ['thingId,policyId', [['thingId'], ['policyId']]],
    ['attributes/location/floor', [['attributes', 'location', 'floor']]],
    [
      'thingId,attributes(model,location/floor),features/lamp/properties(on,level)',
      [
        ['thingId'],
        ['attributes', 'model'],
        ['attributes', 'location', 'floor'],
        ['features', 'lamp', 'properties', 'on'],
        ['features', 'lamp', 'properties', 'level'],
      ],
    ],
    [
      'attributes(a(b,c/d),e),x',
      [['attributes', 'a', 'b'], ['attributes', 'a', 'c', 'd'], ['attributes', 'e'], ['x']],
    ],
    ['features/*/properties/on', [['features', '*', 'properties', 'on']]],
    ['features(*/properties(on))', [['features', '*', 'properties', 'on']]],
    ['(thingId,policyId)', [['thingId'], ['policyId']]],
    [
      'attributes(/a,/b)',
      [
        ['attributes', 'a'],
        ['attributes', 'b'],
      ],
    ],
    ['_revision,_modified', [['_revision'], ['_modified']]],
    ['attributes/house no', [['attributes', 'house no']]],
  ])('%j', (expr, pointers) => {
    const selector = parseFieldSelector(expr);
    expect(selector.pointers).toEqual(pointers);
    expect(selector.expression).toBe(expr);
  });

  it.each([
    ['', 'empty'],
    [',', 'empty entry'],
    ['thingId,', 'empty entry'],
    [',thingId', 'empty entry'],
    ['thingId,,policyId', 'empty entry'],
    ['/', 'empty entry'],
    ['attributes()', 'empty entry'],
    ['attributes(a,)', 'empty entry'],
    ['attributes(a', 'not closed'],
    ['attributes(a(b)', 'not closed'],
    ['attributes)a', "no matching '('"],
    ['attributes(a))', "no matching '('"],
    ['a)', "no matching '('"],
    ['attributes(a)b', "followed by ','"],
    ['attributes//a', 'empty segment'],
    ['attributes/', 'empty segment'],
    ['attributes/(a)', 'empty segment'],
    ['attributes(a//b)', 'empty segment'],
  ])('rejects %j', (expr, why) => {
    let caught: unknown;
    try {
      parseFieldSelector(expr);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DomainError);
    const err = caught as DomainError;
    expect(err.status).toBe(400);
    expect(err.code).toBe('things:field.selection.invalid');
    expect(err.message).toContain(why);
  });
});

it('rejects groups nested too deeply for the call stack', () => {
  const expr = 'a('.repeat(5000) + 'b' + ')'.repeat(5000);
  expect(() => parseFieldSelector(expr)).toThrow('nested deeper than 32 levels');
  expect(parseFieldSelector('a('.repeat(32) + 'b' + ')'.repeat(32)).pointers).toEqual([
    [...Array<string>(32).fill('a'), 'b'],
  ]);
});

const thing = {
  thingId: 'org.eclipse.ditto:thing',
  policyId: 'org.eclipse.ditto:policy',
  attributes: { model: 'X', location: { floor: 2, room: 'a' }, empty: {}, nil: null },
  features: {
    lamp: { properties: { on: true, level: 3 }, desiredProperties: { on: false } },
    switch: { definition: ['a:b:1'], properties: { on: false } },
    sensor: { properties: { temp: 20 } },
    bare: {},
  },
  _revision: 4,
  _modified: '2024-01-01T00:00:00Z',
};

describe('selectFields', () => {
  it.each([
    ['thingId', { thingId: thing.thingId }],
    ['policyId,thingId', { policyId: thing.policyId, thingId: thing.thingId }],
    ['attributes/model', { attributes: { model: 'X' } }],
    ['attributes(model,location/floor)', { attributes: { model: 'X', location: { floor: 2 } } }],
    ['attributes/location,attributes/location/floor', { attributes: { location: { floor: 2, room: 'a' } } }],
    ['attributes/location/floor,attributes/location', { attributes: { location: { floor: 2, room: 'a' } } }],
    ['attributes/empty', { attributes: { empty: {} } }],
    ['attributes/nil', { attributes: { nil: null } }],
    ['attributes/missing', {}],
    ['attributes/model/deeper', {}],
    ['attributes/missing,thingId', { thingId: thing.thingId }],
    ['definition', {}],
    [
      'features/*/properties/on',
      { features: { lamp: { properties: { on: true } }, switch: { properties: { on: false } } } },
    ],
    ['features/*/definition', { features: { switch: { definition: ['a:b:1'] } } }],
    [
      'features/*/properties/on,features/sensor',
      {
        features: {
          lamp: { properties: { on: true } },
          switch: { properties: { on: false } },
          sensor: { properties: { temp: 20 } },
        },
      },
    ],
    [
      'features/lamp/properties/level,features/*/properties/on',
      { features: { lamp: { properties: { level: 3, on: true } }, switch: { properties: { on: false } } } },
    ],
    ['features/*/properties/nope', {}],
    [
      'features/lamp(properties/on,desiredProperties)',
      { features: { lamp: { properties: { on: true }, desiredProperties: { on: false } } } },
    ],
    ['_revision,_modified', { _revision: 4, _modified: '2024-01-01T00:00:00Z' }],
    ['thingId,_revision', { thingId: thing.thingId, _revision: 4 }],
  ])('%j', (expr, expected) => {
    expect(selectFields(thing, parseFieldSelector(expr))).toEqual(expected);
  });

  it('orders the result as the selector does', () => {
    const out = selectFields(thing, parseFieldSelector('features,attributes,thingId'));
    expect(Object.keys(out)).toEqual(['features', 'attributes', 'thingId']);
  });

  it('lists wildcard matches in the order of the document', () => {
    const out = selectFields(thing, parseFieldSelector('features/*/properties'));
    expect(Object.keys(out.features as object)).toEqual(['lamp', 'switch', 'sensor']);
  });

  it('works on a sub-resource', () => {
    const attributes = thing.attributes as Record<string, unknown>;
    expect(selectFields(attributes, parseFieldSelector('model,location/room'))).toEqual({
      model: 'X',
      location: { room: 'a' },
    });
    expect(selectFields(thing.features, parseFieldSelector('*/properties/on'))).toEqual({
      lamp: { properties: { on: true } },
      switch: { properties: { on: false } },
    });
  });

  it('does not mutate the document', () => {
    const copy = structuredClone(thing);
    selectFields(thing, parseFieldSelector('attributes/location/floor,features/*/properties/on'));
    expect(thing).toEqual(copy);
  });

  it('ignores inherited keys', () => {
    expect(selectFields({ a: 1 }, parseFieldSelector('toString,constructor,__proto__'))).toEqual({});
  });
});
