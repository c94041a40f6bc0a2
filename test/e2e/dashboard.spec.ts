import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';
import { authHeaders, testUser } from '../support/auth.js';

/**
 * The live dashboard at `/` in headless Chromium: values changed through REST appear on the page.
 * The browser signs in as a person would at the basic-auth prompt (the context's credentials);
 * the page's own fetches, its WebSocket and SSE then carry them as the browser sends them.
 */
let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await t.close();
});

async function put(path: string, body: unknown): Promise<number> {
  const res = await fetch(`${t.baseUrl}/api/2/things/${path}`, {
    method: 'PUT',
    headers: { ...authHeaders(), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return res.status;
}

/** A page-side condition (a string, so this file needs no DOM typings). */
/** Polls from here: the page's CSP (script-src 'self') rightly refuses evaluated predicates. */
async function textBecomes(page: Page, selector: string, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await page.textContent(selector)) !== text) {
    if (Date.now() > deadline) throw new Error(`${selector} never showed ${text}`);
    await new Promise((ok) => setTimeout(ok, 25));
  }
}

const cell = (thingId: string, path: string) => `tr[data-thing="${thingId}"][data-path="${path}"] td.value`;

describe('dashboard', () => {
  it('shows twins and their live values, and charts a property with the local uPlot', async () => {
    expect(await put('org.dash:boiler-1', { features: { env: { properties: { temperature: 20 } } } })).toBe(
      201,
    );
    const { username, password } = testUser();
    const context = await browser.newContext({ httpCredentials: { username, password } });
    const page = await context.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('pageerror', (e) => failed.push(e.message));
    await page.goto(t.baseUrl);
    await page.waitForSelector('#status[data-status="live"]');
    const temperature = cell('org.dash:boiler-1', '/features/env/properties/temperature');
    await page.waitForSelector(temperature);
    expect(await page.textContent(temperature)).toBe('20');

    expect(await put('org.dash:boiler-1/features/env/properties/temperature', 21.5)).toBe(204);
    await textBecomes(page, temperature, '21.5');

    // A thing created after the page loaded appears as well.
    expect(await put('org.dash:boiler-2', { attributes: { room: 'cellar' } })).toBe(201);
    await page.waitForSelector(cell('org.dash:boiler-2', '/attributes/room'));
    expect(await page.textContent(cell('org.dash:boiler-2', '/attributes/room'))).toBe('cellar');

    // Charting: uPlot comes from this server, not a CDN, and follows live values.
    await page.click(temperature);
    await page.waitForSelector('#chart .uplot canvas');
    expect(await page.textContent('#chart-title')).toBe(
      'org.dash:boiler-1 /features/env/properties/temperature',
    );
    expect(await put('org.dash:boiler-1/features/env/properties/temperature', 23)).toBe(204);
    await textBecomes(page, temperature, '23');
    expect(failed).toEqual([]);
    await context.close();
  });
});
