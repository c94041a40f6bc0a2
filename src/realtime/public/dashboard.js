// Live twin dashboard: lists twins (REST search), keeps them current over Ditto's WebSocket
// (/ws/2, resuming with from-event-id after a drop) and charts one property with uPlot.
'use strict';

const MAX_THINGS = 1000;
const MAX_POINTS = 600;

const things = new Map(); // thingId -> { thing, revision }
const dirty = new Set();
const flashes = new Set(); // "thingId|pointer" of leaves changed since the last render
let lastEventId;
let chart; // { thingId, pointer, xs, ys, plot }
let loaded = false;
const early = []; // events that arrived before the initial list

const $ = (id) => document.getElementById(id);

function setStatus(status, text) {
  const el = $('status');
  el.dataset.status = status;
  el.textContent = text;
}

// ---- JSON pointer helpers (Ditto escapes only "~" as "~0") ----
function segments(pointer) {
  if (!pointer || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replaceAll('~0', '~'));
}
function pointerOf(segs) {
  return '/' + segs.map((s) => String(s).replaceAll('~', '~0')).join('/');
}
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
function getAt(root, segs) {
  let node = root;
  for (const k of segs) {
    if (!isObject(node) || !(k in node)) return undefined;
    node = node[k];
  }
  return node;
}
function setAt(root, segs, value) {
  if (segs.length === 0) return value;
  const [k, ...rest] = segs;
  const copy = isObject(root) ? { ...root } : {};
  copy[k] = setAt(copy[k], rest, value);
  return copy;
}
function deleteAt(root, segs) {
  if (segs.length === 0) return undefined;
  if (!isObject(root)) return root;
  const [k, ...rest] = segs;
  const copy = { ...root };
  if (rest.length === 0) delete copy[k];
  else copy[k] = deleteAt(copy[k], rest);
  return copy;
}
function mergePatch(target, patch) {
  if (!isObject(patch)) return patch;
  const out = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- the twins ----
function applyEvent(msg) {
  const parts = msg.topic.split('/');
  const thingId = `${parts[0]}:${parts[1]}`;
  const action = parts[5];
  const segs = segments(msg.path);
  const known = things.get(thingId);
  if (known && msg.revision !== undefined && msg.revision <= known.revision) return;
  if (action === 'deleted' && segs.length === 0) {
    things.delete(thingId);
  } else {
    let thing = known ? known.thing : { thingId };
    if (action === 'merged')
      thing = segs.length
        ? setAt(thing, segs, mergePatch(getAt(thing, segs), msg.value))
        : mergePatch(thing, msg.value);
    else if (action === 'deleted') thing = deleteAt(thing, segs);
    else thing = setAt(thing, segs, msg.value);
    things.set(thingId, { thing, revision: msg.revision ?? (known ? known.revision + 1 : 1) });
    for (const [pointer] of leaves(msg.value, segs)) flashes.add(`${thingId}|${pointer}`);
  }
  dirty.add(thingId);
  if (chart && chart.thingId === thingId) {
    const value = getAt(things.get(thingId)?.thing, segments(chart.pointer));
    if (typeof value === 'number') addPoint(Date.parse(msg.timestamp) / 1000 || Date.now() / 1000, value);
  }
  scheduleRender();
}

/** [pointer, value] of every leaf under attributes and feature properties. */
function* leaves(value, segs) {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) yield* leaves(v, [...segs, k]);
  } else {
    yield [pointerOf(segs), value];
  }
}

function rowsOf(thingId, thing) {
  const out = [];
  for (const [pointer, value] of leaves(thing.attributes ?? {}, ['attributes']))
    if (pointer !== '/attributes') out.push([pointer, value]);
  for (const [fid, feature] of Object.entries(thing.features ?? {})) {
    for (const [pointer, value] of leaves(feature?.properties ?? {}, ['features', fid, 'properties'])) {
      if (!pointer.endsWith('/properties')) out.push([pointer, value]);
    }
  }
  if (out.length === 0) out.push(['', '']);
  return out;
}

let renderPending = false;
function scheduleRender() {
  if (renderPending || !loaded) return;
  renderPending = true;
  requestAnimationFrame(render);
}

function render() {
  renderPending = false;
  const tbody = $('rows');
  const query = $('search').value.trim().toLowerCase();
  for (const thingId of dirty) {
    for (const tr of tbody.querySelectorAll(`tr[data-thing="${CSS.escape(thingId)}"]`)) tr.remove();
    const known = things.get(thingId);
    if (!known) continue;
    const anchor = [...tbody.children].find((tr) => tr.dataset.thing > thingId) ?? null;
    for (const [pointer, value] of rowsOf(thingId, known.thing)) {
      const tr = document.createElement('tr');
      tr.dataset.thing = thingId;
      tr.dataset.path = pointer;
      const numeric = typeof value === 'number';
      tr.innerHTML = `<td class="thing"></td><td class="path"></td><td class="value${numeric ? ' numeric' : ''}"></td><td class="revision"></td>`;
      tr.children[0].textContent = thingId;
      tr.children[1].textContent = pointer;
      tr.children[2].textContent = typeof value === 'string' ? value : JSON.stringify(value);
      tr.children[3].textContent = String(known.revision);
      if (flashes.has(`${thingId}|${pointer}`)) {
        tr.classList.add('flash');
        setTimeout(() => tr.classList.remove('flash'), 600);
      }
      if (chart && chart.thingId === thingId && chart.pointer === pointer) tr.classList.add('selected');
      if (numeric) tr.children[2].addEventListener('click', () => selectChart(thingId, pointer));
      tr.hidden = query !== '' && !`${thingId} ${pointer}`.toLowerCase().includes(query);
      tbody.insertBefore(tr, anchor);
    }
  }
  dirty.clear();
  flashes.clear();
  $('empty').hidden = things.size > 0;
}

$('search').addEventListener('input', () => {
  for (const id of things.keys()) dirty.add(id);
  scheduleRender();
});

// ---- the chart ----
async function selectChart(thingId, pointer) {
  const value = getAt(things.get(thingId)?.thing, segments(pointer));
  if (chart) {
    chart.plot.destroy();
    dirty.add(chart.thingId); // un-highlight the previous row
  }
  const el = $('chart');
  el.innerHTML = '';
  const plot = new uPlot(
    {
      width: Math.max(300, el.clientWidth || 500),
      height: 300,
      scales: { x: { time: true } },
      series: [{}, { label: pointer, stroke: '#1a5fb4', width: 2, points: { show: false } }],
    },
    [[], []],
    el,
  );
  chart = { thingId, pointer, xs: [], ys: [], plot };
  $('chart-title').textContent = `${thingId} ${pointer}`;
  dirty.add(thingId);
  scheduleRender();
  const history = await loadHistory(thingId, pointer);
  if (!chart || chart.plot !== plot) return;
  $('chart-note').textContent = history.length
    ? `history: ${history.length} points, then live`
    : 'live values (no history available)';
  const live = chart.xs.map((x, i) => [x, chart.ys[i]]);
  const all = [...history, ...live].sort((a, b) => a[0] - b[0]);
  if (all.length === 0 && typeof value === 'number') all.push([Date.now() / 1000, value]);
  chart.xs = all.map((p) => p[0]).slice(-MAX_POINTS);
  chart.ys = all.map((p) => p[1]).slice(-MAX_POINTS);
  plot.setData([chart.xs, chart.ys]);
}

function addPoint(x, y) {
  chart.xs.push(x);
  chart.ys.push(y);
  if (chart.xs.length > MAX_POINTS) {
    chart.xs.shift();
    chart.ys.shift();
  }
  chart.plot.setData([chart.xs, chart.ys]);
}

/** Feature property history, if the platform serves it; the chart is live-only otherwise. */
async function loadHistory(thingId, pointer) {
  const segs = segments(pointer);
  if (segs[0] !== 'features' || segs[2] !== 'properties' || segs.length < 4) return [];
  const from = new Date(Date.now() - 3600_000).toISOString();
  const path = segs.slice(3).map(encodeURIComponent).join('/');
  const url = `/api/2/things/${encodeURIComponent(thingId)}/features/${encodeURIComponent(segs[1])}/properties/${path}/history?limit=${MAX_POINTS}&from=${encodeURIComponent(from)}`;
  try {
    const res = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!res.ok) return [];
    const body = await res.json();
    const list = Array.isArray(body) ? body : (body.points ?? body.buckets ?? body.items ?? []);
    return list
      .map((p) => [Date.parse(p.ts ?? p.timestamp ?? p.t) / 1000, p.value ?? p.v])
      .filter(([x, y]) => Number.isFinite(x) && typeof y === 'number');
  } catch {
    return [];
  }
}

// ---- data sources ----
async function loadThings() {
  let cursor;
  do {
    const option = `size(200)${cursor ? `,cursor(${cursor})` : ''}`;
    const res = await fetch(
      `/api/2/search/things?fields=thingId,attributes,features,_revision&option=${encodeURIComponent(option)}`,
    );
    if (!res.ok) throw new Error(`search answered ${res.status}`);
    const page = await res.json();
    for (const item of page.items ?? []) {
      const { _revision, ...thing } = item;
      const known = things.get(thing.thingId);
      if (!known || known.revision < _revision) things.set(thing.thingId, { thing, revision: _revision });
      dirty.add(thing.thingId);
    }
    cursor = page.cursor;
  } while (cursor && things.size < MAX_THINGS);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/2`);
  ws.onopen = () => {
    // After a drop, resume where we were: the server replays what we missed from its journal.
    ws.send(`START-SEND-EVENTS${lastEventId ? `?from-event-id=${lastEventId}` : ''}`);
  };
  ws.onmessage = (e) => {
    if (e.data === 'START-SEND-EVENTS:ACK') {
      setStatus('live', 'live');
      if (!loaded) {
        loadThings()
          .then(() => {
            loaded = true;
            for (const msg of early.splice(0)) applyEvent(msg);
            scheduleRender();
          })
          .catch((err) => setStatus('error', String(err)));
      }
      return;
    }
    if (typeof e.data !== 'string' || !e.data.startsWith('{')) return;
    const msg = JSON.parse(e.data);
    if (!msg.topic || !msg.topic.includes('/things/twin/events/')) return;
    lastEventId = msg.headers?.['event-id'] ?? lastEventId;
    if (loaded) applyEvent(msg);
    else early.push(msg);
  };
  ws.onclose = () => {
    setStatus('reconnecting', 'reconnecting…');
    setTimeout(connect, 1000);
  };
}

connect();
