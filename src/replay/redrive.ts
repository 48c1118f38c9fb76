import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config/config.js';
import { parseLsn, LsnFormatError } from '../lsn.js';
import { toKafkaRecord, type HeaderField, type KafkaRecord } from '../outbox/record.js';
import { TopicRouter } from '../outbox/routing.js';
import { TopicSizeLimits } from '../outbox/size-limit.js';
import type { OutboxEvent } from '../outbox/event.js';
import { TransactionalProducer } from '../publisher/producer.js';
import { errorText } from '../publisher/errors.js';
import { TransactionBatcher } from './batcher.js';
import { deadLetterPosition, matchesFilter, toDeadLetterEntry, type DeadLetterEntry, type DeadLetterFilter } from './dead-letter-entry.js';
import { REDRIVE_HEADERS, withMarkers } from './markers.js';
import { prepareSession, readEventsById, rowToEvent } from './outbox-reader.js';
import { RedriveLog } from './redrive-log.js';
import { readTopicToEnd } from './topic-reader.js';

/** Destination of a redriven event: routing evaluated again with the current settings, the topic the relay chose, or one topic for all. */
export type RedriveDestination = { kind: 'route' } | { kind: 'original' } | { kind: 'topic'; topic: string };

export interface RedriveOptions {
  filter: DeadLetterFilter;
  destination: RedriveDestination;
  dryRun: boolean;
  transactionalId: string;
  logTopic: string;
}

export interface RedriveOutcome {
  entry: DeadLetterEntry;
  /** The topic it was (or in a dry run, would be) published to. */
  topic?: string;
  /** Reason it still cannot be published. The dead letter stays for a later redrive. */
  error?: string;
}

export interface RedriveResult {
  redriveId: string;
  redriven: RedriveOutcome[];
  failed: RedriveOutcome[];
  /** Matching dead letters whose outbox event an earlier redrive already published. */
  alreadyRedriven: number;
  /** Further dead letters of an outbox event that an earlier letter in this run already stands for. */
  duplicates: number;
  /** Dead letters in the topic that the filters left out. */
  notSelected: number;
}

/** Outbox ids looked up per query. */
const LOOKUP_CHUNK = 500;

/**
 * Moves dead letters back to their topics: each event is read again from the outbox table by
 * id, because a too_large dead letter carries no payload, and published in a Kafka transaction
 * together with its redrive log entry.
 */
export async function runRedrive(config: RelayConfig, options: RedriveOptions, log: Logger): Promise<RedriveResult> {
  const connection = { brokers: config.kafkaBrokers, security: config.kafkaSecurity };
  const redriveLog = new RedriveLog(connection, options.logTopic, log);
  const result: RedriveResult = { redriveId: randomUUID(), redriven: [], failed: [], alreadyRedriven: 0, duplicates: 0, notSelected: 0 };

  let producer: TransactionalProducer | null = null;
  const sql = new pg.Client({ connectionString: config.databaseUrl, application_name: 'outbox-relay dlq redrive' });
  // A connection the server ends is reported here; without a listener, node-postgres crashes the process.
  sql.on('error', (error) => log.warn({ err: errorText(error) }, 'PostgreSQL connection failed'));
  await sql.connect();
  try {
    await prepareSession(sql);
    if (!options.dryRun) {
      // Connecting first fences an older redrive with the same transactional id, so the log read
      // next includes everything that redrive committed.
      producer = new TransactionalProducer({ brokers: config.kafkaBrokers, security: config.kafkaSecurity, transactionalId: options.transactionalId, transactionTimeoutMs: config.kafkaTransactionTimeoutMs }, log);
      await producer.connect();
      await redriveLog.ensureTopic();
    }
    const candidates = await selectCandidates(config, options, redriveLog, result);

    const batcher = producer === null ? null : new TransactionBatcher(producer, config.batch.maxEvents, config.batch.maxBytes);
    const prepare = new RedrivePreparation(config, options, result.redriveId);
    for (let start = 0; start < candidates.length; start += LOOKUP_CHUNK) {
      const chunk = candidates.slice(start, start + LOOKUP_CHUNK);
      const events = new Map((await readEventsById(sql, config.table, chunk.map((entry) => entry.outboxId))).map((row) => [row.id, rowToEvent(row)]));
      for (const entry of chunk) {
        const prepared = prepare.record(entry, events.get(entry.outboxId));
        if ('error' in prepared) {
          result.failed.push({ entry, error: prepared.error });
          log.warn({ outboxId: entry.outboxId, deadLetter: deadLetterPosition(entry), err: prepared.error }, 'dead letter left in place');
          continue;
        }
        await batcher?.add([prepared.record, redriveLog.record(entry.outboxId, { deadLetter: deadLetterPosition(entry), topic: prepared.record.topic, redriveId: result.redriveId, redrivenAt: prepare.redrivenAt })]);
        result.redriven.push({ entry, topic: prepared.record.topic });
      }
    }
    await batcher?.flush();
    return result;
  } finally {
    await producer?.disconnect();
    await sql.end().catch(() => undefined);
  }
}

/** Reads the dead-letter topic and keeps the letters that match the filters and were not redriven yet, in topic order. */
async function selectCandidates(config: RelayConfig, options: RedriveOptions, redriveLog: RedriveLog, result: RedriveResult): Promise<DeadLetterEntry[]> {
  const redriven = await redriveLog.readRedrivenIds();
  const seen = new Set<string>();
  const candidates: DeadLetterEntry[] = [];
  const connection = { brokers: config.kafkaBrokers, security: config.kafkaSecurity };
  await readTopicToEnd(connection, config.deadLetterTopic, 'outbox-relay-dlq-reader', (message) => {
    const entry = toDeadLetterEntry(message);
    if (!matchesFilter(entry, options.filter)) {
      result.notSelected++;
      return;
    }
    if (entry.outboxId !== '' && redriven.has(entry.outboxId)) {
      result.alreadyRedriven++;
      return;
    }
    // The same event can be dead-lettered twice; it is published once.
    if (entry.outboxId !== '' && seen.has(entry.outboxId)) {
      result.duplicates++;
      return;
    }
    seen.add(entry.outboxId);
    candidates.push(entry);
  });
  candidates.sort((a, b) => a.partition - b.partition || a.offset - b.offset);

  for (const entry of candidates.filter((candidate) => candidate.outboxId === '')) {
    result.failed.push({ entry, error: 'the dead letter carries no outbox id because the relay could not read the row; fix the row and publish it with "outbox-relay replay --id"' });
  }
  return candidates.filter((candidate) => candidate.outboxId !== '');
}

/** Builds the record that replaces one dead letter, or returns why it still cannot be published. */
class RedrivePreparation {
  readonly redrivenAt = new Date().toISOString();
  private readonly router: TopicRouter;
  private readonly limits: TopicSizeLimits;
  private readonly headerFields: ReadonlySet<HeaderField>;

  constructor(
    config: RelayConfig,
    private readonly options: RedriveOptions,
    private readonly redriveId: string,
  ) {
    this.router = new TopicRouter(config.topicTemplate, config.topicMap);
    this.limits = new TopicSizeLimits(config.maxEventBytes, config.topicMaxBytes);
    this.headerFields = config.headers;
  }

  record(entry: DeadLetterEntry, event: OutboxEvent | undefined): { record: KafkaRecord } | { error: string } {
    if (event === undefined) return { error: `outbox event ${entry.outboxId} is not in the outbox table any more (its partition may have been dropped); it cannot be redriven` };

    const topic = this.topicOf(entry, event);
    if (typeof topic !== 'string') return topic;

    const record = withMarkers(toKafkaRecord(event, topic, 0n, this.headerFields), {
      [REDRIVE_HEADERS.redriven]: 'true',
      [REDRIVE_HEADERS.id]: this.redriveId,
      [REDRIVE_HEADERS.at]: this.redrivenAt,
      [REDRIVE_HEADERS.deadLetter]: deadLetterPosition(entry),
    });
    setCommitLsn(record, entry.commitLsn);

    const tooLarge = this.limits.check(record);
    if (tooLarge !== undefined) return { error: tooLarge };
    return { record };
  }

  private topicOf(entry: DeadLetterEntry, event: OutboxEvent): string | { error: string } {
    const destination = this.options.destination;
    if (destination.kind === 'topic') return destination.topic;
    if (destination.kind === 'original') {
      return entry.originalTopic ?? { error: `the dead letter has no dlq.original_topic header (the relay could not route it, reason ${entry.reason}); redrive it with --topic or without --original-topic` };
    }
    const route = this.router.route(event.aggregateType, event.eventType);
    return 'error' in route ? { error: route.error + ', or redrive it with --topic' } : route.topic;
  }
}

/** Sets commit_lsn from the dead letter's dlq.commit_lsn, so a redriven event carries the header the relay would have set. */
function setCommitLsn(record: KafkaRecord, commitLsn: string | null): void {
  delete record.headers.commit_lsn;
  if (commitLsn === null) return;
  try {
    parseLsn(commitLsn);
    record.headers.commit_lsn = commitLsn;
  } catch (error) {
    if (!(error instanceof LsnFormatError)) throw error;
  }
}
