/**
 * The dashboard's browser script. It polls /api/status, keeps ten minutes of samples and draws
 * the charts as SVG by hand, so the page needs no library. It sets text with textContent only,
 * because error messages come from servers and must not become markup.
 * Written without template literals, since this file embeds it in one.
 */
export const DASHBOARD_SCRIPT = String.raw`
'use strict';
const POLL_MS = 1500;
const WINDOW_MS = 10 * 60 * 1000;
const MIN_SPAN_MS = 60 * 1000;
const STALE_MS = 6000;
const RATE_SPAN = 5;
const SVG = 'http://www.w3.org/2000/svg';

let samples = [];
let lastSampleAt = 0;
let lastStatusAt = 0;

function byId(id) { return document.getElementById(id); }
function setText(id, text) { byId(id).textContent = text; }

function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return ['–', ''];
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return [unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1), units[unit]];
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return ['–', ''];
  if (seconds < 10) return [seconds.toFixed(2), 's'];
  if (seconds < 120) return [seconds.toFixed(1), 's'];
  if (seconds < 7200) return [(seconds / 60).toFixed(1), 'min'];
  return [(seconds / 3600).toFixed(1), 'h'];
}

function formatCount(count) { return count === null || count === undefined ? '–' : Math.round(count).toLocaleString('en-US'); }

function formatRate(rate) {
  if (rate === null || rate === undefined) return ['–', 'events/s'];
  return [rate < 10 ? rate.toFixed(1) : formatCount(rate), 'events/s'];
}

function formatTime(iso) {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function formatAge(iso) {
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  const parts = formatSeconds(seconds);
  return parts[0] + ' ' + parts[1] + ' ago';
}

function showBig(id, parts) {
  const element = byId(id);
  element.textContent = parts[0];
  if (parts[1]) {
    const unit = document.createElement('span');
    unit.className = 'unit';
    unit.textContent = parts[1];
    element.appendChild(unit);
  }
}

/** Returns 'bad' from badAt up, 'warn' from warnAt up, and '' below or for an unknown value. */
function levelOf(value, warnAt, badAt) {
  if (value === null || value === undefined) return '';
  if (value > badAt) return 'bad';
  if (value > warnAt) return 'warn';
  return '';
}

function setLevel(id, level) {
  const element = byId(id);
  element.classList.toggle('warn', level === 'warn');
  element.classList.toggle('bad', level === 'bad');
}

function showState(state, ready) {
  const badge = byId('state');
  badge.textContent = state;
  badge.className = 'badge ' + state;
  document.title = state + ' · outbox-relay';
  const banner = byId('reason');
  banner.textContent = ready && ready.reason ? 'Not ready: ' + ready.reason : '';
  banner.classList.toggle('shown', Boolean(ready && ready.reason));
}

function showTiles(status) {
  const bytes = formatBytes(status.lagBytes);
  showBig('lag-bytes', bytes);
  setText('lag-bytes-exact', status.lagBytes === null ? 'no replication session' : formatCount(status.lagBytes) + ' bytes behind the server');
  showBig('lag-seconds', formatSeconds(status.lagSeconds));
  setLevel('tile-lag-seconds', levelOf(status.lagSeconds, 10, 60));
  showBig('throughput', formatRate(status.eventsPerSecond));
  setText('events-published', formatCount(status.eventsPublished));
  setText('dead-letters', 'dead letters: ' + formatCount(status.deadLetters));
  showBig('kafka-pending', formatSeconds(status.kafkaCommitPendingSeconds));
  // Matches /readyz, which reports Kafka as unreachable after 15 s.
  setLevel('tile-kafka', levelOf(status.kafkaCommitPendingSeconds, 5, 15));
}

function showAcknowledged(acknowledged) {
  setText('ack-lsn', acknowledged ? acknowledged.lsn : '–');
  setText('ack-at', acknowledged ? 'acknowledged ' + formatAge(acknowledged.at) : 'nothing acknowledged yet');
  const commit = acknowledged && acknowledged.commitTime;
  const time = byId('ack-commit-time');
  time.textContent = commit ? formatTime(commit).slice(11) : '–';
  time.setAttribute('datetime', commit || '');
  setText('ack-commit-age', commit ? commit.slice(0, 10) + ', committed in PostgreSQL ' + formatAge(commit) : 'no outbox transaction acknowledged yet');
}

function showSlot(slot) {
  if (slot === null) {
    setText('slot-status', '–');
    setText('slot-detail', 'not read yet');
    setLevel('tile-slot', '');
    return;
  }
  const status = slot.aheadOfCheckpoint ? 'ahead of checkpoint' : slot.walStatus || 'unknown';
  setText('slot-status', status);
  const retained = formatBytes(slot.retainedWalBytes);
  const safe = slot.safeWalSizeBytes === null ? 'unlimited' : formatBytes(slot.safeWalSizeBytes).join(' ');
  setText('slot-detail', 'retains ' + retained.join(' ') + ' · safe_wal_size ' + safe);
  let level = '';
  if (slot.walStatus === 'extended') level = 'warn';
  if (slot.aheadOfCheckpoint || slot.walStatus === 'lost' || slot.walStatus === 'unreserved') level = 'bad';
  setLevel('tile-slot', level);
}

function showErrors(errors) {
  const body = byId('errors');
  body.replaceChildren();
  if (errors.length === 0) {
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 3;
    cell.className = 'none';
    cell.textContent = 'No errors since the relay started.';
    return;
  }
  for (const error of errors) {
    const row = body.insertRow();
    const time = row.insertCell();
    time.className = 'time';
    time.textContent = formatTime(error.time);
    time.title = formatAge(error.time);
    const code = row.insertCell();
    code.className = 'code';
    code.textContent = error.code;
    const message = row.insertCell();
    message.className = 'message';
    message.textContent = error.message;
  }
}

function addSamples(fresh) {
  for (const sample of fresh) {
    if (sample.t > lastSampleAt) samples.push(sample);
  }
  if (samples.length > 0) lastSampleAt = samples[samples.length - 1].t;
  const oldest = lastSampleAt - WINDOW_MS;
  samples = samples.filter(function (sample) { return sample.t >= oldest; });
}

/** Events per second over RATE_SPAN samples; a counter that went down (a restarted relay) counts as 0. */
function rates() {
  return samples.map(function (sample, index) {
    const first = samples[Math.max(0, index - RATE_SPAN)];
    if (first === sample) return { t: sample.t, value: null };
    const seconds = (sample.t - first.t) / 1000;
    return { t: sample.t, value: Math.max(0, sample.eventsPublished - first.eventsPublished) / seconds };
  });
}

function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** Rounds up to a round number of the unit that formatBytes picks, so the axis reads 10 MiB, not 9.54 MiB. */
function niceBytesCeiling(value) {
  if (!(value > 0)) return 1024;
  const unit = Math.pow(1024, Math.max(0, Math.min(5, Math.floor(Math.log(value) / Math.log(1024)))));
  return niceCeiling(value / unit) * unit;
}

function formatSpan(ms) {
  return ms >= 60000 ? '−' + Math.round(ms / 60000) + ' min' : '−' + Math.round(ms / 1000) + ' s';
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const key in attributes) element.setAttribute(key, String(attributes[key]));
  return element;
}

/**
 * Draws one series as line segments; null values leave gaps, since they mean "not measured".
 * The time axis covers the samples there are, from one to ten minutes, so a young relay's
 * history is not squeezed into the right edge.
 */
function drawChart(id, points, format, ceiling) {
  const svg = byId(id);
  const width = Math.max(200, svg.clientWidth);
  const height = Math.max(100, svg.clientHeight);
  const left = 70;
  const bottom = height - 22;
  const top = 8;
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  svg.replaceChildren();

  const now = lastSampleAt || Date.now();
  const values = points.filter(function (p) { return p.value !== null; }).map(function (p) { return p.value; });
  const max = ceiling(Math.max.apply(null, values.concat([0])));
  const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, samples.length > 0 ? now - samples[0].t : 0));
  const x = function (t) { return left + ((t - (now - span)) / span) * (width - left - 8); };
  const y = function (v) { return bottom - (v / max) * (bottom - top); };

  for (const fraction of [0, 0.5, 1]) {
    const level = y(max * fraction);
    svg.appendChild(svgElement('line', { x1: left, x2: width - 8, y1: level, y2: level, class: 'grid' }));
    const label = svgElement('text', { x: left - 8, y: level + 4, 'text-anchor': 'end', class: 'axis' });
    label.textContent = format(max * fraction);
    svg.appendChild(label);
  }
  const ticks = [{ fraction: 1, anchor: 'start' }, { fraction: 0.5, anchor: 'middle' }, { fraction: 0, anchor: 'end' }];
  for (const tick of ticks) {
    const label = svgElement('text', { x: x(now - tick.fraction * span), y: height - 4, 'text-anchor': tick.anchor, class: 'axis' });
    label.textContent = tick.fraction === 0 ? 'now' : formatSpan(tick.fraction * span);
    svg.appendChild(label);
  }

  let segment = [];
  const flush = function () {
    if (segment.length === 0) return;
    const line = segment.map(function (p) { return x(p.t).toFixed(1) + ',' + y(p.value).toFixed(1); }).join(' ');
    const first = x(segment[0].t).toFixed(1);
    const last = x(segment[segment.length - 1].t).toFixed(1);
    svg.appendChild(svgElement('polygon', { points: first + ',' + bottom + ' ' + line + ' ' + last + ',' + bottom, class: 'area' }));
    svg.appendChild(svgElement('polyline', { points: line, class: 'series' }));
    segment = [];
  };
  for (const point of points) {
    if (point.value === null) flush();
    else segment.push(point);
  }
  flush();
}

function drawCharts() {
  const series = function (key) { return samples.map(function (s) { return { t: s.t, value: s[key] }; }); };
  // Number() drops the decimals of round axis values, so labels such as "1000 KiB" fit the margin.
  drawChart('chart-lag-bytes', series('lagBytes'), function (v) { const parts = formatBytes(v); return Number(parts[0]) + ' ' + parts[1]; }, niceBytesCeiling);
  drawChart('chart-lag-seconds', series('lagSeconds'), function (v) { return formatSeconds(v).join(' '); }, niceCeiling);
  drawChart('chart-throughput', rates(), function (v) { return v < 10 ? v.toFixed(1) : formatCount(v); }, niceCeiling);
}

function render(status) {
  lastStatusAt = Date.now();
  setText('slot', status.slot ? 'slot ' + status.slot : '');
  showState(status.state, status.ready);
  showTiles(status);
  showAcknowledged(status.acknowledged);
  showSlot(status.slotStatus);
  showErrors(status.errors);
  addSamples(status.history);
  drawCharts();
  setText('updated', 'updated ' + formatTime(status.now));
}

/** Marks the page stale when /api/status fails for STALE_MS, so old numbers are not read as current. */
function showUnreachable(error) {
  if (Date.now() - lastStatusAt < STALE_MS) return;
  const badge = byId('state');
  badge.textContent = 'unreachable';
  badge.className = 'badge unreachable';
  document.title = 'unreachable · outbox-relay';
  const banner = byId('reason');
  const since = lastStatusAt ? 'since ' + formatTime(new Date(lastStatusAt).toISOString()) : 'since the page loaded';
  banner.textContent = 'The relay does not answer /api/status ' + since + ' (' + error.message + '). The numbers below are old.';
  banner.classList.add('shown');
}

async function poll() {
  try {
    const response = await fetch('/api/status?since=' + lastSampleAt, { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    render(await response.json());
  } catch (error) {
    showUnreachable(error);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

window.addEventListener('resize', drawCharts);
poll();
`;
