// Measures what record headers cost the Kafka client: a transactional producer with the relay's
// settings produces the same records with 0, 1, 4 and 8 headers, and the time spent inside
// produce() is divided by the record count. Prints one JSON line per header count.
//
// Usage: node bench/header-cost.mjs --brokers HOST:PORT [--records 100000]
import Kafka from '@confluentinc/kafka-javascript';
import { fromCallback, parseArgs } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), { brokers: '', records: '100000' });
if (!args.brokers) throw new Error('--brokers is required');
const records = Number(args.records);
const BATCH = 5000;
const ALL = { id: '0b7c5d0e-5d1c-4c55-9a0e-6d0c8f9f6a11', event_type: 'OrderPlaced', commit_lsn: '0/78F8D10', correlation_id: 'req-7f3a', aggregate_type: 'order', aggregate_id: 'order-12345', aggregate_version: '3', created_at: '2026-12-04T22:59:42.123456Z' };
const value = Buffer.from(JSON.stringify({ ts: Date.now(), padding: 'x'.repeat(560) }));

async function measure(headerCount) {
  const producer = new Kafka.Producer({
    'bootstrap.servers': args.brokers, 'transactional.id': `bench-header-cost-${process.pid}-${headerCount}`, 'enable.idempotence': true,
    'linger.ms': 1, 'compression.type': 'lz4', dr_cb: true,
  }, { partitioner: 'murmur2_random', acks: -1 });
  let outstanding = 0;
  let delivered = null;
  producer.on('delivery-report', () => {
    if (--outstanding === 0 && delivered) delivered();
  });
  await fromCallback((done) => producer.connect({}, done));
  producer.setPollInBackground(true);
  await fromCallback((done) => producer.initTransactions(30_000, done));

  const names = Object.keys(ALL).slice(0, headerCount);
  let produceMs = 0;
  for (let sent = 0; sent < records; sent += BATCH) {
    await fromCallback((done) => producer.beginTransaction(done));
    const started = performance.now();
    for (let i = 0; i < BATCH; i++) {
      // Built per record, as the relay builds them.
      const headers = headerCount === 0 ? undefined : names.map((name) => ({ [name]: ALL[name] }));
      producer.produce(`bench.header-cost.${i % 5}`, null, value, Buffer.from(`order-${i % 977}`), null, undefined, headers);
      outstanding++;
    }
    produceMs += performance.now() - started;
    if (outstanding > 0) await new Promise((resolve) => { delivered = resolve; });
    await fromCallback((done) => producer.commitTransaction(30_000, done));
  }
  await fromCallback((done) => producer.disconnect(done));
  return { headers: headerCount, records, produce_us_per_record: Math.round((produceMs / records) * 1000 * 10) / 10 };
}

for (const count of [0, 1, 4, 8]) console.log(JSON.stringify(await measure(count)));
