import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config/config.js';
import { toKafkaRecord, type HeaderField, type KafkaRecord } from '../outbox/record.js';
import { TopicRouter } from '../outbox/routing.js';
import { TopicSizeLimits } from '../outbox/size-limit.js';
import type { OutboxEvent } from '../outbox/event.js';
import { TransactionalProducer } from '../publisher/producer.js';
import { errorText } from '../publisher/errors.js';
import { TransactionBatcher } from './batcher.js';
import { REPLAY_HEADERS, withMarkers } from './markers.js';
import { countByType, declareReplayCursor, fetchReplayRows, prepareSession, rowToEvent } from './outbox-reader.js';
import { ProgressReporter } from './progress.js';
import type { ReplaySelection } from './selection.js';

export interface ReplayOptions {
  selection: ReplaySelection;
  /** Publish every event to this topic instead of routing it. */
  topic?: string;
  dryRun: boolean;
  transactionalId: string;
  progressIntervalMs: number;
}

export interface ReplayPlan {
  total: number;
  /** Events per destination topic. */
  topics: Map<string, number>;
  unroutable: { aggregateType: string; eventType: string; count: number; error: string }[];
}

export interface ReplayResult {
  plan: ReplayPlan;
  replayId: string;
  published: number;
  transactions: number;
  /** True when a stop signal ended the replay before the last selected event. */
  stopped: boolean;
}

/** Error that stops a replay. Events committed before it stay published. */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

/** Rows per FETCH from the server-side cursor. */
const FETCH_ROWS = 500;

/**
 * Re-publishes the selected outbox events. The count, the routing plan and the cursor read one
 * snapshot (REPEATABLE READ), so the total used for progress matches what is published.
 */
export async function runReplay(config: RelayConfig, options: ReplayOptions, log: Logger, stop: AbortSignal): Promise<ReplayResult> {
  const replayId = randomUUID();
  const sql = new pg.Client({ connectionString: config.databaseUrl, application_name: 'outbox-relay replay' });
  // A connection the server ends is reported here; without a listener, node-postgres crashes the process.
  sql.on('error', (error) => log.warn({ err: errorText(error) }, 'PostgreSQL connection failed'));
  await sql.connect();
  let producer: TransactionalProducer | null = null;
  try {
    await prepareSession(sql);
    await sql.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const plan = await planReplay(sql, config, options);
    const result: ReplayResult = { plan, replayId, published: 0, transactions: 0, stopped: false };
    if (options.dryRun || plan.total === 0) return result;
    if (plan.unroutable.length > 0) throw new ReplayError(unroutableMessage(plan));

    producer = new TransactionalProducer({ brokers: config.kafkaBrokers, security: config.kafkaSecurity, transactionalId: options.transactionalId, transactionTimeoutMs: config.kafkaTransactionTimeoutMs }, log);
    await producer.connect();
    log.info({ replayId, total: plan.total, transactionalId: options.transactionalId }, 'replay starting');

    await declareReplayCursor(sql, config.table, options.selection);
    await publishFromCursor(sql, config, options, producer, result, stop);
    log.info({ replayId, published: result.published, transactions: result.transactions, stopped: result.stopped }, 'replay finished');
    return result;
  } finally {
    await sql.query('ROLLBACK').catch(() => undefined);
    await producer?.disconnect();
    await sql.end().catch(() => undefined);
  }
}

/** Counts the selected events per destination topic, and finds the (aggregate_type, event_type) pairs that route to no legal topic. */
async function planReplay(sql: pg.Client, config: RelayConfig, options: ReplayOptions): Promise<ReplayPlan> {
  const router = new TopicRouter(config.topicTemplate, config.topicMap);
  const plan: ReplayPlan = { total: 0, topics: new Map(), unroutable: [] };
  for (const group of await countByType(sql, config.table, options.selection)) {
    plan.total += group.count;
    const route = options.topic !== undefined ? { topic: options.topic } : router.route(group.aggregateType, group.eventType);
    if ('error' in route) plan.unroutable.push({ ...group, error: route.error });
    else plan.topics.set(route.topic, (plan.topics.get(route.topic) ?? 0) + group.count);
  }
  return plan;
}

async function publishFromCursor(sql: pg.Client, config: RelayConfig, options: ReplayOptions, producer: TransactionalProducer, result: ReplayResult, stop: AbortSignal): Promise<void> {
  const router = new TopicRouter(config.topicTemplate, config.topicMap);
  const limits = new TopicSizeLimits(config.maxEventBytes, config.topicMaxBytes);
  const markers = { [REPLAY_HEADERS.replay]: 'true', [REPLAY_HEADERS.id]: result.replayId, [REPLAY_HEADERS.at]: new Date().toISOString() };
  const progress = new ProgressReporter('replay', result.plan.total, options.progressIntervalMs);
  const batcher = new TransactionBatcher(producer, config.batch.maxEvents, config.batch.maxBytes, (events) => {
    result.published += events;
    result.transactions++;
    progress.update(result.published);
  });

  for (;;) {
    if (stop.aborted) {
      result.stopped = true;
      break;
    }
    const rows = await fetchReplayRows(sql, Math.min(FETCH_ROWS, config.batch.maxEvents));
    if (rows.length === 0) break;

    for (const row of rows) {
      const event = rowToEvent(row);
      const record = replayRecord(event, topicOf(event, router, options.topic), markers, config.headers);
      const tooLarge = limits.check(record);
      if (tooLarge !== undefined) {
        await batcher.flush();
        throw new ReplayError(`event ${event.id} (aggregate ${event.aggregateId} version ${event.aggregateVersion}) cannot be replayed: ${tooLarge}. ${result.published} events were published before it; select fewer events or raise the limit`);
      }
      await batcher.add([record]);
    }
  }
  await batcher.flush();
}

function topicOf(event: OutboxEvent, router: TopicRouter, override: string | undefined): string {
  if (override !== undefined) return override;
  const route = router.route(event.aggregateType, event.eventType);
  // planReplay rejected unroutable pairs in the same snapshot, so this only fires on a bug.
  if ('error' in route) throw new ReplayError(`event ${event.id}: ${route.error}`);
  return route.topic;
}

/**
 * Builds the record the relay would publish for the event, plus the replay headers. The table does not store the
 * commit LSN, so the commit_lsn header is left out rather than filled with a made-up value.
 * NOTE: the value is the jsonb text; if the relay encodes values another way (Avro), replay does not follow it yet.
 */
export function replayRecord(event: OutboxEvent, topic: string, markers: Record<string, string>, fields: ReadonlySet<HeaderField>): KafkaRecord {
  const record = toKafkaRecord(event, topic, 0n, fields);
  delete record.headers.commit_lsn;
  return withMarkers(record, markers);
}

function unroutableMessage(plan: ReplayPlan): string {
  const pairs = plan.unroutable.map((group) => `  - ${group.count} event(s) of aggregate_type "${group.aggregateType}", event_type "${group.eventType}": ${group.error}`);
  return `nothing replayed: some selected events route to no legal topic:\n${pairs.join('\n')}\nchoose a topic with --topic, or fix OUTBOX_TOPIC_TEMPLATE or OUTBOX_TOPIC_MAP`;
}
