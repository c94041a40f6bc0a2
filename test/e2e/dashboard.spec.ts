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

  it('charts a forecast with its band and the model error next to the actuals, and copes without one', async () => {
    const id = 'org.dash:home-1';
    const now = Date.now();
    const step = 15 * 60_000;
    const points = Array.from({ length: 8 }, (_, i) => ({
      ts: new Date(now + (i + 1) * step).toISOString(),
      value: 900 + 50 * i,
      lower: 700 + 50 * i,
      upper: 1200 + 50 * i,
    }));
    const forecast = {
      target: 'energy/power',
      points,
      model: { id: 'm-42', version: 3, algorithm: 'gradient-boosting' },
      generatedAt: new Date(now).toISOString(),
      error: { mape: 12.5, mae: 101.2, rmse: 150.7 },
      fallback: false,
    };
    expect(
      await put(id, {
        features: { energy: { properties: { power: 950 } }, forecast: { properties: forecast } },
      }),
    ).toBe(201);
    const { username, password } = testUser();
    const context = await browser.newContext({ httpCredentials: { username, password } });
    const page = await context.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('pageerror', (e) => failed.push(e.message));
    await page.goto(t.baseUrl);
    await page.waitForSelector('#status[data-status="live"]');
    const power = cell(id, '/features/energy/properties/power');
    await page.waitForSelector(power);
    // The forecast's points are summarised in the table, not spelled out.
    expect(await page.textContent(cell(id, '/features/forecast/properties/points'))).toBe('[8 items]');

    await page.click(power);
    await page.waitForSelector('#chart[data-forecast-points="8"] .uplot canvas');
    const legend = await page.$$eval('#chart .u-legend .u-series .u-label', (els) =>
      els.map((e) => e.textContent),
    );
    expect(legend).toEqual(
      expect.arrayContaining(['/features/energy/properties/power', 'forecast', 'lower', 'upper']),
    );
    expect(await page.textContent('#chart-forecast')).toBe(
      `Forecast: gradient-boosting v3 (m-42) · MAPE 12.5 % · MAE 101.2 · RMSE 150.7 · generated ${await page.evaluate(
        (at) => new Date(at).toLocaleString(),
        forecast.generatedAt,
      )}`,
    );
    expect(await page.isHidden('#chart-fallback')).toBe(true);
    // The band is painted: pixels of its fill colour are on the canvas.
    const bandPixels = await page.$eval('#chart canvas', (canvas) => {
      const c = canvas as unknown as {
        width: number;
        height: number;
        getContext(kind: '2d'): {
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        // The canvas is transparent: the fill is stored as itself, rgba(255, 140, 60, 0.25).
        if (
          Math.abs(r - 255) < 12 &&
          Math.abs(g - 140) < 12 &&
          Math.abs(b - 60) < 12 &&
          Math.abs(a - 64) < 12
        )
          n++;
      }
      return n;
    });
    expect(bandPixels).toBeGreaterThan(500);

    // A fallback forecast says so; the module's error with holdout, baseline and rolling parts is shown too.
    expect(
      await put(`${id}/features/forecast/properties`, {
        ...forecast,
        model: null,
        algorithm: 'seasonal-naive',
        fallback: true,
        fallbackReason: 'no model yet',
        error: {
          holdout: { mape: 41.2, mae: 310.5, rmse: 602.1, n: 672 },
          baseline: { mape: 55, mae: 290, rmse: 700.3, n: 672 },
          rolling: { mae: 295.1, n: 40 },
        },
        generatedAt: new Date(now + 1000).toISOString(),
      }),
    ).toBe(204);
    await page.waitForSelector('#chart-fallback:not([hidden])');
    expect(await page.textContent('#chart-fallback')).toBe(
      'Fallback: seasonal-naive forecast (no model yet)',
    );
    expect(await page.textContent('#chart-forecast')).toMatch(
      /^Forecast: seasonal-naive · MAPE 41\.2 % · MAE 310\.5 · RMSE 602\.1 · seasonal-naive MAPE 55 % · live MAE 295\.1 \(40 readings\) · generated /,
    );
    expect(await page.getAttribute('#chart', 'data-forecast-points')).toBe('8');

    // Without the forecast feature the chart goes on with the actuals alone.
    const removed = await fetch(`${t.baseUrl}/api/2/things/${id}/features/forecast`, {
      method: 'DELETE',
      headers: authHeaders(),
    });
    expect(removed.status).toBe(204);
    await page.waitForSelector('#chart[data-forecast-points="0"] .uplot canvas');
    expect(await page.isHidden('#chart-forecast')).toBe(true);
    expect(await put(`${id}/features/energy/properties/power`, 1010)).toBe(204);
    await textBecomes(page, power, '1010');
    const actualOnly = await page.$$eval('#chart .u-legend .u-series .u-label', (els) =>
      els.map((e) => e.textContent),
    );
    expect(actualOnly).not.toContain('forecast');
    expect(failed).toEqual([]);
    await context.close();
  });
});
