// read_committed consumer that records, for every record, the "ts" in its value (the writer's
// commit-ish clock_timestamp(), epoch ms) and its own receive time on the same machine clock.
//
// Usage: node bench/consumer.mjs --brokers HOST:PORT --topics a,b,c --out PREFIX
//          [--from beginning|end] [--expect N] [--seconds S] [--idle-seconds S] [--partitions 3]
// Creates missing topics with --partitions partitions, assigns every partition at the beginning or
// at the last stable offset, and stops after --expect records (0: no count limit), after --seconds,
// after --idle-seconds without a record once records have arrived (0: never), or on SIGTERM. Writes PREFIX.progress (the count so far, every 200 ms), PREFIX.bin (float64 pairs: ts_ms, receive_ms, one per record) and
// PREFIX.json (counts, first and last receive time, mean record size).
import { writeFileSync } from 'node:fs';
import Kafka from '@confluentinc/kafka-javascript';
import { fromCallback, parseArgs } from './lib.mjs';

const args = parseArgs(process.argv.slice(2), {
  brokers: '', topics: '', out: '', from: 'end', expect: '0', seconds: '600', 'idle-seconds': '0', partitions: '3',
});
if (!args.brokers || !args.topics || !args.out) throw new Error('--brokers, --topics and --out are required');
const topics = args.topics.split(',');
const expect = Number(args.expect);
const deadline = Date.now() + Number(args.seconds) * 1000;
const idleMs = Number(args['idle-seconds']) * 1000;

async function createTopics() {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': args.brokers });
  try {
    for (const topic of topics) {
      await new Promise((resolve, reject) => admin.createTopic({ topic, num_partitions: Number(args.partitions), replication_factor: 1 }, 10_000, (error) => {
        // ERR_TOPIC_ALREADY_EXISTS (36) is the expected case on a second run against the same broker.
        if (error && error.code !== 36) reject(error); else resolve();
      }));
    }
  } finally {
    admin.disconnect();
  }
}

await createTopics();
const consumer = new Kafka.KafkaConsumer({
  'bootstrap.servers': args.brokers,
  'group.id': `bench-consumer-${process.pid}-${Date.now()}`,
  'enable.auto.commit': false,
  'isolation.level': 'read_committed',
  // The broker completes a waiting fetch as soon as the last stable offset moves, so this bounds
  // only the idle round trip, not the latency of new records.
  'fetch.wait.max.ms': 100,
  'fetch.min.bytes': 1,
}, {});
await fromCallback((done) => consumer.connect({ timeout: 10_000 }, done));
const metadata = await fromCallback((done) => consumer.getMetadata({ timeout: 10_000 }, done));
// librdkafka's logical offsets; OFFSET_END resolves to the last stable offset under read_committed.
const OFFSET_BEGINNING = -2;
const OFFSET_END = -1;
const assignment = [];
for (const topic of metadata.topics.filter((t) => topics.includes(t.name))) {
  for (const partition of topic.partitions) assignment.push({ topic: topic.name, partition: partition.id, offset: args.from === 'beginning' ? OFFSET_BEGINNING : OFFSET_END });
}
if (assignment.length === 0) throw new Error(`none of the topics ${args.topics} has partitions`);
consumer.assign(assignment);

let capacity = Math.max(1024, expect > 0 ? expect : 1 << 20);
let pairs = new Float64Array(capacity * 2);
let received = 0;
let bytes = 0;
let withoutTs = 0;
let firstMs = null;
let lastMs = null;
const TS = /"ts": ?([0-9.]+)/;

consumer.on('data', (message) => {
  const now = performance.timeOrigin + performance.now();
  const value = message.value?.toString('latin1') ?? '';
  const match = TS.exec(value);
  if (!match) { withoutTs++; return; }
  if (received === capacity) {
    capacity *= 2;
    const grown = new Float64Array(capacity * 2);
    grown.set(pairs);
    pairs = grown;
  }
  pairs[received * 2] = Number(match[1]);
  pairs[received * 2 + 1] = now;
  received++;
  bytes += (message.size ?? value.length) + (message.key?.length ?? 0);
  for (const header of message.headers ?? []) for (const [name, v] of Object.entries(header)) bytes += name.length + (v?.length ?? 0);
  firstMs ??= now;
  lastMs = now;
  if (expect > 0 && received >= expect) finish('expected count reached');
});
consumer.consume();

let finishing = false;
function finish(reason) {
  if (finishing) return;
  finishing = true;
  writeFileSync(`${args.out}.bin`, Buffer.from(pairs.buffer, 0, received * 16));
  const summary = {
    reason, topics, received, records_without_ts: withoutTs, first_receive_ms: firstMs, last_receive_ms: lastMs,
    mean_record_bytes: received > 0 ? Math.round(bytes / received) : null,
  };
  writeFileSync(`${args.out}.json`, JSON.stringify(summary) + '\n');
  console.log(JSON.stringify(summary));
  // No disconnect: librdkafka's close can hang while the broker is busy, and nothing is committed.
  process.exit(0);
}

process.on('SIGTERM', () => finish('SIGTERM'));
process.on('SIGINT', () => finish('SIGINT'));
// PREFIX.progress contains the running count, which bench/run reads to see whether a step's
// events were all delivered.
const timer = setInterval(() => {
  writeFileSync(`${args.out}.progress`, `${received}\n`);
  if (Date.now() >= deadline) finish('time limit');
  if (idleMs > 0 && lastMs !== null && Date.now() - lastMs > idleMs) finish(`no record for ${args['idle-seconds']} s`);
}, 200);
timer.unref?.();
setInterval(() => {}, 1 << 30);
