import Kafka from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import type { KafkaRecord } from '../outbox/record.js';
import { DEFAULT_LINGER_MS, commonKafkaProperties } from './kafka-config.js';
import { FencedError, RelayError, errorText } from './errors.js';
import { librdkafkaLogListener } from './kafka-logger.js';
import type { KafkaSecurity } from '../config/config.js';
import { Deliveries } from './deliveries.js';

export interface ProducerOptions {
  brokers: string[];
  security: KafkaSecurity;
  transactionalId: string;
  transactionTimeoutMs: number;
  /** librdkafka's linger.ms: how long a partition's records wait to fill a produce request. */
  lingerMs?: number;
}


const CONNECT_TIMEOUT_MS = 30_000;
const DISCONNECT_TIMEOUT_MS = 5000;
const FENCED_CODES = new Set(['ERR__FENCED', 'ERR_PRODUCER_FENCED', 'ERR_INVALID_PRODUCER_EPOCH']);
const CODE_NAMES = new Map(Object.entries(Kafka.CODES.ERRORS as Record<string, number>).map(([name, code]) => [code, name]));

/**
 * A transactional, idempotent producer. A transaction is `begin`, any number of `send`s, and
 * `commit`. Records go to librdkafka as they are sent, so they travel to the broker while the
 * caller prepares the next ones. On any failure the transaction is aborted and the error
 * rethrown, so nothing of it becomes visible to read_committed consumers.
 */
export class TransactionalProducer {
  private readonly producer: Kafka.Producer;
  private readonly deliveries = new Deliveries();
  private connected = false;

  constructor(
    private readonly options: ProducerOptions,
    private readonly log: Logger,
  ) {
    this.producer = new Kafka.Producer(
      {
        ...commonKafkaProperties(options.brokers, options.security, 'outbox-relay'),
        'transactional.id': options.transactionalId,
        'enable.idempotence': true,
        'max.in.flight.requests.per.connection': 5,
        'transaction.timeout.ms': options.transactionTimeoutMs,
        // librdkafka rejects a socket timeout longer than the transaction timeout.
        'socket.timeout.ms': Math.min(60_000, options.transactionTimeoutMs + 100),
        'linger.ms': options.lingerMs ?? DEFAULT_LINGER_MS,
        'compression.type': 'lz4',
        'message.max.bytes': 16 * 1024 * 1024,
        'queue.buffering.max.messages': 200_000,
        dr_cb: true,
      },
      // Topic settings go here: an empty topic configuration would override them in the global one.
      // The Java client's partitioner, so that a key lands where Kafka Streams and other Java
      // producers put it; librdkafka's default hashes keys differently.
      { partitioner: 'murmur2_random', acks: -1 },
    );
    this.producer.on('delivery-report', (error) => this.deliveries.settle(error));
    this.producer.on('event.log', librdkafkaLogListener(log));
  }

  /** Connects and initialises transactions, which fences any older producer with the same transactional id. */
  async connect(): Promise<void> {
    try {
      await callback<unknown>((done) => this.producer.connect({ timeout: CONNECT_TIMEOUT_MS }, done));
      this.producer.setPollInBackground(true);
      await callback<void>((done) => this.producer.initTransactions(CONNECT_TIMEOUT_MS, done));
    } catch (error) {
      await this.disconnect();
      throw this.classify(error, `could not connect the transactional producer to Kafka at ${this.options.brokers.join(',')}; check KAFKA_BROKERS and that the brokers are up`);
    }
    this.connected = true;
    this.log.info({ transactionalId: this.options.transactionalId }, 'transactional producer ready');
  }

  async begin(): Promise<void> {
    try {
      await callback<void>((done) => this.producer.beginTransaction(done));
    } catch (error) {
      throw this.classify(error, 'could not begin a Kafka transaction');
    }
  }

  /** Hands one record to the open transaction. Its delivery is checked by `commit`. */
  send(record: KafkaRecord): void {
    const headers = Object.entries(record.headers).map(([name, value]) => ({ [name]: value }));
    try {
      this.producer.produce(record.topic, null, record.value, record.key, null, undefined, headers);
    } catch (error) {
      throw this.classify(error, `producing to topic "${record.topic}" failed`);
    }
    this.deliveries.expect();
  }

  /**
   * Commits the open transaction once every record sent in it is acknowledged by its partition
   * leader. Waiting here rather than inside librdkafka's commit matters for latency, because its
   * own flush polls for the reports in steps when the application takes them.
   */
  async commit(records: number): Promise<void> {
    try {
      await this.deliveries.allSettled();
      await callback<void>((done) => this.producer.commitTransaction(this.options.transactionTimeoutMs, done));
    } catch (error) {
      const abortError = await this.abortQuietly(error);
      // A fenced producer often fails the commit with a purge error; only the abort reports "fenced".
      if (abortError !== null && this.classify(abortError, '') instanceof FencedError) throw new FencedError(this.options.transactionalId, abortError);
      throw this.classify(error, `Kafka transaction of ${records} records failed`);
    }
  }

  /** Publishes `records` in order as one whole transaction. */
  async commitTransaction(records: KafkaRecord[]): Promise<void> {
    await this.begin();
    try {
      for (const record of records) this.send(record);
    } catch (error) {
      await this.abortQuietly(error);
      throw error;
    }
    await this.commit(records.length);
  }

  async disconnect(): Promise<void> {
    if (!this.producer.isConnected()) return;
    this.connected = false;
    // librdkafka waits for in-flight requests on disconnect, which never ends while Kafka is down.
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, DISCONNECT_TIMEOUT_MS).unref());
    const disconnect = callback<unknown>((done) => this.producer.disconnect(DISCONNECT_TIMEOUT_MS, done)).catch((error: unknown) =>
      this.log.warn({ err: errorText(error) }, 'producer disconnect failed'),
    );
    await Promise.race([disconnect, timeout]);
  }

  /** Aborts the open transaction; returns the abort's own error, or null when it succeeded. */
  private async abortQuietly(cause: unknown): Promise<unknown> {
    if (!this.connected) return null;
    try {
      await callback<void>((done) => this.producer.abortTransaction(this.options.transactionTimeoutMs, done));
      // The abort purged what was in flight; its failed reports must not count against the next transaction.
      await this.deliveries.allSettled().catch(() => undefined);
      this.log.warn({ err: errorText(cause) }, 'Kafka transaction aborted');
      return null;
    } catch (error) {
      this.log.warn({ err: errorText(error), cause: errorText(cause) }, 'Kafka transaction abort failed');
      return error;
    }
  }

  private classify(error: unknown, context: string): RelayError {
    if (error instanceof RelayError) return error;
    const code = (error as { code?: unknown }).code;
    const name = typeof code === 'number' ? (CODE_NAMES.get(code) ?? String(code)) : String(code);
    if (FENCED_CODES.has(name) || /fenced/i.test(errorText(error))) return new FencedError(this.options.transactionalId, error);
    if (/MSG_SIZE_TOO_LARGE|RECORD_LIST_TOO_LARGE/.test(name) || /too large/i.test(errorText(error))) {
      // Retrying would fail the same way forever: the limits the relay checks against are wrong.
      return new RelayError('record_too_large', `${context}: Kafka rejected a record as too large (${errorText(error)}); set OUTBOX_MAX_EVENT_BYTES or OUTBOX_TOPIC_MAX_BYTES to the topics' max.message.bytes`, false, { cause: error });
    }
    return new RelayError('kafka_error', `${context}: ${errorText(error)}`, true, { cause: error });
  }
}

function callback<T>(call: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value as T))));
}
