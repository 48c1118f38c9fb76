// Turns the results of bench/run into docs/benchmarks.md and two plots (SVG, converted to PNG with
// rsvg-convert from Debian's librsvg2-bin).
// Usage: node bench/report.mjs RESULTS_DIR DOCS_DIR
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from './lib.mjs';

const [resultsDir, docsDir] = process.argv.slice(2);
if (!resultsDir || !docsDir) throw new Error('usage: node bench/report.mjs RESULTS_DIR DOCS_DIR');

const events = readFileSync(join(resultsDir, 'events.jsonl'), 'utf8').trim().split('\n')
  // Results of older versions of bench/run contain bc output such as ".29", which is not valid JSON
  // because the leading zero is missing.
  .map((line) => JSON.parse(line.replace(/([:,])(-?)\.(\d)/g, '$1$20.$3')));
const findEvent = (kind, extra = () => true) => events.find((e) => e.kind === kind && extra(e));
const machine = findEvent('machine');
const backlog = findEvent('backlog');
const end = findEvent('end');
const recv = findEvent('limit', (e) => e.name === 'pg_recvlogical');
const kafkaPerf = findEvent('limit', (e) => e.name === 'kafka_producer_perf');
const txnLatency = findEvent('limit', (e) => e.name === 'kafka_txn_latency');

const SYSTEMS = [
  { id: 'relay', label: 'outbox-relay' },
  { id: 'debezium', label: 'Debezium 3.6.1 (Connect 4.1.1)' },
  { id: 'polling-classic', label: 'polling, 50 rows / 100 ms' },
  { id: 'polling-tuned', label: 'polling, 1000 rows / 10 ms' },
];
const round = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** digits) / 10 ** digits);
const fmt = (x, digits = 0) => (x === null || x === undefined ? 'n/a' : round(x, digits).toLocaleString('en-US'));

// --- limits and drains ---
const limits = {
  recv: recv ? recv.events / recv.wall_s : null,
  kafka: kafkaPerf ? kafkaPerf.rate : null,
};
const lowerLimit = Math.min(...[limits.recv, limits.kafka].filter((x) => x !== null));

function drainOf(system) {
  const d = findEvent('drain', (e) => e.system === system);
  if (!d) return null;
  const c = d.consumer;
  const spanS = c.first_receive_ms && c.last_receive_ms ? (c.last_receive_ms - c.first_receive_ms) / 1000 : null;
  return {
    received: c.received, expected: d.expected, complete: c.received >= d.expected, reason: c.reason,
    rate: spanS ? c.received / spanS : null, wall_s: d.wall_s,
    cpu_per_10k: c.received > 0 ? ((d.after.cpu_s - d.before.cpu_s) / c.received) * 10_000 : null,
    hwm_mib: d.after.hwm_mib, record_bytes: c.mean_record_bytes,
  };
}

// --- live ladders ---
/** Latency percentiles of the bare transactional producer, from its consumer's pairs. */
function txnFloorOf() {
  if (!txnLatency) return null;
  const pairs = readPairs(join(resultsDir, 'txn-latency.bin'));
  const latencies = [];
  for (let i = 0; i < pairs.length; i += 2) latencies.push(pairs[i + 1] - pairs[i]);
  latencies.sort((a, b) => a - b);
  if (latencies.length === 0) return null;
  return { received: latencies.length, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p999: percentile(latencies, 0.999) };
}

function readPairs(file) {
  if (!existsSync(file)) return new Float64Array(0);
  const buffer = readFileSync(file);
  return new Float64Array(buffer.buffer, buffer.byteOffset, buffer.length / 8);
}

function stepsOf(system) {
  const pairs = readPairs(join(resultsDir, `live-${system}.bin`));
  return events.filter((e) => e.kind === 'step' && e.system === system).map((step) => {
    const { started_ms: from, ended_ms: to } = step.writer;
    const latencies = [];
    const quarter = (to - from) / 4;
    const firstQuarter = [];
    const lastQuarter = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const ts = pairs[i];
      if (ts < from || ts > to) continue;
      const latency = pairs[i + 1] - ts;
      latencies.push(latency);
      if (ts < from + quarter) firstQuarter.push(latency);
      else if (ts > to - quarter) lastQuarter.push(latency);
    }
    latencies.sort((a, b) => a - b);
    firstQuarter.sort((a, b) => a - b);
    lastQuarter.sort((a, b) => a - b);
    const delivered = latencies.length / step.writer.events;
    const achieved = step.writer.achieved_rate / step.rate;
    const medianFirst = percentile(firstQuarter, 0.5);
    const medianLast = percentile(lastQuarter, 0.5);
    // Flat lag: (almost) every event arrived, and latency did not climb through the step, which is
    // what a growing backlog looks like.
    // A writer that fell short of the offered rate does not make a step fail: the system kept up
    // with what it was given, and the step is marked writer-bound instead.
    const flat = delivered >= 0.999 && medianLast !== null && medianLast <= 2 * medianFirst + 100;
    return {
      rate: step.rate, achieved: step.writer.achieved_rate, written: step.writer.events, delivered, flat,
      writerBound: achieved < 0.95, commit_ms_p50: step.writer.commit_ms_p50,
      p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p999: percentile(latencies, 0.999), max: latencies.at(-1) ?? null,
      medianFirst, medianLast,
      cpu_per_10k: ((step.after.cpu_s - step.before.cpu_s) / step.writer.events) * 10_000,
      rss_mib: step.after.rss_mib, hwm_mib: step.after.hwm_mib,
    };
  });
}

const txnFloor = txnFloorOf();

const results = SYSTEMS.map((s) => {
  const steps = stepsOf(s.id);
  // The highest rate the writer achieved while lag stayed flat, over the ladder up to its first
  // step without flat lag. saturated is false when no step lost flat lag: then the system was
  // never pushed past its limit and the rate is a lower bound.
  let sustained = null;
  let saturated = false;
  for (const step of steps) {
    if (!step.flat) { saturated = true; break; }
    sustained = Math.max(sustained ?? 0, step.achieved);
  }
  const liveEnd = findEvent('live_end', (e) => e.system === s.id);
  return { ...s, drain: drainOf(s.id), steps, sustained, saturated, liveEnd, ran: steps.length > 0 || drainOf(s.id) !== null };
}).filter((s) => s.ran);
const bySystem = Object.fromEntries(results.map((s) => [s.id, s]));

// --- plots ---
function svgDocument(width, height, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${body}
</svg>\n`;
}
const escapeXml = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];

function throughputSvg() {
  const bars = [];
  for (const s of results) {
    bars.push({ label: `${s.label}: live`, value: s.sustained ?? 0, prefix: s.saturated ? '' : '≥ ', color: COLORS[0] });
    if (s.drain) bars.push({ label: `${s.label}: drain`, value: s.drain.rate ?? 0, color: COLORS[1] });
  }
  if (limits.recv) bars.push({ label: 'limit: pg_recvlogical decode', value: limits.recv, color: COLORS[4] });
  if (limits.kafka) bars.push({ label: 'limit: Kafka transactional produce', value: limits.kafka, color: COLORS[4] });
  const width = 900, left = 290, barH = 22, gap = 8, top = 40;
  const height = top + bars.length * (barH + gap) + 40;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const scale = (width - left - 120) / max;
  let body = `<text x="10" y="22" font-size="15" font-weight="bold">Events/s. Live: highest achieved rate with flat lag (≥: never saturated). Drain: ${fmt(backlog.events)} events</text>\n`;
  bars.forEach((b, i) => {
    const y = top + i * (barH + gap);
    body += `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${escapeXml(b.label)}</text>`;
    body += `<rect x="${left}" y="${y}" width="${Math.max(1, b.value * scale)}" height="${barH}" fill="${b.color}"/>`;
    body += `<text x="${left + b.value * scale + 6}" y="${y + 15}">${b.prefix ?? ''}${fmt(b.value)}</text>\n`;
  });
  return svgDocument(width, height, body);
}

function latencySvg() {
  const width = 900, height = 460, left = 70, right = 250, top = 40, bottom = 50;
  const rates = [...new Set(results.flatMap((s) => s.steps.map((st) => st.rate)))].sort((a, b) => a - b);
  const values = results.flatMap((s) => s.steps.flatMap((st) => [st.p50, st.p99, st.p999])).filter((v) => v !== null && v > 0);
  if (rates.length === 0 || values.length === 0) return svgDocument(width, 80, '<text x="10" y="40">No live steps were measured.</text>');
  const minLog = Math.floor(Math.log10(Math.max(0.1, Math.min(...values))));
  const maxLog = Math.ceil(Math.log10(Math.max(...values)));
  const x = (rate) => left + (rates.indexOf(rate) + 0.5) * ((width - left - right) / rates.length);
  const y = (v) => top + (height - top - bottom) * (1 - (Math.log10(Math.max(v, 10 ** minLog)) - minLog) / (maxLog - minLog));
  let body = '<text x="10" y="22" font-size="15" font-weight="bold">End-to-end latency, commit to read_committed consumer (ms, log scale)</text>\n';
  for (let e = minLog; e <= maxLog; e++) {
    body += `<line x1="${left}" x2="${width - right}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/><text x="${left - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>\n`;
  }
  for (const rate of rates) body += `<text x="${x(rate)}" y="${height - bottom + 18}" text-anchor="middle">${rate}</text>`;
  body += `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">offered rate, events/s</text>\n`;
  const dashes = { p50: '', p99: '6,3', p999: '2,3' };
  results.forEach((s, i) => {
    for (const key of ['p50', 'p99', 'p999']) {
      const points = s.steps.filter((st) => st[key] !== null).map((st) => `${x(st.rate)},${y(st[key])}`);
      if (points.length === 0) continue;
      body += `<polyline points="${points.join(' ')}" fill="none" stroke="${COLORS[i]}" stroke-width="2" stroke-dasharray="${dashes[key]}"/>`;
      for (const p of points) body += `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${COLORS[i]}"/>`;
    }
    body += `<rect x="${width - right + 15}" y="${top + i * 20}" width="14" height="4" fill="${COLORS[i]}"/><text x="${width - right + 35}" y="${top + i * 20 + 6}">${escapeXml(s.label)}</text>\n`;
  });
  const legendY = top + results.length * 20 + 15;
  Object.entries(dashes).forEach(([key, dash], i) => {
    body += `<line x1="${width - right + 15}" x2="${width - right + 45}" y1="${legendY + i * 18}" y2="${legendY + i * 18}" stroke="black" stroke-width="2" stroke-dasharray="${dash}"/><text x="${width - right + 52}" y="${legendY + i * 18 + 4}">${key === 'p999' ? 'p99.9' : key}</text>`;
  });
  return svgDocument(width, height, body);
}

function writePlot(name, svg) {
  const svgPath = join(resultsDir, `${name}.svg`);
  writeFileSync(svgPath, svg);
  execFileSync('rsvg-convert', ['-o', join(docsDir, `${name}.png`), svgPath]);
}
writePlot('bench-throughput', throughputSvg());
writePlot('bench-latency', latencySvg());

// --- markdown ---
const relay = bySystem.relay;
const debezium = bySystem.debezium;
const lines = [];
const table = (header, rows) => {
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  lines.push('');
};
function verdict(met) {
  if (met === null) return 'not measured';
  return met ? 'met' : 'missed';
}

lines.push('# Benchmarks', '');
lines.push(`Measured by \`npm run bench\` (\`bash bench/run\`) on ${machine.started}; the run took ${fmt(end?.seconds / 60, 1)} minutes. Every number below comes from that one run, so ratios between systems compare like with like. Writer, PostgreSQL, Kafka, the system under test and the consumer all share one machine, so each number includes the others' load.`, '');
lines.push('![throughput by system](bench-throughput.png)', '', '![latency percentiles by offered rate](bench-latency.png)', '');

lines.push('## Machine and versions', '');
table(['what', 'value'], [
  ['CPU', `${machine.cpu_model}, ${machine.nproc} cores (nproc)`],
  ['memory', `${fmt(machine.mem_total_kib / 1024 / 1024, 1)} GiB`],
  ['load average at start', machine.uptime_start.replace(/.*load average: /, '')],
  ['load average at end', end ? end.uptime_end.replace(/.*load average: /, '') : 'n/a'],
  ['outbox-relay', `working tree of commit ${machine.git_head}${machine.src_files_changed > 0 ? ` with ${machine.src_files_changed} uncommitted files in src/` : ''}, built by scripts/setup at the start of the run`],
  ['Node.js', machine.node], ['PostgreSQL', machine.postgres], ['Java', machine.java],
  ['Kafka', '4.1.1, single KRaft node (scripts/kafka/start), 3 partitions per topic'],
  ['Debezium', 'debezium-connector-postgres 3.6.1.Final on connect-runtime 4.1.1, ConnectStandalone'],
]);
lines.push('Other work on the machine (other test suites) can run at the same time; the load averages above show how busy it was.', '');

lines.push('## Workload', '');
lines.push(`\`bench/writer.mjs\`: each order is one PostgreSQL transaction (one statement) with a row in \`bench_orders\` and 5 to 8 outbox events over five aggregate types (order, payment, inventory, shipment, customer; one topic each), about ${fmt(backlog.wal_bytes / backlog.events)} bytes of WAL per event. ${backlog.writer.connections} connections; a fixed offered rate is paced open loop. Each event's JSON carries \`ts\`, the server's \`clock_timestamp()\` at the insert, and the read_committed consumer (\`bench/consumer.mjs\`) subtracts it from its receive time on the same clock. The insert precedes the commit by the statement's remaining time, so latencies are overestimated by up to the writer's commit round trip, shown as "commit p50" below.`, '');
lines.push(`Backlog: ${fmt(backlog.events)} events (${fmt(backlog.wal_bytes / 1048576)} MiB of WAL), written before each system starts; the writer reached ${fmt(backlog.writer.achieved_rate)} events/s at full speed.${backlog.events < 1_000_000 ? ' This is scaled down from a million events to keep the whole run short.' : ''} Live ladder: ${machine.step_seconds} s per offered rate, stopping at the first rate where more than one second of events is still undelivered 5 s after the step.`, '');

lines.push('## Results', '');
table(['system', 'drain, events/s', 'sustained live rate, events/s', 'p50 / p99 / p99.9 at 2,000/s, ms', 'CPU s per 10,000 events (live, highest flat step)', 'peak RSS (VmHWM), MiB'], results.map((s) => {
  const at2000 = s.steps.find((st) => st.rate === 2000);
  const top = [...s.steps].reverse().find((st) => st.flat) ?? s.steps[0];
  const drain = s.drain ? `${fmt(s.drain.rate)}${s.drain.complete ? '' : ` (${fmt(s.drain.received)} of ${fmt(s.drain.expected)} in the time limit)`}` : 'n/a';
  return [s.label, drain, s.sustained === null ? 'none flat' : `${s.saturated ? '' : '≥ '}${fmt(s.sustained)}`,
    at2000 ? `${fmt(at2000.p50, 1)} / ${fmt(at2000.p99, 1)} / ${fmt(at2000.p999, 1)}` : 'n/a',
    top ? fmt(top.cpu_per_10k, 2) : 'n/a', fmt(Math.max(s.liveEnd?.stats.hwm_mib ?? 0, s.drain?.hwm_mib ?? 0))];
}));
lines.push('Drain rate: events divided by the time from the first to the last record the consumer received. Sustained live rate: the highest rate the writer achieved in a step with flat lag, over the ladder up to the first step without it. A step has flat lag when 99.9% of its events were delivered and the median latency of its last quarter is at most twice that of its first quarter plus 100 ms. "≥" marks a system that kept flat lag at every step, so its limit lies above what the writer reached. CPU and memory are those of the system\'s own process (for Debezium the Connect JVM); PostgreSQL\'s walsender and the broker are not included.', '');

lines.push('### Limits on the same machine', '');
table(['limit', 'measured', 'how'], [
  ['walsender decode (pg_recvlogical, pgoutput)', `${fmt(limits.recv)} events/s`, recv ? `${fmt(recv.events)} events in ${fmt(recv.wall_s, 2)} s, to /dev/null` : 'n/a'],
  ...(txnFloor ? [[`Kafka transaction latency at 2,000/s, no PostgreSQL (bench/txn-latency.mjs)`, `p50 / p99 / p99.9: ${fmt(txnFloor.p50, 1)} / ${fmt(txnFloor.p99, 1)} / ${fmt(txnFloor.p999, 1)} ms`,
    `a bare librdkafka producer with the relay's settings and default headers; ${fmt(txnFloor.received)} of ${fmt(txnLatency.producer.produced)} records over the same 5 topics of 3 partitions in ${fmt(txnLatency.producer.commits)} transactions, each committed as soon as the one before ended`]] : []),
  ['Kafka transactional produce (ProducerPerformance)', `${fmt(limits.kafka)} events/s`, kafkaPerf ? `${fmt(kafkaPerf.records)} records of ${kafkaPerf.record_bytes} bytes (the relay's mean record size with key and headers), 100 ms transactions: \`${kafkaPerf.line}\`` : 'n/a'],
]);

const headerCosts = events.filter((e) => e.kind === 'header_cost');
if (headerCosts.length > 0) {
  lines.push('### Cost of record headers', '');
  lines.push('`bench/header-cost.mjs`: a transactional producer with the relay\'s settings produces the same 100,000 records with 0, 1, 4 and 8 headers (built per record, as the relay builds them); time inside `produce()` per record. For the benchmark\'s rows, which carry a correlation id, the relay sets 4 headers by default (`id`, `event_type`, `commit_lsn`, `correlation_id`) and 8 with `OUTBOX_HEADERS=all`.', '');
  table(['headers', 'µs per record in produce()'], headerCosts.map((e) => [String(e.headers), fmt(e.produce_us_per_record, 1)]));
}

lines.push('### Live steps', '');
table(['system', 'offered/s', 'achieved/s', 'delivered', 'flat', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'commit p50 ms', 'CPU s / 10k', 'RSS MiB'],
  results.flatMap((s) => s.steps.map((st) => [s.label, fmt(st.rate), fmt(st.achieved), `${fmt(st.delivered * 100, 2)}%`, `${st.flat ? 'yes' : 'no'}${st.writerBound ? ' (writer short)' : ''}`,
    fmt(st.p50, 1), fmt(st.p99, 1), fmt(st.p999, 1), fmt(st.max, 0), fmt(st.commit_ms_p50, 1), fmt(st.cpu_per_10k, 2), fmt(st.rss_mib)])));

if (results.some((s) => s.drain)) {
  lines.push('### Backlog drain', '');
  table(['system', 'received', 'events/s', 'CPU s / 10k', 'VmHWM MiB', 'ended by'], results.filter((s) => s.drain).map((s) => [s.label, `${fmt(s.drain.received)} of ${fmt(s.drain.expected)}`, fmt(s.drain.rate), fmt(s.drain.cpu_per_10k, 2), fmt(s.drain.hwm_mib), s.drain.reason]));
}

// --- targets ---
lines.push('## Targets', '');
const targetRows = [];
if (relay) {
  const ratio = debezium?.sustained ? relay.sustained / debezium.sustained : null;
  // A lower bound (≥) on the relay can only confirm the target; one on Debezium can only refute it.
  const sustainedVerdict = (ratio) => {
    if (ratio === null) return 'not measured';
    if (ratio >= 3) return debezium.saturated ? 'met' : 'undecided: Debezium was not saturated';
    return relay.saturated ? 'missed' : 'undecided: the relay was not saturated';
  };
  const bound = (s) => `${s.saturated ? '' : '≥ '}${fmt(s.sustained)}`;
  targetRows.push(['sustained throughput ≥ 3 × Debezium', ratio === null ? 'n/a' : `${bound(relay)} vs ${bound(debezium)} events/s: ${fmt(ratio, 2)} ×${relay.saturated && debezium.saturated ? '' : ' (a rate marked ≥ is a lower bound)'}`, sustainedVerdict(ratio)]);
  for (const st of relay.steps) {
    const other = debezium?.steps.find((d) => d.rate === st.rate);
    if (!other || other.p99 === null) continue;
    const ratioP99 = st.p99 / other.p99;
    targetRows.push([`p99 ≤ ⅓ of Debezium's at ${fmt(st.rate)}/s`, `${fmt(st.p99, 1)} vs ${fmt(other.p99, 1)} ms: ${fmt(ratioP99, 2)} ×`, verdict(ratioP99 <= 1 / 3)]);
  }
  const drainRatio = relay.drain?.rate && debezium?.drain?.rate ? relay.drain.rate / debezium.drain.rate : null;
  targetRows.push(['backlog drain ≥ 3 × Debezium (saturated throughput)', drainRatio === null ? 'n/a' : `${fmt(relay.drain.rate)} vs ${fmt(debezium.drain.rate)} events/s: ${fmt(drainRatio, 2)} ×`, verdict(drainRatio === null ? null : drainRatio >= 3)]);
  const at2000 = relay.steps.find((st) => st.rate === 2000);
  targetRows.push(['p99 < 50 ms at 2,000/s', at2000 ? `${fmt(at2000.p99, 1)} ms` : 'n/a', verdict(at2000 ? at2000.p99 < 50 : null)]);
  targetRows.push(['p50 < 10 ms at 2,000/s', at2000 ? `${fmt(at2000.p50, 1)} ms` : 'n/a', verdict(at2000 ? at2000.p50 < 10 : null)]);
  const drainShare = relay.drain?.rate ? relay.drain.rate / lowerLimit : null;
  targetRows.push(['backlog drain ≥ 70% of the lower limit', drainShare === null ? 'n/a' : `${fmt(relay.drain.rate)} of ${fmt(lowerLimit)} events/s: ${fmt(drainShare * 100, 1)}%`, verdict(drainShare === null ? null : drainShare >= 0.7)]);
  const steadyRss = Math.max(...relay.steps.filter((st) => st.flat).map((st) => st.rss_mib), 0);
  targetRows.push(['RSS < 150 MB at steady state', `VmRSS at the end of flat steps ≤ ${fmt(steadyRss)} MiB (${fmt(steadyRss * 1.048576)} MB); VmHWM ${fmt(relay.liveEnd?.stats.hwm_mib)} MiB live, ${fmt(relay.drain?.hwm_mib)} MiB in the drain`, verdict(steadyRss > 0 ? steadyRss * 1.048576 < 150 : null)]);
}
table(['target', 'measured', 'verdict'], targetRows);

const profilePath = join(resultsDir, 'profile-summary.json');
if (existsSync(profilePath)) {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
  const writer = existsSync(join(resultsDir, 'profile-writer.json')) ? JSON.parse(readFileSync(join(resultsDir, 'profile-writer.json'), 'utf8')) : null;
  lines.push('## Where the relay\'s time goes', '');
  lines.push(`A separate run of the relay under \`node --cpu-prof\` while the writer wrote at full speed${writer ? ` (${fmt(writer.events)} events in ${fmt(writer.seconds, 1)} s, ${fmt(writer.achieved_rate)} events/s)` : ''}. The main thread was busy for ${fmt(profile.busy_ms)} ms and idle for ${fmt(profile.idle_ms)} ms; librdkafka's own threads are not in a V8 profile. Top functions by self time:`, '');
  table(['self ms', 'share of busy', 'function'], profile.functions.slice(0, 15).map((f) => [fmt(f.self_ms), `${f.share_of_busy}%`, `\`${f.name}\``]));
}

// The hand-written analysis applies to one run only: its first line names that run's start time.
const analysisPath = join(resultsDir, '..', '..', '..', 'bench', 'analysis.md');
lines.push('## Analysis', '');
if (existsSync(analysisPath) && readFileSync(analysisPath, 'utf8').split('\n')[0].includes(machine.started)) {
  lines.push(...readFileSync(analysisPath, 'utf8').split('\n').slice(1), '');
} else {
  lines.push(`No analysis was written for this run (bench/analysis.md does not name ${machine.started} on its first line).`, '');
}

lines.push('## Settings and commands', '');
const thisRun = machine.settings ?? `BENCH_BACKLOG_EVENTS=${Math.round(backlog.events / 1000) * 1000} BENCH_STEP_SECONDS=${machine.step_seconds}`;
lines.push('```sh', 'npm run bench            # bash bench/run with its defaults', `${thisRun} bash bench/run   # this run`, '```', '');
lines.push('- PostgreSQL 15 from `scripts/pg/start` with `max_wal_size = 8GB`, `checkpoint_timeout = 30min`, `shared_buffers = 256MB`; `synchronous_commit` and `fsync` at their defaults (on).');
lines.push('- outbox-relay: `node dist/src/cli/main.js run` as the role `migrate` creates, defaults from `.env.example` (`OUTBOX_BATCH_MAX_EVENTS=5000`, `OUTBOX_BATCH_LINGER_MS=20`, `KAFKA_LINGER_MS=1`, default `OUTBOX_HEADERS`) and `OUTBOX_TOPIC_TEMPLATE=bench.relay.{aggregate_type}`.');
lines.push('- Debezium: `org.apache.kafka.connect.cli.ConnectStandalone` with `plugin.name=pgoutput`, `snapshot.mode=no_data`, the relay\'s publication, `poll.interval.ms=10` (how long the task waits for new change events after receiving none, 500 ms by default) and `io.debezium.transforms.outbox.EventRouter` mapped to this outbox\'s columns (`table.field.event.key=aggregate_id`, `table.field.event.payload=event_data`, `route.by.field=aggregate_type`). Standalone Connect produces without Kafka transactions (at least once). The properties are written by `start_debezium` in `bench/run`.');
lines.push('- Polling relay (`bench/polling-relay.mjs`): `SELECT … FOR UPDATE SKIP LOCKED` on `public.bench_polling_outbox` (`bench/schema.sql`), produce with an idempotent producer (acks=all, linger 5 ms), wait for the acknowledgements, set `published_at`, commit. Classic: 50 rows every 100 ms. Tuned: 1,000 rows every 10 ms, polling again at once while batches come back full.');
lines.push(`- Limits: \`pg_recvlogical --start --endpos=<end of the backlog> -o proto_version=1 -o publication_names=outbox_publication --plugin=pgoutput -f /dev/null\` on a slot created before the backlog; \`org.apache.kafka.tools.ProducerPerformance --throughput -1 --transactional-id bench-kafka-perf --transaction-duration-ms 100 --producer-props acks=all\` from kafka-tools 4.1.1; \`bench/txn-latency.mjs --rate 2000\` (a bare transactional producer, its latency measured by the same consumer); \`bench/header-cost.mjs --records 100000\`.`);
lines.push('- Jars: `scripts/bench/fetch` copies Kafka Connect, Debezium and kafka-tools from Maven Central into `.cache/bench` (gitignored), from `scripts/bench/*/pom.xml`.');
lines.push('- Raw results: `.run/bench/results` (events.jsonl, per-record timestamps in *.bin, logs, the CPU profile).', '');

writeFileSync(join(docsDir, 'benchmarks.md'), lines.join('\n'));
console.log(`wrote ${join(docsDir, 'benchmarks.md')}`);
