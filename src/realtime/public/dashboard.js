// Live twin dashboard: lists twins (REST search), keeps them current over Ditto's WebSocket
// (/ws/2, resuming with from-event-id after a drop) and charts one property with uPlot; when the
// thing's `forecast` feature forecasts that property, the chart adds the forecast, its band
// (lower/upper) and the model's error.
'use strict';

const MAX_THINGS = 1000;
const MAX_POINTS = 600;

const things = new Map(); // thingId -> { thing, revision }
const dirty = new Set();
const flashes = new Set(); // "thingId|pointer" of leaves changed since the last render
let lastEventId;
let chart; // { thingId, pointer, xs, ys, plot, forecast, withForecast }
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
    const forecast = forecastOf(things.get(thingId)?.thing, chart.pointer);
    if (
      forecast?.generatedAt !== chart.forecast?.generatedAt ||
      (forecast === null) !== (chart.forecast === null)
    ) {
      chart.forecast = forecast;
      showForecast();
    }
    // Only a change of the charted property (or of something containing it) is a new point.
    const charted = segments(chart.pointer);
    const touches = segs.every((k, i) => i >= charted.length || charted[i] === k);
    if (touches && typeof value === 'number') {
      addPoint(Date.parse(msg.timestamp) / 1000 || Date.now() / 1000, value);
    }
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

/** A long array (a forecast's points) is summarised: the chart shows it. */
function cellText(value) {
  if (typeof value === 'string') return value;
  const text = JSON.stringify(value);
  return Array.isArray(value) && text.length > 80 ? `[${value.length} items]` : text;
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
      tr.children[2].textContent = cellText(value);
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
const DAY_S = 86400;

/** The pointer a forecast target ("<feature>/<property path>") stands for. */
function targetPointer(target) {
  if (typeof target !== 'string' || !target.includes('/')) return undefined;
  const [featureId, ...path] = target.split('/');
  return pointerOf(['features', featureId, 'properties', ...path]);
}

/** Epoch seconds of a forecast point's ts (ISO text or epoch ms), NaN if neither. */
function seconds(ts) {
  if (typeof ts === 'number') return ts / 1000;
  return typeof ts === 'string' ? Date.parse(ts) / 1000 : NaN;
}

const finite = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The thing's forecast of the property at `pointer`, read from its `forecast` feature:
 * { points: [[x, value, lower, upper]], model, algorithm, error, fallback, generatedAt }, or null.
 * Every part may be missing: the feature is written by the forecasting module, or by anyone.
 */
function forecastOf(thing, pointer) {
  const f = thing?.features?.forecast?.properties;
  if (!isObject(f) || !Array.isArray(f.points)) return null;
  if (targetPointer(f.target ?? 'energy/power') !== pointer) return null;
  const points = f.points
    .filter(isObject)
    .map((p) => [seconds(p.ts), finite(p.value), finite(p.lower), finite(p.upper)])
    .filter((p) => Number.isFinite(p[0]) && p[1] !== null)
    .sort((a, b) => a[0] - b[0]);
  if (points.length === 0) return null;
  return {
    points,
    model: isObject(f.model) ? f.model : null,
    algorithm: typeof f.algorithm === 'string' ? f.algorithm : undefined,
    error: isObject(f.error) ? f.error : null,
    fallback: f.fallback === true,
    fallbackReason: typeof f.fallbackReason === 'string' ? f.fallbackReason : undefined,
    generatedAt: typeof f.generatedAt === 'string' ? f.generatedAt : undefined,
  };
}

const number = (v, digits) =>
  typeof v === 'number' && Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: digits })
    : '–';

/** The model's error: {mape, mae, rmse} itself, or its holdout metrics ({holdout: {mape, …}}). */
function errorMetrics(error) {
  if (!error) return null;
  if (['mape', 'mae', 'rmse'].some((k) => k in error)) return error;
  return isObject(error.holdout) ? error.holdout : null;
}

/** The line under the chart: which model forecasts, and how wrong it has been. */
function describeForecast(f) {
  const parts = [];
  const model = f.model
    ? `${f.model.algorithm ?? 'model'}${f.model.version !== undefined ? ` v${f.model.version}` : ''}${f.model.id ? ` (${f.model.id})` : ''}`
    : undefined;
  // `algorithm` is what produced the points: the active model, or the seasonal-naive fallback.
  if (model && (f.algorithm === undefined || f.algorithm === f.model.algorithm))
    parts.push(`Forecast: ${model}`);
  else {
    parts.push(`Forecast: ${f.algorithm ?? 'model'}`);
    if (model) parts.push(`active model ${model}`);
  }
  const m = errorMetrics(f.error);
  if (m) parts.push(`MAPE ${number(m.mape, 1)} %`, `MAE ${number(m.mae, 1)}`, `RMSE ${number(m.rmse, 1)}`);
  else parts.push('error not known yet');
  const baseline = isObject(f.error?.baseline) ? f.error.baseline.mape : undefined;
  if (typeof baseline === 'number') parts.push(`seasonal-naive MAPE ${number(baseline, 1)} %`);
  const rolling = isObject(f.error?.rolling) ? f.error.rolling : undefined;
  if (typeof rolling?.mae === 'number')
    parts.push(`live MAE ${number(rolling.mae, 1)} (${number(rolling.n, 0)} readings)`);
  if (f.generatedAt) parts.push(`generated ${new Date(f.generatedAt).toLocaleString()}`);
  return parts.join(' · ');
}

function makePlot(el, pointer, withForecast) {
  const series = [
    {},
    { label: pointer, stroke: '#1a5fb4', width: 2, points: { show: false }, spanGaps: true },
  ];
  const options = {
    width: Math.max(300, el.clientWidth || 500),
    height: 300,
    scales: { x: { time: true } },
    series,
  };
  if (withForecast) {
    series.push(
      { label: 'forecast', stroke: '#c64600', width: 2, dash: [6, 4], points: { show: false } },
      { label: 'lower', stroke: 'rgba(198, 70, 0, 0.35)', width: 1, points: { show: false } },
      { label: 'upper', stroke: 'rgba(198, 70, 0, 0.35)', width: 1, points: { show: false } },
    );
    // The band between upper (4) and lower (3).
    options.bands = [{ series: [4, 3], fill: 'rgba(255, 140, 60, 0.25)' }];
  }
  return new uPlot(options, withForecast ? [[], [], [], [], []] : [[], []], el);
}

/** Actuals and forecast on one time axis (uPlot wants one x array; gaps are nulls). */
function plotData() {
  const f = chart.withForecast ? chart.forecast : null;
  if (!f) return [chart.xs, chart.ys];
  const rows = new Map();
  chart.xs.forEach((x, i) => rows.set(x, [x, chart.ys[i], null, null, null]));
  for (const [x, value, lower, upper] of f.points) {
    const row = rows.get(x) ?? [x, null, null, null, null];
    row[2] = value;
    row[3] = lower ?? value;
    row[4] = upper ?? value;
    rows.set(x, row);
  }
  const sorted = [...rows.values()].sort((a, b) => a[0] - b[0]);
  return [0, 1, 2, 3, 4].map((k) => sorted.map((r) => r[k]));
}

function draw() {
  chart.plot.setData(plotData());
  $('chart').dataset.forecastPoints =
    chart.withForecast && chart.forecast ? String(chart.forecast.points.length) : '0';
}

/** Shows (or hides) the forecast of the charted property; the plot is rebuilt if its series change. */
function showForecast() {
  const f = chart.forecast;
  const info = $('chart-forecast');
  info.hidden = !f;
  info.textContent = f ? describeForecast(f) : '';
  info.classList.toggle('fallback', Boolean(f?.fallback));
  const badge = $('chart-fallback');
  badge.hidden = !f?.fallback;
  badge.textContent = f?.fallback
    ? `Fallback: seasonal-naive forecast${f.fallbackReason ? ` (${f.fallbackReason})` : ''}`
    : '';
  if (Boolean(f) !== chart.withForecast) {
    const el = $('chart');
    chart.plot.destroy();
    el.innerHTML = '';
    chart.withForecast = Boolean(f);
    chart.plot = makePlot(el, chart.pointer, chart.withForecast);
  }
  draw();
}

async function selectChart(thingId, pointer) {
  const thing = things.get(thingId)?.thing;
  const value = getAt(thing, segments(pointer));
  if (chart) {
    chart.plot.destroy();
    dirty.add(chart.thingId); // un-highlight the previous row
  }
  const el = $('chart');
  el.innerHTML = '';
  const forecast = forecastOf(thing, pointer);
  const plot = makePlot(el, pointer, Boolean(forecast));
  chart = { thingId, pointer, xs: [], ys: [], plot, forecast, withForecast: Boolean(forecast) };
  $('chart-title').textContent = `${thingId} ${pointer}`;
  showForecast();
  dirty.add(thingId);
  scheduleRender();
  // With a forecast, a day of actuals before it (in 15-minute means) puts the forecast in context.
  const history = await loadHistory(thingId, pointer, Boolean(forecast));
  if (!chart || chart.thingId !== thingId || chart.pointer !== pointer) return;
  $('chart-note').textContent = history.length
    ? `history: ${history.length} points, then live`
    : 'live values (no history available)';
  const live = chart.xs.map((x, i) => [x, chart.ys[i]]);
  const all = [...history, ...live].sort((a, b) => a[0] - b[0]);
  if (all.length === 0 && typeof value === 'number') all.push([Date.now() / 1000, value]);
  chart.xs = all.map((p) => p[0]).slice(-MAX_POINTS);
  chart.ys = all.map((p) => p[1]).slice(-MAX_POINTS);
  draw();
}

function addPoint(x, y) {
  chart.xs.push(x);
  chart.ys.push(y);
  if (chart.xs.length > MAX_POINTS) {
    chart.xs.shift();
    chart.ys.shift();
  }
  draw();
}

/** Feature property history, if the platform serves it; the chart is live-only otherwise. */
async function loadHistory(thingId, pointer, lastDay) {
  const segs = segments(pointer);
  if (segs[0] !== 'features' || segs[2] !== 'properties' || segs.length < 4) return [];
  const from = new Date(Date.now() - (lastDay ? DAY_S : 3600) * 1000).toISOString();
  const path = segs.slice(3).map(encodeURIComponent).join('/');
  const range = lastDay ? 'step=15m&agg=avg' : `limit=${MAX_POINTS}`;
  const url = `/api/2/things/${encodeURIComponent(thingId)}/features/${encodeURIComponent(segs[1])}/properties/${path}/history?${range}&from=${encodeURIComponent(from)}`;
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
