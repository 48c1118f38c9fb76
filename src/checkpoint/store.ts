import Kafka from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { commonKafkaProperties } from '../publisher/kafka-config.js';
import { RelayError, errorText } from '../publisher/errors.js';
import { kafkaLogger } from '../publisher/kafka-logger.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint.js';
import type { KafkaRecord } from '../outbox/record.js';
import type { KafkaSecurity } from '../config/config.js';

export interface CheckpointStoreOptions {
  brokers: string[];
  security: KafkaSecurity;
  topic: string;
  slot: string;
}

const READ_TIMEOUT_MS = 30_000;

/** The compacted topic that contains one checkpoint per slot, keyed by the slot name. */
export class CheckpointStore {
  constructor(
    private readonly options: CheckpointStoreOptions,
    private readonly log: Logger,
  ) {}

  /** Returns the record to add to a Kafka transaction, so that the checkpoint commits with its events. */
  record(checkpoint: Checkpoint): KafkaRecord {
    return { topic: this.options.topic, key: Buffer.from(this.options.slot), value: encodeCheckpoint(checkpoint), headers: {} };
  }

  /** Creates the compacted checkpoint topic with one partition if it does not exist. */
  async ensureTopic(): Promise<void> {
    const kafka = new Kafka.KafkaJS.Kafka({ kafkaJS: { logger: kafkaLogger(this.log) } } as Kafka.KafkaJS.CommonConstructorConfig);
    const admin = kafka.admin({ ...commonKafkaProperties(this.options.brokers, this.options.security, 'outbox-relay-admin') } as Kafka.KafkaJS.AdminConstructorConfig);
    let existing: string[];
    try {
      await admin.connect();
      existing = await admin.listTopics();
    } catch (error) {
      await admin.disconnect().catch(() => undefined);
      throw new RelayError('kafka_unreachable', `could not reach Kafka at ${this.options.brokers.join(',')} (${errorText(error)}); check KAFKA_BROKERS, TLS and SASL settings, and that the brokers are up`, true, { cause: error });
    }

    try {
      if (existing.includes(this.options.topic)) return;
      await admin.createTopics({
        topics: [{ topic: this.options.topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      });
      this.log.info({ topic: this.options.topic }, 'created checkpoint topic');
    } catch (error) {
      if (/already exists/i.test(errorText(error))) return;
      throw new RelayError('kafka_error', `could not create checkpoint topic "${this.options.topic}": ${errorText(error)}; create it with cleanup.policy=compact and one partition`, true, { cause: error });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * Reads the newest committed checkpoint of this slot, or null when there is none. Call it after
   * the producer has initialised transactions: that aborts any transaction a fenced predecessor
   * left open, which would otherwise hold read_committed reads back until it times out.
   */
  async readLatest(): Promise<Checkpoint | null> {
    const consumer = new Kafka.KafkaConsumer(
      {
        ...commonKafkaProperties(this.options.brokers, this.options.security, 'outbox-relay-checkpoint-reader'),
        'group.id': `outbox-relay-checkpoint-reader.${this.options.slot}`,
        'enable.auto.commit': false,
        'enable.partition.eof': true,
        'isolation.level': 'read_committed',
      },
      { 'auto.offset.reset': 'earliest' },
    );

    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: READ_TIMEOUT_MS }, (error) => (error ? reject(error) : resolve())));
    try {
      consumer.assign([{ topic: this.options.topic, partition: 0, offset: 0 }]);
      return await this.consumeToEnd(consumer);
    } finally {
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
    }
  }

  private consumeToEnd(consumer: Kafka.KafkaConsumer): Promise<Checkpoint | null> {
    const slotKey = this.options.slot;
    let latest: Checkpoint | null = null;

    return new Promise((resolve, reject) => {
      const deadline = Date.now() + READ_TIMEOUT_MS;
      let done = false;
      consumer.on('partition.eof', () => {
        done = true;
      });

      const poll = (): void => {
        consumer.consume(500, (error, messages) => {
          if (error) return reject(new RelayError('kafka_error', `reading checkpoint topic "${this.options.topic}" failed: ${errorText(error)}`, true, { cause: error }));
          for (const message of messages) {
            // A tombstone (null value) is how an operator deletes a checkpoint to accept a gap.
            if (message.key?.toString() === slotKey) latest = message.value ? decodeCheckpoint(message.value) : null;
          }
          if (done) return resolve(latest);
          if (Date.now() > deadline) return reject(new RelayError('kafka_error', `timed out reading checkpoint topic "${this.options.topic}"`, true));
          setImmediate(poll);
        });
      };
      poll();
    });
  }
}
