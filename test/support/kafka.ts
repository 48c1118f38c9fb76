import Kafka from '@confluentinc/kafka-javascript';
import { inject } from 'vitest';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

function brokers(): string {
  return inject('kafkaBrokers');
}

/** Partitions of each topic, or none for a topic that does not exist yet. */
async function partitionsOf(client: Kafka.KafkaConsumer, topics: string[]): Promise<{ topic: string; partition: number }[]> {
  const metadata = await new Promise<Kafka.Metadata>((resolve, reject) => client.getMetadata({ timeout: 10_000 }, (error, data) => (error ? reject(error) : resolve(data))));
  return metadata.topics
    .filter((topic) => topics.includes(topic.name))
    .flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition: partition.id })));
}

/**
 * Reads every committed record of the topics from the beginning with isolation.level
 * read_committed, polling until `expected` records arrived or the time is up, then reading on
 * to the end of every partition so that a duplicate beyond the expected count is seen too.
 */
export async function readCommitted(topics: string[], options: { expected: number; timeoutMs?: number; keepValues?: boolean }): Promise<ConsumedRecord[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const records: ConsumedRecord[] = [];

  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': brokers(),
      'group.id': `test-reader-${Math.random().toString(36).slice(2)}`,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
      'topic.metadata.refresh.interval.ms': 1000,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));

  try {
    // The end offset each partition reported last. The EOF event may be emitted before the
    // callback that delivers the messages in front of it, so compare offsets, not arrival order.
    const endOffsets = new Map<string, number>();
    const lastOffsets = new Map<string, number>();
    consumer.on('partition.eof', (eof) => endOffsets.set(`${eof.topic}/${eof.partition}`, eof.offset));

    // Topics appear when the relay first produces to them; assign once all of them exist.
    let assigned: { topic: string; partition: number }[] = [];
    while (Date.now() < deadline) {
      assigned = await partitionsOf(consumer, topics);
      if (new Set(assigned.map((p) => p.topic)).size === topics.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (assigned.length === 0) return records;
    consumer.assign(assigned.map((p) => ({ ...p, offset: 0 })));

    while (Date.now() < deadline) {
      const batch = await consumeBatch(consumer);
      for (const message of batch) {
        lastOffsets.set(`${message.topic}/${message.partition}`, message.offset);
        const record = toRecord(message);
        // Large runs keep ids and order only, so a million records fit in the test's memory.
        if (options.keepValues === false) record.value = EMPTY;
        records.push(record);
      }

      const allAtEnd = assigned.every((p) => {
        const key = `${p.topic}/${p.partition}`;
        const end = endOffsets.get(key);
        return end !== undefined && (lastOffsets.get(key) ?? -1) < end;
      });
      if (records.length >= options.expected && allAtEnd) break;
      if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return records;
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

const EMPTY = Buffer.alloc(0);

function consumeBatch(consumer: Kafka.KafkaConsumer): Promise<Kafka.Message[]> {
  return new Promise((resolve, reject) => consumer.consume(1000, (error, messages) => (error ? reject(error) : resolve(messages))));
}

function toRecord(message: Kafka.Message): ConsumedRecord {
  const headers: Record<string, string> = {};
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key?.toString() ?? '',
    value: message.value ?? Buffer.alloc(0),
    headers,
  };
}

/** Creates a topic with settings of its own, for tests that need a limit such as max.message.bytes. */
export async function createTopic(topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
  const admin = new Kafka.KafkaJS.Kafka({}).admin({ 'bootstrap.servers': brokers() } as Kafka.KafkaJS.AdminConstructorConfig);
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }] });
  } finally {
    await admin.disconnect();
  }
}

/** Writes a tombstone (a null value) for `key`, the way an operator deletes a compacted record. */
export async function produceTombstone(topic: string, key: string): Promise<void> {
  const producer = new Kafka.KafkaJS.Kafka({}).producer({ 'bootstrap.servers': brokers() } as Kafka.KafkaJS.ProducerConstructorConfig);
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key, value: null }] });
  } finally {
    await producer.disconnect();
  }
}
