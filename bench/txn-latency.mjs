// Measures the latency limit of Kafka transactions alone. A bare librdkafka transactional producer
// with the relay's settings publishes records of the relay's size at a fixed rate over the same
// topics and partitions. It commits as soon as the previous commit ends, as the relay does when it
// keeps up. The bench consumer measures each record from its "ts" (set when it is produced) to
// its arrival under read_committed, so the figures are what Kafka and this client allow before
// PostgreSQL and decoding add anything.
//
// Usage: node bench/txn-latency.mjs --brokers HOST:PORT --topic-prefix P --rate EVENTS_PER_S
//          --seconds S --record-bytes N --out FILE.json
import { writeFileSync } from 'node:fs';
import Kafka from '@confluentinc/kafka-javascript';
import { fromCallback, parseArgs } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), { brokers: '', 'topic-prefix': '', rate: '2000', seconds: '15', 'record-bytes': '770', out: '' });
if (!args.brokers || !args['topic-prefix'] || !args.out) throw new Error('--brokers, --topic-prefix and --out are required');
const TYPES = ['order', 'payment', 'inventory', 'shipment', 'customer'];
const rate = Number(args.rate);
const KEYS = 1000;
// The relay's default headers for the benchmark's rows: id, event_type, commit_lsn and correlation_id.
const headers = [{ id: '0b7c5d0e-5d1c-4c55-9a0e-6d0c8f9f6a11' }, { event_type: 'OrderPlaced' }, { commit_lsn: '0/78F8D10' }, { correlation_id: 'req-7f3a' }];
const padding = 'x'.repeat(Math.max(0, Number(args['record-bytes']) - 160));

const producer = new Kafka.Producer({
  'bootstrap.servers': args.brokers, 'transactional.id': `bench-txn-latency-${process.pid}`, 'enable.idempotence': true,
  'linger.ms': 1, 'compression.type': 'lz4', dr_cb: true,
}, { partitioner: 'murmur2_random', acks: -1 });
let outstanding = 0;
let delivered = null;
producer.on('delivery-report', (error) => {
  if (error) throw error;
  if (--outstanding === 0 && delivered) delivered();
});
await fromCallback((done) => producer.connect({}, done));
producer.setPollInBackground(true);
await fromCallback((done) => producer.initTransactions(30_000, done));

let inTransaction = 0;
let committing = false;
let commits = 0;
let produced = 0;
const waiting = [];

function produce(value, n) {
  producer.produce(`${args['topic-prefix']}${TYPES[n % TYPES.length]}`, null, value, Buffer.from(`order-${n % KEYS}`), null, undefined, headers);
  outstanding++;
  inTransaction++;
}

async function commitLoop() {
  if (committing || inTransaction === 0) return;
  committing = true;
  if (outstanding > 0) await new Promise((resolve) => { delivered = resolve; });
  delivered = null;
  await fromCallback((done) => producer.commitTransaction(30_000, done));
  commits++;
  inTransaction = 0;
  await fromCallback((done) => producer.beginTransaction(done));
  committing = false;
  for (const [value, n] of waiting.splice(0)) produce(value, n);
  setImmediate(commitLoop);
}

await fromCallback((done) => producer.beginTransaction(done));
const started = Date.now();
const deadline = started + Number(args.seconds) * 1000;
const ORDER_EVENTS = 6;
const intervalMs = (1000 * ORDER_EVENTS) / rate;
let next = performance.now();
while (Date.now() < deadline) {
  for (let i = 0; i < ORDER_EVENTS; i++) {
    const value = Buffer.from(`{"ts": ${Date.now()}, "padding": "${padding}"}`);
    if (committing) waiting.push([value, produced]);
    else produce(value, produced);
    produced++;
  }
  setImmediate(commitLoop);
  next += intervalMs;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
}
while (committing || inTransaction > 0 || waiting.length > 0) {
  await commitLoop();
  await new Promise((resolve) => setTimeout(resolve, 5));
}
writeFileSync(args.out, JSON.stringify({ produced, commits, seconds: (Date.now() - started) / 1000, rate }));
await fromCallback((done) => producer.disconnect(done));
