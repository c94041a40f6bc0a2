import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders } from '../support/auth.js';

/**
 * Cross-origin use, as the Ditto Explorer UI served from another origin does it: preflights
 * answered without credentials, answers readable by the listed origins only.
 */
const UI = 'http://ui.example:5173';
const OTHER = 'http://evil.example';
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ CORS_ORIGINS: `${UI}, http://second.example` });
});
afterAll(async () => {
  await t?.close();
});

describe('CORS', () => {
  it("answers a listed origin's preflight 204 with the methods and headers Ditto clients send", async () => {
    const res = await request(t.baseUrl)
      .options('/api/2/search/things?filter=eq(attributes/a,1)')
      .set('Origin', UI)
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization,if-match,content-type,at-historical-revision')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-allow-methods']).toContain('PUT');
    for (const h of [
      'authorization',
      'if-match',
      'if-none-match',
      'at-historical-revision',
      'correlation-id',
    ])
      expect(res.headers['access-control-allow-headers']).toContain(h);
  });

  it('lets a listed origin read answers, with ETag and Location exposed', async () => {
    const res = await request(t.baseUrl)
      .put('/api/2/things/org.cors:one')
      .set(authHeaders())
      .set('Origin', UI)
      .send({ attributes: { a: 1 } })
      .expect(201);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-expose-headers']).toMatch(/ETag/);
    expect(res.headers['access-control-expose-headers']).toMatch(/Location/);
  });

  it('keeps a 401 readable for a listed origin, so the page can ask for credentials', async () => {
    const res = await request(t.baseUrl).get('/api/2/things/org.cors:one').set('Origin', UI).expect(401);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.body.error).toBe('gateway:authentication.failed');
  });

  it('gives an origin that is not listed no CORS headers, so browsers keep answers from its pages', async () => {
    const pre = await request(t.baseUrl)
      .options('/api/2/things/org.cors:one')
      .set('Origin', OTHER)
      .set('Access-Control-Request-Method', 'DELETE');
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const get = await request(t.baseUrl)
      .get('/api/2/things/org.cors:one')
      .set(authHeaders())
      .set('Origin', OTHER);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets a listed origin open the event stream with credentials', async () => {
    const res = await fetch(`${t.baseUrl}/api/2/things?namespaces=org.cors`, {
      headers: { ...authHeaders(), Origin: 'http://second.example', Accept: 'text/event-stream' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://second.example');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    await res.body?.cancel();
  });
});
