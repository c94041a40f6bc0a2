import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
import { authHeaders, testUser, type TestUserName } from '../support/auth.js';
import { connectAs, provisionDevices } from '../support/devices.js';
import { startIngestApp, type IngestTestApp } from '../support/mqtt.js';

/**
 * The official Eclipse Ditto Explorer UI (../shared/ditto-ui, built from Ditto's repository),
 * served from its own origin — cross-origin to the platform, as when a user points the hosted UI
 * at their Ditto — and driven in headless Chromium as a person would: it signs in with HTTP basic
 * credentials from its environments file, searches with RQL, opens a thing, edits an attribute and
 * a feature's properties, sees a change made over REST arrive live, travels back to an old
 * revision, lists a thing's history, creates and deletes a thing, and sends a message to a device
 * on MQTT that answers. Any console error, failed request or error response the journey does not
 * expect fails the test; on failure a screenshot and the page's HTML are written to a temp dir.
 */

/**
 * Where the built UI is: DITTO_UI_DIR, else the shared folder beside this checkout, else beside
 * the checkout this one was cloned from (a CI clone lives elsewhere). Missing, the test fails
 * and says where it looked.
 */
function clonedFrom(): string | undefined {
  try {
    const url = execFileSync('git', ['config', '--get', 'remote.origin.url'], { encoding: 'utf8' }).trim();
    return isAbsolute(url) ? url : undefined;
  } catch {
    return undefined;
  }
}
const origin = clonedFrom();
const UI_DIR_CANDIDATES = [
  process.env.DITTO_UI_DIR,
  resolve(process.cwd(), '../shared/ditto-ui'),
  origin && resolve(origin, '../shared/ditto-ui'),
].filter((d): d is string => !!d);
const UI_DIR = UI_DIR_CANDIDATES.find((d) => existsSync(join(d, 'index.html'))) ?? UI_DIR_CANDIDATES[0];
/** A real user other than the UI's built-in default (ditto:ditto), so the environment's setting shows. */
const USER: TestUserName = 'alice';
const NS = 'org.ui';

let t: IngestTestApp;
let browser: Browser;
let ui: Server;
let uiOrigin: string;
let device: MqttClient | undefined;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/** A tiny static server for the UI's folder plus its environments file, on a port of its own. */
function serveUi(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://ui').pathname);
    if (path === '/ui-environments.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(environments()));
      return;
    }
    const file = normalize(join(UI_DIR, path === '/' ? 'index.html' : path));
    if (!file.startsWith(UI_DIR + sep)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** The UI's environments file (its README): this platform, basic auth as USER. */
function environments(): Record<string, unknown> {
  const { username, password } = testUser(USER);
  return {
    local: {
      api_uri: t.baseUrl,
      ditto_version: 3,
      disablePolicies: false,
      disableConnections: true,
      disableOperations: true,
      authSettings: {
        main: {
          method: 'basic',
          oidc: { enabled: false },
          basic: { enabled: true, defaultUsernamePassword: `${username}:${password}` },
          bearer: { enabled: true },
          pre: { enabled: false, defaultDittoPreAuthenticatedUsername: null },
        },
        devops: {
          method: 'basic',
          oidc: { enabled: false },
          basic: { enabled: true, defaultUsernamePassword: 'devops:foobar' },
          bearer: { enabled: true },
        },
        oidc: {},
      },
    },
  };
}

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html')))
    throw new Error(
      `The built Ditto Explorer UI is not at ${UI_DIR_CANDIDATES.join(' nor ')}: set DITTO_UI_DIR`,
    );
  ui = await serveUi();
  uiOrigin = `http://127.0.0.1:${(ui.address() as { port: number }).port}`;
  // The embedded broker: the device signs in with the credentials provisioning gives it.
  t = await startIngestApp({ MQTT_URL: '', CORS_ORIGINS: uiOrigin });
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
  await device?.endAsync(true);
  await browser?.close();
  await t?.close();
  await new Promise((ok) => ui?.close(ok));
});

async function rest(
  method: string,
  path: string,
  body?: unknown,
  user: TestUserName = USER,
): Promise<Response> {
  return fetch(`${t.baseUrl}/api/2/things/${path}`, {
    method,
    headers: { ...authHeaders(user), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

interface ThingJson {
  attributes: Record<string, unknown>;
  features: Record<string, { properties: Record<string, unknown> }>;
}

async function thing(id: string): Promise<ThingJson> {
  const res = await rest('GET', id);
  expect(res.status).toBe(200);
  return (await res.json()) as ThingJson;
}

/** Polls a page-side value from here (a bounded wait, not a timed assertion). */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await read();
  }
  return last;
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();

/** The page's DOM, as far as the test uses it (the spec compiles without the DOM's types). */
interface BrowserGlobal {
  document: {
    getElementById(
      id: string,
    ): { addEventListener(type: string, f: () => void, o: { once: boolean }): void } | null;
  };
}

/** The page's Ace (the UI's editors), as far as the test uses it. */
interface AceGlobal {
  ace: {
    edit(id: string): {
      getValue(): string;
      setValue(v: string, cursor: number): void;
      getReadOnly(): boolean;
    };
  };
}
/** The text of one of the UI's Ace editors. */
const editorText = (page: Page, id: string) =>
  page.evaluate((e) => (globalThis as unknown as AceGlobal).ace.edit(e).getValue(), id);
const setEditor = (page: Page, id: string, value: string) =>
  page.evaluate(([e, v]) => (globalThis as unknown as AceGlobal).ace.edit(e).setValue(v, -1), [id, value]);

/**
 * Clicks Edit of a toolbar and, once the UI made its editor writable (after re-reading the
 * resource and its ETag), types `value` into it.
 */
async function edit(page: Page, toolbar: string, editor: string, value: string): Promise<void> {
  await page.click(`#${toolbar} #buttonEdit`);
  await until(
    `${editor} to be writable`,
    () => page.evaluate((e) => (globalThis as unknown as AceGlobal).ace.edit(e).getReadOnly(), editor),
    (readOnly) => !readOnly,
  );
  await setEditor(page, editor, value);
}

/** What the page did that the journey did not expect, and every API call it made (for a failure). */
interface Trouble {
  problems: string[];
  calls: string[];
}

/** `step` names the step under way, so a failure says when each problem happened. */
function watch(page: Page, step: () => string): Trouble {
  const trouble: Trouble = { problems: [], calls: [] };
  const problem = (p: string) => trouble.problems.push(`${p} (during "${step()}")`);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'assert') problem(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problem(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const reason = r.failure()?.errorText ?? '';
    // The UI closes event streams itself (another thing selected, the oldest revision found).
    if (reason === 'net::ERR_ABORTED' && r.headers().accept === 'text/event-stream') return;
    problem(`request failed: ${r.method()} ${r.url()} ${reason}`);
  });
  page.on('response', (r) => {
    if (r.url().startsWith(t.baseUrl)) trouble.calls.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    // No step of this journey expects an error answer.
    if (r.status() >= 400) problem(`unexpected ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return trouble;
}

it('works unchanged against the platform: search, edit, live, time travel, history, create, delete, messages', async () => {
  // Seed, as alice over REST; bob's thing must stay invisible to the UI signed in as alice.
  for (const [id, room] of [
    [`${NS}:lamp-1`, 'kitchen'],
    [`${NS}:lamp-2`, 'hall'],
  ]) {
    const res = await rest('PUT', id, {
      attributes: { room },
      // Keys in non-alphabetical order: the ETag of the feature must not depend on key order.
      features: { lamp: { properties: { on: false, zz: 1, a: 2 } } },
    });
    expect(res.status).toBe(201);
  }
  expect((await rest('PUT', `${NS}:bobs`, { attributes: { room: 'kitchen' } }, 'bob')).status).toBe(201);
  const DEVICE = `${NS}:thermostat`;
  const secrets = await provisionDevices(t.baseUrl, [DEVICE], USER);
  device = await connectAs(t.brokerUrl, DEVICE, secrets.get(DEVICE)!);
  await device.subscribeAsync(`things/${DEVICE}/inbox/#`, { qos: 1 });
  device.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { correlationId: string; payload?: { setpoint?: number } };
    void device!.publishAsync(
      topic.replace('/inbox/', '/outbox/'),
      JSON.stringify({
        correlationId: m.correlationId,
        status: 200,
        contentType: 'application/json',
        payload: { applied: m.payload?.setpoint },
      }),
      { qos: 1 },
    );
  });

  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  let step = 'open the UI';
  const trouble = watch(page, () => step);
  try {
    await page.goto(
      `${uiOrigin}/index.html?environmentsURL=/ui-environments.json&primaryEnvironmentName=local`,
    );
    await page.waitForSelector('#thingsTableBody tr');
    const rows = () => page.locator('#thingsTableBody tr').evaluateAll((trs) => trs.map((tr) => tr.id));
    expect(await rows()).toEqual([`${NS}:lamp-1`, `${NS}:lamp-2`, DEVICE].sort());

    step = 'search with RQL';
    await page.fill('#searchFilterEdit', 'eq(attributes/room,"kitchen")');
    await page.press('#searchFilterEdit', 'Enter');
    await until('the search result', rows, (r) => r.length === 1 && r[0] === `${NS}:lamp-1`);
    await until(
      'the count',
      () => text(page, '#searchFilterCount'),
      (c) => c.trim() === '#: 1',
    );

    step = 'open a thing';
    await page.click(`#thingsTableBody tr[id="${NS}:lamp-1"] td:nth-child(2)`);
    await until(
      'the details',
      () => text(page, '#tbodyThingDetails'),
      (d) => d.includes(`${NS}:lamp-1`),
    );
    await page.click('h5[data-bs-target="#collapseAttributes"]');
    await page.click('h5[data-bs-target="#collapseThingUpdates"]');

    step = 'edit an attribute';
    await page.click('#tbodyAttributes tr[id="room"] td');
    await until(
      'the attribute editor',
      () => editorText(page, 'attributeEditor'),
      (v) => v.includes('kitchen'),
    );
    await edit(page, 'crudAttribute', 'attributeEditor', '"pantry"');
    await page.click('#crudAttribute #buttonUpdate');
    await until(
      'the saved attribute',
      () => thing(`${NS}:lamp-1`),
      (th) => th.attributes.room === 'pantry',
    );

    step = 'edit a feature property';
    await page.click('#tbodyFeatures tr[id="lamp"] td');
    await until(
      'the feature editor',
      () => editorText(page, 'featurePropertiesEditor'),
      (v) => v.includes('"on"'),
    );
    await edit(page, 'crudFeature', 'featurePropertiesEditor', '{"zz": 1, "on": true, "a": 2}');
    // After saving, the UI reads the thing again; a change made meanwhile would be overwritten by
    // that older answer (in the UI, with Ditto too), so the next step waits for it as a user would.
    const reread = page.waitForResponse(
      (r) =>
        r.request().method() === 'GET' &&
        r.url().startsWith(`${t.baseUrl}/api/2/things/${NS}:lamp-1?fields=`),
    );
    await page.click('#crudFeature #buttonUpdate');
    await (await reread).finished();
    await until(
      'the saved revision',
      () => text(page, '#tbodyThingDetails'),
      (d) => /revision\s+3\b/.test(d),
    );
    await until(
      'the saved feature',
      () => thing(`${NS}:lamp-1`),
      (th) => th.features.lamp.properties.on === true,
    );

    step = 'see a change made over REST arrive live (SSE)';
    expect((await rest('PUT', `${NS}:lamp-1/attributes/room`, 'attic')).status).toBe(204);
    await until(
      'the live value',
      () => text(page, '#tbodyAttributes'),
      (a) => a.includes('attic'),
    );
    // Thing Updates names each change by its Ditto topic and path (fields=_context/...).
    const updates = await until(
      'the update in Thing Updates',
      () => text(page, '#tbodyThingUpdates'),
      (u) => u.includes('/attributes/room'),
    );
    expect(updates).toContain('modified');
    expect(updates).not.toContain('unknown');
    await until(
      'revision 4',
      () => text(page, '#tbodyThingDetails'),
      (d) => /revision\s+4\b/.test(d),
    );

    step = 'travel in time to revision 1';
    await page.click('#historyModeSwitch');
    await page.waitForSelector('#historyControls:not([hidden])');
    await page.fill('#historyRevisionInput', '1');
    await page.press('#historyRevisionInput', 'Enter');
    await until(
      'revision 1',
      () => text(page, '#tbodyThingDetails'),
      (d) => /revision\s+1\b/.test(d),
    );
    await until(
      'the old attribute',
      () => text(page, '#tbodyAttributes'),
      (a) => a.includes('kitchen'),
    );
    // The feature stays selected and shows its properties as they were.
    await until(
      'the old feature',
      () => editorText(page, 'featurePropertiesEditor'),
      (v) => JSON.parse(v || '{}').on === false,
    );
    await page.click('#historyModeSwitch');
    await until(
      'the present',
      () => text(page, '#tbodyThingDetails'),
      (d) => /revision\s+4\b/.test(d),
    );

    step = "list the thing's history (historical SSE)";
    await page.click('label[for="thingUpdatesModeHistorical"]');
    await page.waitForSelector('#buttonFetchHistorical:visible');
    await page.fill('#historicalFromRevision', '1');
    await page.fill('#historicalToRevision', '4');
    await page.click('#buttonFetchHistorical');
    const history = await until(
      'the historical updates',
      () => page.locator('#tbodyThingUpdates tr').allInnerTexts(),
      (r) => r.length === 4,
    );
    expect(history[0]).toContain('created');
    expect(history[1]).toContain('/attributes/room');
    expect(history[2]).toContain('/features/lamp');
    expect(history.join('\n')).not.toContain('unknown');

    step = 'create a thing';
    // Clicking the selected thing again leaves nothing selected: Manage then creates.
    await page.click(`#thingsTableBody tr[id="${NS}:lamp-1"] td:nth-child(2)`);
    await page.click('a[data-bs-target="#tabModifyThing"]');
    await edit(page, 'crudThings', 'thingJsonEditor', '{"attributes": {"room": "porch"}}');
    await page.fill('#crudThings #inputIdValue', `${NS}:made-in-ui`);
    await page.click('#crudThings #buttonCreate');
    const created = await until(
      'the created thing',
      () => rest('GET', `${NS}:made-in-ui`).then((r) => r.status),
      (s) => s === 200,
    );
    expect(created).toBe(200);
    expect((await thing(`${NS}:made-in-ui`)).attributes).toEqual({ room: 'porch' });
    await until(
      'it selected',
      () => text(page, '#tbodyThingDetails'),
      (d) => d.includes(`${NS}:made-in-ui`),
    );

    step = 'delete the thing';
    await page.click('a[data-bs-target="#tabModifyThing"]');
    // As a user would: delete once the Manage tab names the thing, confirm once the dialog does.
    await until(
      'the thing in Manage',
      () => page.inputValue('#crudThings #inputIdValue'),
      (v) => v === `${NS}:made-in-ui`,
    );
    // Confirm only once the dialog has faded in, as a person can: Bootstrap ignores the dismiss of
    // a modal still in transition, so a click that early leaves the dialog open and its focus trap
    // sends the next Enter (meant for the search box) to "Delete" again, with the id now empty.
    const shown = page.evaluate(
      () =>
        new Promise<void>((resolve) =>
          (globalThis as unknown as BrowserGlobal).document
            .getElementById('modalConfirm')
            ?.addEventListener('shown.bs.modal', () => resolve(), { once: true }),
        ),
    );
    await page.click('#crudThings #buttonDelete');
    await shown;
    expect(await text(page, '#modalBodyConfirm')).toContain(`${NS}:made-in-ui`);
    await page.click('#buttonConfirmed');
    await page.locator('#modalConfirm').waitFor({ state: 'hidden' });
    await until(
      'the deletion',
      () => rest('GET', `${NS}:made-in-ui`).then((r) => r.status),
      (s) => s === 404,
    );

    step = 'send a message to a device and see its answer';
    await page.fill('#searchFilterEdit', DEVICE);
    await page.press('#searchFilterEdit', 'Enter');
    await until('the device', rows, (r) => r.length === 1 && r[0] === DEVICE);
    await page.click(`#thingsTableBody tr[id="${DEVICE}"] td:nth-child(2)`);
    await until(
      'its details',
      () => text(page, '#tbodyThingDetails'),
      (d) => d.includes(DEVICE),
    );
    await page.click('#tabItemsThing a:has-text("Send Message")');
    await page.fill('#inputThingMessageSubject', 'setSetpoint');
    await page.fill('#inputThingMessageTimeout', '10');
    await setEditor(page, 'acePayloadThingMessage', '{"setpoint": 21.5}');
    await page.click('#buttonThingMessageSend');
    const answer = await until(
      "the device's answer",
      () => editorText(page, 'aceResponseThingMessage'),
      (v) => v !== '',
    );
    expect(JSON.parse(answer)).toEqual({ applied: 21.5 });

    step = 'nothing unexpected';
    expect(trouble.problems).toEqual([]);
  } catch (err) {
    const dir = mkdtempSync(join(tmpdir(), 'ditto-ui-'));
    await page.screenshot({ path: join(dir, 'failure.png'), fullPage: true }).catch(() => undefined);
    writeFileSync(join(dir, 'page.html'), await page.content().catch(() => ''));
    writeFileSync(join(dir, 'problems.txt'), trouble.problems.join('\n'));
    writeFileSync(join(dir, 'api-calls.txt'), trouble.calls.join('\n'));
    console.error(
      `Explorer UI failed at "${step}"; screenshot and page in ${dir}\n${trouble.problems.join('\n')}`,
    );
    throw err;
  } finally {
    await context.close();
  }
}, 180_000);
