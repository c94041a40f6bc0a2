import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { JournalService } from '../../src/journal/journal.service.js';
import { ThingStates } from '../../src/realtime/thing-states.js';
import { authHeaders } from '../support/auth.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * `extraFields` of an event show the thing as it was right after that change, even when the
 * thing was not known to the push yet and has changed again before the event is enriched (the
 * database then holds a newer state, or none once it is deleted; the past one is rebuilt from the
 * thing's journal).
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

async function put(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${t.baseUrl}/api/2/things/${path}`, {
    method: 'PUT',
    headers: { ...authHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBeLessThan(300);
}

it('enriches a past change with the state after it, not the newest one', async () => {
  await put('org.rt:late', { attributes: { location: 'hall' } });
  await put('org.rt:late/attributes/location', 'roof');
  await put('org.rt:late/attributes/location', 'cellar');
  const [second] = await t.app.get(JournalService).readThing('org.rt:late', 2, 1);
  const states = await t.app.get(ThingStates).after([second]);
  expect(states.get(second.seq)).toMatchObject({ attributes: { location: 'roof' }, _revision: 2 });
});

it('enriches a past change of a thing deleted since with the state after that change', async () => {
  await put('org.rt:gone', { attributes: { location: 'hall' } });
  await put('org.rt:gone/attributes/location', 'roof');
  const res = await fetch(`${t.baseUrl}/api/2/things/org.rt:gone`, {
    method: 'DELETE',
    headers: authHeaders(),
  });
  expect(res.status).toBe(204);
  const [second, deletion] = await t.app.get(JournalService).readThing('org.rt:gone', 2, 2);
  const states = await t.app.get(ThingStates).after([second, deletion]);
  expect(states.get(second.seq)).toMatchObject({ attributes: { location: 'roof' }, _revision: 2 });
  expect(states.get(deletion.seq)).toBeNull();
});
