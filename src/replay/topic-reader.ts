import Kafka from '@confluentinc/kafka-javascript';
import { commonKafkaProperties } from '../publisher/kafka-config.js';
import { RelayError, errorText } from '../publisher/errors.js';
import type { KafkaSecurity } from '../config/config.js';
import type { Headers } from '../outbox/record.js';

export interface KafkaConnection {
  brokers: string[];
  security: KafkaSecurity;
}

export interface TopicMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Reads every committed record of a topic (isolation.level read_committed) from the beginning to
 * the end of each partition as it is when the read starts, calling `onMessage` in partition
 * order, then returns. Returns false when the topic does not exist. An open Kafka transaction on
 * the topic holds a read_committed read back until it ends, hence the timeout.
 */
export async function readTopicToEnd(connection: KafkaConnection, topic: string, clientId: string, onMessage: (message: TopicMessage) => void, timeoutMs = 60_000): Promise<boolean> {
  const consumer = new Kafka.KafkaConsumer(
    {
      ...commonKafkaProperties(connection.brokers, connection.security, clientId),
      // The reader assigns partitions itself and commits nothing, so the group is never joined.
      'group.id': clientId,
      'enable.auto.commit': false,
      'enable.partition.eof': true,
      'isolation.level': 'read_committed',
      'allow.auto.create.topics': false,
    },
    { 'auto.offset.reset': 'earliest' },
  );

  try {
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: CONNECT_TIMEOUT_MS }, (error) => (error ? reject(error) : resolve())));
  } catch (error) {
    throw new RelayError('kafka_unreachable', `could not reach Kafka at ${connection.brokers.join(',')} (${errorText(error)}); check KAFKA_BROKERS, TLS and SASL settings, and that the brokers are up`, true, { cause: error });
  }

  try {
    const partitions = await partitionsOf(consumer, topic);
    if (partitions === null) return false;
    consumer.assign(partitions.map((partition) => ({ topic, partition, offset: 0 })));
    await consumeToEnd(consumer, topic, partitions, onMessage, timeoutMs);
    return true;
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

async function partitionsOf(consumer: Kafka.KafkaConsumer, topic: string): Promise<number[] | null> {
  const metadata = await new Promise<Kafka.Metadata>((resolve, reject) =>
    consumer.getMetadata({ timeout: CONNECT_TIMEOUT_MS }, (error, data) => (error ? reject(new RelayError('kafka_error', `could not read the metadata of topic "${topic}": ${errorText(error)}`, true, { cause: error })) : resolve(data))),
  );
  const found = metadata.topics.find((candidate) => candidate.name === topic);
  return found === undefined ? null : found.partitions.map((partition) => partition.id);
}

function consumeToEnd(consumer: Kafka.KafkaConsumer, topic: string, partitions: number[], onMessage: (message: TopicMessage) => void, timeoutMs: number): Promise<void> {
  // The end offset each partition reported last. A batch's EOF event is emitted before the
  // callback that delivers the messages in front of it, so the check compares offsets after
  // each callback instead of trusting arrival order.
  const endOffsets = new Map<number, number>();
  const lastOffsets = new Map<number, number>();
  consumer.on('partition.eof', (eof) => endOffsets.set(eof.partition, eof.offset));
  const allAtEnd = (): boolean =>
    partitions.every((partition) => {
      const end = endOffsets.get(partition);
      return end !== undefined && (lastOffsets.get(partition) ?? -1) < end;
    });

  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      consumer.consume(1000, (error, messages) => {
        if (error) return reject(new RelayError('kafka_error', `reading topic "${topic}" failed: ${errorText(error)}`, true, { cause: error }));
        try {
          for (const message of messages) {
            lastOffsets.set(message.partition, message.offset);
            onMessage(toTopicMessage(message));
          }
        } catch (callbackError) {
          return reject(callbackError);
        }
        if (allAtEnd()) return resolve();
        if (Date.now() > deadline) {
          const behind = partitions.filter((partition) => !endOffsets.has(partition) || (lastOffsets.get(partition) ?? -1) >= endOffsets.get(partition)!);
          return reject(new RelayError('kafka_error', `timed out after ${timeoutMs} ms reading topic "${topic}"; partitions ${behind.join(', ')} did not reach their end, possibly held back by an open Kafka transaction`, true));
        }
        setImmediate(poll);
      });
    };
    poll();
  });
}

function toTopicMessage(message: Kafka.Message): TopicMessage {
  const headers: Headers = {};
  for (const header of message.headers ?? []) {
    for (const [name, value] of Object.entries(header)) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return { topic: message.topic, partition: message.partition, offset: message.offset, key: message.key === undefined || message.key === null ? null : Buffer.from(message.key), value: message.value ?? null, headers };
}
