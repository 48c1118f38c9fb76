/**
 * A read_committed consumer for the demo: reads the order topic from the beginning, prints every
 * record, and checks what exactly-once delivery promises: each committed event once, each
 * aggregate's versions in order, nothing from a rolled-back transaction.
 *
 * Environment:
 *   KAFKA_BROKERS              comma-separated host:port list
 *   DEMO_TOPIC                 topic to read (default order-events)
 *   DEMO_EXPECTED_EVENTS       how many distinct events must arrive (required)
 *   DEMO_ROLLED_BACK_ORDERS    comma-separated order ids that were rolled back (optional)
 *   DEMO_CONSUMER_TIMEOUT_MS   give up after this many milliseconds (default 60000)
 *
 * Exits 1 when an event is duplicated, out of order, missing, unexpected or from a rolled-back order.
 */
import Kafka from '@confluentinc/kafka-javascript';

interface TopicPartition {
  topic: string;
  partition: number;
}

interface DemoRecord extends TopicPartition {
  offset: number;
  key: string;
  headers: Record<string, string>;
  value: string;
}

interface Summary {
  received: number;
  distinctIds: number;
  duplicates: number;
  outOfOrder: number;
  versionGaps: number;
  fromRolledBack: number;
}

function requireEnv(name: string, expected: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is missing: expected ${expected}`);
  return value;
}

function readCount(name: string, fallback?: number): number {
  const text = process.env[name];
  if ((text === undefined || text === '') && fallback !== undefined) return fallback;
  if (text === undefined || !/^\d+$/.test(text)) throw new Error(`${name}=${JSON.stringify(text ?? '')} is invalid: expected a non-negative integer`);
  return Number(text);
}

function fromCallback<T>(run: (done: (error: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

/** Partitions of the topic, or none while the relay has not produced to it yet. */
async function partitionsOf(consumer: Kafka.KafkaConsumer, topic: string): Promise<TopicPartition[]> {
  const metadata = await fromCallback<Kafka.Metadata>((done) => consumer.getMetadata({ topic, timeout: 10_000 }, done));
  return metadata.topics.filter((t) => t.name === topic && t.partitions.length > 0).flatMap((t) => t.partitions.map((p) => ({ topic, partition: p.id })));
}

function toRecord(message: Kafka.Message): DemoRecord {
  const headers: Record<string, string> = {};
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return { topic: message.topic, partition: message.partition, offset: message.offset, key: message.key?.toString() ?? '', headers, value: message.value?.toString('utf8') ?? '' };
}

function printRecord(record: DemoRecord): void {
  const header = (name: string): string => record.headers[name] ?? '-';
  console.log(
    `${record.topic}[${record.partition}]@${record.offset} key=${record.key} event_type=${header('event_type')} ` +
      `aggregate_version=${header('aggregate_version')} commit_lsn=${header('commit_lsn')} traceparent=${header('traceparent')} value=${record.value}`,
  );
}

/**
 * Reads from offset 0 until `expected` records arrived and every partition is at its end, so that
 * a duplicate past the expected count is seen too, or until the deadline.
 */
async function readAll(consumer: Kafka.KafkaConsumer, topic: string, expected: number, deadline: number): Promise<DemoRecord[]> {
  let assigned: TopicPartition[] = [];
  while (Date.now() < deadline) {
    assigned = await partitionsOf(consumer, topic);
    if (assigned.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (assigned.length === 0) {
    if (expected > 0) console.error(`consumer: timed out waiting for topic ${topic} to exist`);
    return [];
  }
  consumer.assign(assigned.map((p) => ({ ...p, offset: 0 })));

  // Records are taken from the 'data' event, not from the consume() callback. The library emits
  // 'data' and 'partition.eof' in queue order and calls the callback after all of them, so the
  // callback would see a partition's last records after that partition's end-of-partition event.
  const atEnd = new Set<number>();
  const records: DemoRecord[] = [];
  consumer.on('partition.eof', (eof) => atEnd.add(eof.partition));
  consumer.on('data', (message) => {
    atEnd.delete(message.partition);
    const record = toRecord(message);
    printRecord(record);
    records.push(record);
  });

  while (Date.now() < deadline) {
    const batch = await fromCallback<Kafka.Message[]>((done) => consumer.consume(500, done));
    if (records.length >= expected && assigned.every((p) => atEnd.has(p.partition))) return records;
    if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.error(`consumer: timed out with ${records.length} of ${expected} records; partitions at their end: ${[...atEnd].sort().join(', ') || 'none'}`);
  return records;
}

/**
 * Counts duplicates, versions out of order or skipped, and events of rolled-back orders. Version
 * order can be checked across the merged stream because one aggregate is on one partition, which
 * arrives in offset order.
 */
function summarize(records: DemoRecord[], rolledBackOrders: Set<string>): Summary {
  const seenIds = new Set<string>();
  const lastVersion = new Map<string, number>();
  const summary: Summary = { received: records.length, distinctIds: 0, duplicates: 0, outOfOrder: 0, versionGaps: 0, fromRolledBack: 0 };

  for (const record of records) {
    const id = record.headers.id ?? `${record.topic}/${record.partition}/${record.offset}`;
    if (seenIds.has(id)) {
      summary.duplicates++;
      console.error(`duplicate: event ${id} again at ${record.topic}[${record.partition}]@${record.offset}`);
      continue;
    }
    seenIds.add(id);

    const aggregate = record.headers.aggregate_id ?? record.key;
    if (rolledBackOrders.has(aggregate)) {
      summary.fromRolledBack++;
      console.error(`rolled back: order ${aggregate} was rolled back, yet ${record.topic}[${record.partition}]@${record.offset} carries its event`);
    }

    const version = Number(record.headers.aggregate_version);
    const previous = lastVersion.get(aggregate) ?? 0;
    if (version <= previous) {
      summary.outOfOrder++;
      console.error(`out of order: order ${aggregate} version ${version} after version ${previous}`);
    } else if (version !== previous + 1) {
      summary.versionGaps++;
      console.error(`gap: order ${aggregate} version ${version} after version ${previous}`);
    }
    lastVersion.set(aggregate, Math.max(previous, version));
  }
  summary.distinctIds = seenIds.size;
  return summary;
}

async function main(): Promise<number> {
  const brokers = requireEnv('KAFKA_BROKERS', 'a comma-separated list of host:port, such as 127.0.0.1:9092');
  const topic = process.env.DEMO_TOPIC || 'order-events';
  const expected = readCount('DEMO_EXPECTED_EVENTS');
  const timeoutMs = readCount('DEMO_CONSUMER_TIMEOUT_MS', 60_000);
  const rolledBackOrders = new Set((process.env.DEMO_ROLLED_BACK_ORDERS ?? '').split(',').filter((id) => id !== ''));

  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': brokers,
      'client.id': 'demo-consumer',
      // A fresh group and no offset commits: every run reads the whole topic again.
      'group.id': `demo-consumer-${process.pid}-${Date.now()}`,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
      'topic.metadata.refresh.interval.ms': 1000,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await fromCallback<Kafka.Metadata>((done) => consumer.connect({ timeout: 10_000 }, done));

  let records: DemoRecord[];
  try {
    records = await readAll(consumer, topic, expected, Date.now() + timeoutMs);
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }

  const summary = summarize(records, rolledBackOrders);
  const missing = Math.max(0, expected - summary.distinctIds);
  const unexpected = Math.max(0, summary.distinctIds - expected);
  console.log(
    `summary: received=${summary.received} distinct_ids=${summary.distinctIds} expected=${expected} duplicates=${summary.duplicates} ` +
      `out_of_order=${summary.outOfOrder} version_gaps=${summary.versionGaps} missing=${missing} unexpected=${unexpected} from_rolled_back=${summary.fromRolledBack}`,
  );

  const failed = summary.duplicates + summary.outOfOrder + summary.versionGaps + missing + unexpected + summary.fromRolledBack > 0;
  if (failed) console.error(`consumer: the topic ${topic} does not hold exactly the ${expected} committed events, in order; see the lines above`);
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`consumer: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
