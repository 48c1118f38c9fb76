// Load generator shaped like a shop. Each order is one PostgreSQL transaction that inserts one row
// into bench_orders and 5 to 8 outbox events of about 600 bytes of JSON. The events are spread over
// many aggregates: orders, payments, shipments, customers and 20,000 inventory items.
//
// Each event's event_data carries "ts": clock_timestamp() in epoch milliseconds, taken by the
// server while it inserts the row. The whole order is one statement in autocommit mode, so the
// commit follows within that statement's round trip; consumers subtract "ts" from their receive
// time to get the latency from commit to visibility (a slight overestimate, by the commit's own
// duration, which this writer measures and prints as commit_ms).
//
// Usage: node bench/writer.mjs --url URL [--table public.outbox_events] [--rate EVENTS_PER_S]
//          [--events N | --seconds S] [--connections C] [--seed N] [--out FILE]
//   --rate 0 (the default) writes as fast as the connections allow. Pacing is open loop: order k
//   is due when the events before it reach rate x elapsed time, so a slow commit does not lower
//   the offered rate as long as another connection is free.
// Prints one JSON summary line on stdout and writes it to --out when given.
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { parseArgs, percentile, seededRandom } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), {
  url: '', table: 'public.outbox_events', rate: '0', events: '0', seconds: '0', connections: '4', seed: '1', out: '',
});
if (!args.url) throw new Error('--url is missing: expected the postgres:// URL of the bench database');
const rate = Number(args.rate);
const maxEvents = Number(args.events);
const maxSeconds = Number(args.seconds);
const connections = Number(args.connections);
if (!(maxEvents > 0) && !(maxSeconds > 0)) throw new Error('expected --events N or --seconds S (a positive number), so that the run ends by itself');
if (!/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(args.table)) throw new Error(`--table ${args.table} is invalid: expected schema.table in lower case`);

const random = seededRandom(Number(args.seed));
const CUSTOMERS = 50_000;
const SKUS = 20_000;
const EVENT_TYPES = ['OrderPlaced', 'OrderLineAdded', 'PaymentAuthorized', 'InventoryReserved', 'ShipmentRequested', 'CustomerPointsAccrued', 'OrderConfirmed', 'InvoiceIssued'];
// Filler text sizes each event_data near 600 bytes as jsonb prints it (with "ts" added by SQL).
const FILLER = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.';

// A data-modifying CTE runs even though nothing reads it, so one statement inserts the order and
// its events as one transaction in one round trip.
const SQL = `
WITH new_order AS (
  INSERT INTO public.bench_orders (id, customer, total) VALUES ($1, $2, $3)
)
INSERT INTO ${args.table} (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id)
SELECT e->>'t', e->>'a', e->>'i', (e->>'v')::bigint,
       jsonb_set(e->'d', '{ts}', to_jsonb(round(extract(epoch FROM clock_timestamp()) * 1000, 3))),
       $4
FROM jsonb_array_elements($5::jsonb) WITH ORDINALITY AS rows(e, n)
ORDER BY n`;

let orderSeq = 0;
const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;

/** Builds one order: its id, customer, total and 5 to 8 events over several aggregates. */
function makeOrder() {
  const orderId = `${runId}-${++orderSeq}`;
  const customer = `c${Math.floor(random() * CUSTOMERS)}`;
  const total = (5 + random() * 995).toFixed(2);
  const count = 5 + Math.floor(random() * 4);
  const events = [];
  for (let i = 0; i < count; i++) {
    const eventType = EVENT_TYPES[i];
    let aggregateType = 'order';
    let aggregateId = orderId;
    if (eventType === 'PaymentAuthorized' || eventType === 'InvoiceIssued') { aggregateType = 'payment'; aggregateId = `p-${orderId}`; }
    else if (eventType === 'InventoryReserved') { aggregateType = 'inventory'; aggregateId = `sku-${Math.floor(random() * SKUS)}`; }
    else if (eventType === 'ShipmentRequested') { aggregateType = 'shipment'; aggregateId = `s-${orderId}`; }
    else if (eventType === 'CustomerPointsAccrued') { aggregateType = 'customer'; aggregateId = customer; }
    const data = {
      order_id: orderId, customer, total, currency: 'EUR', line: i,
      sku: `sku-${Math.floor(random() * SKUS)}`, quantity: 1 + Math.floor(random() * 5),
      address: { street: `${Math.floor(random() * 999)} Long Street`, city: 'Springfield', postcode: `${10000 + Math.floor(random() * 89999)}` },
      note: FILLER.slice(0, 245 + Math.floor(random() * 30)),
    };
    events.push({ t: eventType, a: aggregateType, i: aggregateId, v: i + 1, d: data });
  }
  return { orderId, customer, total, events };
}

const started = Date.now();
const deadline = maxSeconds > 0 ? started + maxSeconds * 1000 : Infinity;
let issuedEvents = 0;
let writtenEvents = 0;
let writtenOrders = 0;
const commitMs = [];

function finished() {
  return (maxEvents > 0 && issuedEvents >= maxEvents) || Date.now() >= deadline;
}

async function worker(client) {
  while (!finished()) {
    const order = makeOrder();
    const dueAt = rate > 0 ? started + (issuedEvents / rate) * 1000 : 0;
    issuedEvents += order.events.length;
    const wait = dueAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (Date.now() >= deadline) break;
    const t0 = performance.now();
    await client.query(SQL, [order.orderId, order.customer, order.total, `corr-${order.orderId}`, JSON.stringify(order.events)]);
    // Every 16th round trip is kept: enough for percentiles without growing an array per order.
    if (writtenOrders % 16 === 0) commitMs.push(performance.now() - t0);
    writtenOrders++;
    writtenEvents += order.events.length;
  }
}

const clients = [];
for (let i = 0; i < connections; i++) {
  const client = new pg.Client({ connectionString: args.url, application_name: 'bench-writer' });
  await client.connect();
  clients.push(client);
}
try {
  await Promise.all(clients.map((client) => worker(client)));
} finally {
  await Promise.all(clients.map((client) => client.end()));
}
const ended = Date.now();
const seconds = (ended - started) / 1000;
commitMs.sort((a, b) => a - b);
const summary = {
  table: args.table, offered_rate: rate, connections, started_ms: started, ended_ms: ended, seconds,
  orders: writtenOrders, events: writtenEvents, achieved_rate: Math.round(writtenEvents / seconds),
  commit_ms_p50: percentile(commitMs, 0.5), commit_ms_p99: percentile(commitMs, 0.99),
};
const line = JSON.stringify(summary);
console.log(line);
if (args.out) writeFileSync(args.out, line + '\n');
