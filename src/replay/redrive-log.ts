import Kafka from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { commonKafkaProperties } from '../publisher/kafka-config.js';
import { RelayError, errorText } from '../publisher/errors.js';
import { kafkaLogger } from '../publisher/kafka-logger.js';
import type { KafkaRecord } from '../outbox/record.js';
import { readTopicToEnd, type KafkaConnection } from './topic-reader.js';

/** Value of a redrive log entry; the key is the outbox id. */
export interface RedriveLogEntry {
  deadLetter: string;
  topic: string;
  redriveId: string;
  redrivenAt: string;
}

/**
 * The compacted topic that records which outbox events `dlq redrive` has published, keyed by
 * outbox id. Each entry commits in the same Kafka transaction as the event it records, so a
 * read_committed reader sees both or neither: a rerun skips exactly the events already redriven.
 */
export class RedriveLog {
  constructor(
    private readonly connection: KafkaConnection,
    readonly topic: string,
    private readonly log: Logger,
  ) {}

  record(outboxId: string, entry: RedriveLogEntry): KafkaRecord {
    return { topic: this.topic, key: Buffer.from(outboxId, 'utf8'), value: Buffer.from(JSON.stringify(entry), 'utf8'), headers: {} };
  }

  /**
   * Reads the outbox ids redriven so far. Call it after the redrive producer has initialised
   * transactions, which aborts any transaction a fenced earlier redrive left open.
   */
  async readRedrivenIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    await readTopicToEnd(this.connection, this.topic, 'outbox-relay-redrive-log-reader', (message) => {
      if (message.key !== null && message.value !== null) ids.add(message.key.toString('utf8'));
    });
    return ids;
  }

  /** Creates the log topic, compacted with one partition, if it does not exist. */
  async ensureTopic(): Promise<void> {
    const kafka = new Kafka.KafkaJS.Kafka({ kafkaJS: { logger: kafkaLogger(this.log) } } as Kafka.KafkaJS.CommonConstructorConfig);
    const admin = kafka.admin({ ...commonKafkaProperties(this.connection.brokers, this.connection.security, 'outbox-relay-admin') } as Kafka.KafkaJS.AdminConstructorConfig);
    try {
      await admin.connect();
      if ((await admin.listTopics()).includes(this.topic)) return;
      await admin.createTopics({
        topics: [{ topic: this.topic, numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      });
      this.log.info({ topic: this.topic }, 'created redrive log topic');
    } catch (error) {
      if (/already exists/i.test(errorText(error))) return;
      throw new RelayError('kafka_error', `could not create the redrive log topic "${this.topic}": ${errorText(error)}; create it with cleanup.policy=compact and one partition`, true, { cause: error });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
