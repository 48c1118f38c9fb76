import { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { KafkaRecord } from '../outbox/record.js';
import { commonKafkaProperties } from './kafka-config.js';
import { FencedError, RelayError, errorText } from './errors.js';
import { kafkaLogger } from './kafka-logger.js';
import type { KafkaSecurity } from '../config/config.js';

export interface ProducerOptions {
  brokers: string[];
  security: KafkaSecurity;
  transactionalId: string;
  transactionTimeoutMs: number;
}

const DISCONNECT_TIMEOUT_MS = 5000;
const FENCED_CODES = new Set(['ERR__FENCED', 'ERR_PRODUCER_FENCED', 'ERR_INVALID_PRODUCER_EPOCH']);

/**
 * A transactional, idempotent producer. Each call to `commitTransaction` is one Kafka transaction:
 * begin, produce the records in order, commit. On any failure the transaction is aborted and the
 * error rethrown, so nothing of it becomes visible to read_committed consumers.
 */
export class TransactionalProducer {
  private readonly producer: KafkaJS.Producer;
  private connected = false;

  constructor(
    private readonly options: ProducerOptions,
    private readonly log: Logger,
  ) {
    const kafka = new KafkaJS.Kafka({ kafkaJS: { logger: kafkaLogger(log) } } as KafkaJS.CommonConstructorConfig);
    this.producer = kafka.producer({
      ...commonKafkaProperties(options.brokers, options.security, 'outbox-relay'),
      'transactional.id': options.transactionalId,
      'enable.idempotence': true,
      acks: -1,
      'max.in.flight.requests.per.connection': 5,
      'transaction.timeout.ms': options.transactionTimeoutMs,
      // librdkafka rejects a socket timeout longer than the transaction timeout.
      'socket.timeout.ms': Math.min(60_000, options.transactionTimeoutMs + 100),
      'linger.ms': 5,
      'compression.type': 'lz4',
      'message.max.bytes': 16 * 1024 * 1024,
      'queue.buffering.max.messages': 200_000,
    } as KafkaJS.ProducerConfig);
  }

  /** Connects and initialises transactions, which fences any older producer with the same transactional id. */
  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (error) {
      throw this.classify(error, `could not connect the transactional producer to Kafka at ${this.options.brokers.join(',')}; check KAFKA_BROKERS and that the brokers are up`);
    }
    this.connected = true;
    this.log.info({ transactionalId: this.options.transactionalId }, 'transactional producer ready');
  }

  async commitTransaction(records: KafkaRecord[]): Promise<void> {
    let begun = false;
    try {
      await this.producer.transaction();
      begun = true;
      await this.producer.sendBatch({ topicMessages: groupByTopic(records) });
      await this.producer.commit();
    } catch (error) {
      const abortError = begun ? await this.abortQuietly(error) : null;
      // A fenced producer often fails the commit with a purge error; only the abort reports "fenced".
      if (abortError !== null && this.classify(abortError, '') instanceof FencedError) throw new FencedError(this.options.transactionalId, abortError);
      throw this.classify(error, `Kafka transaction of ${records.length} records failed`);
    }
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    // librdkafka waits for in-flight requests on disconnect, which never ends while Kafka is down.
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, DISCONNECT_TIMEOUT_MS).unref());
    const disconnect = this.producer.disconnect().catch((error: unknown) => this.log.warn({ err: errorText(error) }, 'producer disconnect failed'));
    await Promise.race([disconnect, timeout]);
  }

  /** Aborts the open transaction; returns the abort's own error, or null when it succeeded. */
  private async abortQuietly(cause: unknown): Promise<unknown> {
    try {
      await this.producer.abort();
      this.log.warn({ err: errorText(cause) }, 'Kafka transaction aborted');
      return null;
    } catch (error) {
      this.log.warn({ err: errorText(error), cause: errorText(cause) }, 'Kafka transaction abort failed');
      return error;
    }
  }

  private classify(error: unknown, context: string): RelayError {
    const code = (error as { code?: unknown }).code;
    const name = typeof code === 'number' ? codeName(code) : String(code);
    if (FENCED_CODES.has(name) || /fenced/i.test(errorText(error))) return new FencedError(this.options.transactionalId, error);
    if (/MSG_SIZE_TOO_LARGE|RECORD_LIST_TOO_LARGE/.test(name) || /too large/i.test(errorText(error))) {
      // Retrying would fail the same way forever: the limits the relay checks against are wrong.
      return new RelayError('record_too_large', `${context}: Kafka rejected a record as too large (${errorText(error)}); set OUTBOX_MAX_EVENT_BYTES or OUTBOX_TOPIC_MAX_BYTES to the topics' max.message.bytes`, false, { cause: error });
    }
    return new RelayError('kafka_error', `${context}: ${errorText(error)}`, true, { cause: error });
  }
}

function codeName(code: number): string {
  const codes = KafkaJS.ErrorCodes as unknown as Record<string, number>;
  return Object.entries(codes).find(([, value]) => value === code)?.[0] ?? String(code);
}

/** Keeps the records' relative order within each topic, which is what per-aggregate order needs. */
function groupByTopic(records: KafkaRecord[]): { topic: string; messages: { key: Buffer; value: Buffer; headers: Record<string, string> }[] }[] {
  const byTopic = new Map<string, { key: Buffer; value: Buffer; headers: Record<string, string> }[]>();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(record.topic, messages);
    }
    messages.push({ key: record.key, value: record.value, headers: record.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
