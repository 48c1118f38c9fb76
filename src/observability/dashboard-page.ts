import { createHash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

/**
 * The dashboard served at /. Everything is inline and uses system fonts, so the page works on a
 * machine without internet access. Dark colors are the default because operators read it at night.
 */
const STYLE = String.raw`
:root {
  color-scheme: dark light;
  --bg: #0d1117; --panel: #161b22; --line: #30363d; --text: #e6edf3; --muted: #9da7b3;
  --green: #3fb950; --amber: #e3b341; --red: #ff6b63; --blue: #58a6ff; --purple: #d2a8ff; --grey: #8b949e;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: light) {
  :root { --bg: #f6f8fa; --panel: #ffffff; --line: #d0d7de; --text: #1f2328; --muted: #57606a;
          --green: #1a7f37; --amber: #9a6700; --red: #cf222e; --blue: #0969da; --purple: #8250df; --grey: #6e7781; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 24px 40px; background: var(--bg); color: var(--text); font: 16px/1.4 var(--sans); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 20px; margin-bottom: 16px; }
h1 { margin: 0; font-size: 22px; font-weight: 600; }
h1 .slot { color: var(--muted); font-weight: 400; }
h2 { margin: 0 0 8px; font-size: 15px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.badge { padding: 6px 18px; border-radius: 999px; font-size: 22px; font-weight: 700; text-transform: uppercase; letter-spacing: .05em;
         color: #0d1117; background: var(--grey); }
.badge.streaming { background: var(--green); } .badge.starting { background: var(--blue); }
.badge.retrying { background: var(--amber); } .badge.refusing, .badge.fenced { background: var(--red); }
.badge.unreachable { background: transparent; color: var(--red); outline: 2px solid var(--red); }
.updated { color: var(--muted); font-size: 14px; }
.banner { display: none; margin-bottom: 16px; padding: 12px 16px; border-left: 6px solid var(--red); background: var(--panel); font-size: 17px; }
.banner.shown { display: block; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; margin-bottom: 12px; }
.tile, .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.tile .label { color: var(--muted); font-size: 14px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
.tile .big { font-size: 40px; font-weight: 700; line-height: 1.15; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tile .big .unit { font-size: 20px; font-weight: 500; color: var(--muted); margin-left: 6px; }
.tile .text { display: block; font: 600 26px/1.3 var(--mono); overflow-wrap: anywhere; }
.tile .sub { color: var(--muted); font-size: 14px; margin-top: 2px; font-variant-numeric: tabular-nums; }
.tile.warn .big, .tile.warn .text { color: var(--amber); } .tile.bad .big, .tile.bad .text { color: var(--red); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 12px; margin-bottom: 12px; }
.chart svg { display: block; width: 100%; height: 170px; }
.chart .axis { fill: var(--muted); font: 12px var(--sans); }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .series { fill: none; stroke-width: 2.5; stroke-linejoin: round; }
.chart .area { stroke: none; opacity: .18; }
.chart.lag-bytes .series { stroke: var(--blue); } .chart.lag-bytes .area { fill: var(--blue); }
.chart.lag-seconds .series { stroke: var(--purple); } .chart.lag-seconds .area { fill: var(--purple); }
.chart.throughput .series { stroke: var(--green); } .chart.throughput .area { fill: var(--green); }
table { width: 100%; border-collapse: collapse; font-size: 15px; }
th { text-align: left; color: var(--muted); font-weight: 600; padding: 6px 8px; border-bottom: 1px solid var(--line); }
td { padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; } td.code { font-family: var(--mono); color: var(--red); white-space: nowrap; }
td.message { overflow-wrap: anywhere; }
.none { color: var(--muted); }
`;

const BODY = String.raw`
<header>
  <h1>outbox-relay <span class="slot" id="slot"></span></h1>
  <span class="badge" id="state">loading</span>
  <span class="updated" id="updated"></span>
</header>
<div class="banner" id="reason"></div>
<section class="tiles">
  <div class="tile" id="tile-lag-bytes"><div class="label">Lag (WAL)</div><div class="big" id="lag-bytes">–</div><div class="sub" id="lag-bytes-exact"></div></div>
  <div class="tile" id="tile-lag-seconds"><div class="label">Lag (time)</div><div class="big" id="lag-seconds">–</div><div class="sub">oldest event not yet in Kafka</div></div>
  <div class="tile"><div class="label">Throughput</div><div class="big" id="throughput">–</div><div class="sub">average of the last 10 s</div></div>
  <div class="tile"><div class="label">Events published</div><div class="big" id="events-published">–</div><div class="sub" id="dead-letters">dead letters: –</div></div>
</section>
<section class="tiles">
  <div class="tile"><div class="label">Last acknowledged LSN</div><div class="text" id="ack-lsn">–</div><div class="sub" id="ack-at"></div></div>
  <div class="tile"><div class="label">Last acknowledged commit</div><time class="text" id="ack-commit-time">–</time><div class="sub" id="ack-commit-age"></div></div>
  <div class="tile" id="tile-slot"><div class="label">Slot WAL status</div><div class="text" id="slot-status">–</div><div class="sub" id="slot-detail"></div></div>
  <div class="tile" id="tile-kafka"><div class="label">Kafka commit pending</div><div class="big" id="kafka-pending">–</div><div class="sub">time the open Kafka commit has run</div></div>
</section>
<section class="charts">
  <div class="panel chart lag-bytes"><h2>Lag (WAL bytes)</h2><svg id="chart-lag-bytes" role="img" aria-label="lag in bytes"></svg></div>
  <div class="panel chart lag-seconds"><h2>Lag (seconds)</h2><svg id="chart-lag-seconds" role="img" aria-label="lag in seconds"></svg></div>
  <div class="panel chart throughput"><h2>Throughput (events/s)</h2><svg id="chart-throughput" role="img" aria-label="events per second"></svg></div>
</section>
<section class="panel">
  <h2>Recent errors (newest first, last 20)</h2>
  <table><thead><tr><th>Time</th><th>Code</th><th>Message</th></tr></thead><tbody id="errors"></tbody></table>
</section>
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>outbox-relay</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

/** Allows the page's own inline script and style, by hash, and requests to this server only. */
export const DASHBOARD_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sha256(DASHBOARD_SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
