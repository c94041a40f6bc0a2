import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { expectDittoResponse, matchSpecPath } from './openapi.js';

const THING_URL = '/api/2/things/org.example:lamp-1';
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

/** Shaped like a supertest response to a JSON body. */
function json(
  status: number,
  value: unknown,
): { status: number; body: unknown; headers: Record<string, unknown>; text: string } {
  const text = JSON.stringify(value);
  // Like supertest: objects/arrays are parsed into body, scalars are left as {} with the text in `text`.
  const body = typeof value === 'object' && value !== null ? (JSON.parse(text) as unknown) : {};
  return { status, body, headers: JSON_HEADERS, text };
}

function empty(status: number): {
  status: number;
  body: unknown;
  headers: Record<string, unknown>;
  text: string;
} {
  return { status, body: {}, headers: {}, text: '' };
}

function without<T extends object>(value: T, key: keyof T): Partial<T> {
  const copy: Partial<T> = { ...value };
  delete copy[key];
  return copy;
}

const thing = {
  thingId: 'org.example:lamp-1',
  policyId: 'org.example:lamp-1',
  attributes: { location: 'kitchen' },
  features: { light: { properties: { on: true } } },
};
const notFound = { status: 404, error: 'things:thing.notfound', message: 'x', description: 'y' };

describe('matchSpecPath', () => {
  it.each([
    ['/api/2/things', '/api/2/things'],
    ['/api/2/things?ids=a:b,c:d', '/api/2/things'],
    [THING_URL, '/api/2/things/{thingId}'],
    [`${THING_URL}/attributes`, '/api/2/things/{thingId}/attributes'],
    [`${THING_URL}/attributes/location`, '/api/2/things/{thingId}/attributes/{attributePath}'],
    [`${THING_URL}/attributes/a/b/c`, '/api/2/things/{thingId}/attributes/{attributePath}'],
    [`${THING_URL}/features/light`, '/api/2/things/{thingId}/features/{featureId}'],
    [`${THING_URL}/features/light/properties`, '/api/2/things/{thingId}/features/{featureId}/properties'],
    [
      `${THING_URL}/features/light/properties/status/on`,
      '/api/2/things/{thingId}/features/{featureId}/properties/{propertyPath}',
    ],
    [
      `${THING_URL}/features/light/desiredProperties/status/on`,
      '/api/2/things/{thingId}/features/{featureId}/desiredProperties/{propertyPath}',
    ],
    [`${THING_URL}/features/light/definition`, '/api/2/things/{thingId}/features/{featureId}/definition'],
    // A multi-segment attribute path that looks like a feature path is still an attribute path.
    [`${THING_URL}/attributes/features/x/properties/y`, '/api/2/things/{thingId}/attributes/{attributePath}'],
    ['/api/2/search/things', '/api/2/search/things'],
    ['/api/2/search/things/count?filter=eq(a,1)', '/api/2/search/things/count'],
    [
      '/api/2/policies/org.example:p/entries/owner/resources/thing:/features/x',
      '/api/2/policies/{policyId}/entries/{label}/resources/{resourcePath}',
    ],
  ])('%s → %s', (url, template) => {
    expect(matchSpecPath(url)).toBe(template);
  });

  it('returns undefined for paths the spec does not describe', () => {
    expect(matchSpecPath('/api/2/nope')).toBeUndefined();
    expect(matchSpecPath('/api/1/things/a:b')).toBeUndefined();
  });
});

describe('expectDittoResponse', () => {
  it('accepts a valid Thing for GET /api/2/things/{thingId} 200', () => {
    expect(() => expectDittoResponse('GET', THING_URL, json(200, thing))).not.toThrow();
  });

  it('rejects a Thing whose thingId is a number, naming method, template, status and the error', () => {
    const call = (): void => expectDittoResponse('get', THING_URL, json(200, { ...thing, thingId: 42 }));
    expect(call).toThrow(/GET \/api\/2\/things\/\{thingId\} → 200/);
    expect(call).toThrow(/thingId: must be string/);
  });

  it('rejects a Thing without its required policyId', () => {
    const noPolicy = without(thing, 'policyId');
    expect(() => expectDittoResponse('get', THING_URL, json(200, noPolicy))).toThrow(
      /required property 'policyId'/,
    );
  });

  it('accepts a Ditto error body for a documented 404 and rejects one without message', () => {
    expect(() => expectDittoResponse('get', THING_URL, json(404, notFound))).not.toThrow();
    const noMessage = without(notFound, 'message');
    expect(() => expectDittoResponse('get', THING_URL, json(404, noMessage))).toThrow(
      /→ 404[\s\S]*required property 'message'/,
    );
  });

  it('does not modify the body it validates (the library fills in schema defaults)', () => {
    // SubjectAnnouncement.randomizationInterval has `default: 5m`.
    // Without `text` the helper validates `body` itself, so that is the object that must stay untouched.
    const body = { type: 'user', announcement: { whenDeleted: true } };
    const res = { status: 200, body, headers: JSON_HEADERS };
    const before = JSON.stringify(res.body);
    expectDittoResponse('get', '/api/2/policies/org.example:p/entries/owner/subjects/nginx:alice', res);
    expect(JSON.stringify(res.body)).toBe(before);
  });

  it('requires an empty body for a documented 204 and rejects a non-empty one', () => {
    expect(() => expectDittoResponse('delete', THING_URL, empty(204))).not.toThrow();
    expect(() => expectDittoResponse('delete', THING_URL, json(204, { deleted: true }))).toThrow(
      /DELETE \/api\/2\/things\/\{thingId\} → 204.*documents no content/,
    );
  });

  it('rejects an undocumented success status, and holds undocumented errors to the error schema', () => {
    expect(() =>
      expectDittoResponse('get', THING_URL, json(202, { thingId: 'a:b', policyId: 'a:b' })),
    ).toThrow(/status 202 is not documented/);
    expect(() =>
      expectDittoResponse('get', THING_URL, json(418, { status: 418, error: 'x', message: 'y' })),
    ).not.toThrow();
    expect(() => expectDittoResponse('get', THING_URL, json(418, { status: 418, error: 'x' }))).toThrow(
      /not Ditto's error JSON/,
    );
  });

  it('accepts a 304 without a body, even where the operation does not list 304, and rejects one with a body', () => {
    expect(() => expectDittoResponse('get', THING_URL, empty(304))).not.toThrow();
    expect(() => expectDittoResponse('get', '/api/2/search/things/count', empty(304))).not.toThrow();
    expect(() => expectDittoResponse('get', THING_URL, json(304, thing))).toThrow(
      /304 response must not have a body/,
    );
  });

  it('validates JSON scalars from the text, not supertest’s {} body', () => {
    expect(() => expectDittoResponse('get', '/api/2/search/things/count', json(200, 3))).not.toThrow();
    expect(() => expectDittoResponse('get', '/api/2/search/things/count', json(200, 'three'))).toThrow(
      /\(root\): must be integer/,
    );
    // The policyId resource is a JSON string.
    expect(() =>
      expectDittoResponse('get', `${THING_URL}/policyId`, json(200, 'org.example:p')),
    ).not.toThrow();
    expect(() => expectDittoResponse('get', `${THING_URL}/policyId`, json(200, 7))).toThrow(/must be string/);
  });

  it('validates arrays, e.g. GET /api/2/things?ids=', () => {
    expect(() =>
      expectDittoResponse('get', '/api/2/things?ids=org.example:lamp-1', json(200, [thing])),
    ).not.toThrow();
    expect(() => expectDittoResponse('get', '/api/2/things', json(200, [{ thingId: 1 }]))).toThrow(
      /0\/thingId/,
    );
  });

  it('rejects a documented body that is missing or of an undocumented media type', () => {
    expect(() => expectDittoResponse('get', THING_URL, empty(200))).toThrow(/the response has none/);
    const html = { status: 200, body: {}, headers: { 'content-type': 'text/html' }, text: '<p>hi</p>' };
    expect(() => expectDittoResponse('get', THING_URL, html)).toThrow(
      /Content-Type text\/html is not documented/,
    );
  });

  it('validates against the schema of the media type the response carries, not the first one listed', () => {
    // GET /api/2/things/{thingId} 200 documents application/json (Thing) and application/td+json (WoT TD).
    const asTd = { ...json(200, thing), headers: { 'content-type': 'application/td+json' } };
    expect(() => expectDittoResponse('get', THING_URL, asTd)).toThrow(
      /application\/td\+json body[\s\S]*required property '@context'/,
    );
    const td = {
      '@context': 'https://www.w3.org/2022/wot/td/v1.1',
      title: 'Lamp',
      security: 'nosec',
      securityDefinitions: {},
    };
    expect(() =>
      expectDittoResponse('get', THING_URL, {
        ...json(200, td),
        headers: { 'content-type': 'application/td+json' },
      }),
    ).not.toThrow();
  });

  it('rejects a body that claims to be JSON but is not', () => {
    const broken = { status: 200, body: {}, headers: JSON_HEADERS, text: '{"thingId":' };
    expect(() => expectDittoResponse('get', THING_URL, broken)).toThrow(/not valid JSON/);
  });

  it('accepts any value where Ditto documents no schema (a single attribute is arbitrary JSON)', () => {
    expect(() =>
      expectDittoResponse('get', `${THING_URL}/attributes/a/b`, json(200, { any: ['thing'] })),
    ).not.toThrow();
    expect(() => expectDittoResponse('get', `${THING_URL}/attributes/a/b`, json(200, 42))).not.toThrow();
  });

  it('checks the formats the spec uses (date-time on a subject expiry)', () => {
    const url = '/api/2/policies/org.example:p/entries/owner/subjects/nginx:alice';
    const ok = { type: 'user', expiry: '2030-01-01T00:00:00Z' };
    expect(() => expectDittoResponse('get', url, json(200, ok))).not.toThrow();
    expect(() => expectDittoResponse('get', url, json(200, { ...ok, expiry: 'next tuesday' }))).toThrow(
      /expiry: must match format "date-time"/,
    );
  });

  it('rejects paths and methods the spec does not document', () => {
    expect(() => expectDittoResponse('get', '/api/2/nope', json(200, {}))).toThrow(
      /no path in Ditto's OpenAPI spec/,
    );
    expect(() => expectDittoResponse('post', THING_URL, json(200, thing))).toThrow(/no POST operation/);
  });
});

describe('the vendored spec', () => {
  interface Op {
    responses?: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
  }
  const doc = load(readFileSync(new URL('../fixtures/ditto-api-2.yml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, Op>>;
  };

  it('every path template is found again from a concrete URL', () => {
    for (const template of Object.keys(doc.paths)) {
      expect(matchSpecPath(template.replace(/\{[^}]+\}/g, 'x'))).toBe(template);
    }
  });

  it('every JSON response schema compiles: bodies fail only as schema mismatches', () => {
    let checked = 0;
    for (const [template, item] of Object.entries(doc.paths)) {
      const url = template.replace(/\{[^}]+\}/g, 'x');
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          for (const [mediaType, { schema }] of Object.entries(response.content ?? {})) {
            if (!/json$/.test(mediaType) || schema === undefined) continue;
            const res = {
              status: Number(status),
              body: {},
              headers: { 'content-type': mediaType },
              text: '{}',
            };
            try {
              expectDittoResponse(method, url, res);
            } catch (e) {
              expect((e as Error).message).toMatch(/body does not match Ditto's spec/);
            }
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(400);
  });
});
