import type { Logger } from 'pino';
import type { RelayConfig } from '../config/config.js';
import { formatLsn, maxLsn } from '../lsn.js';
import { decodePgOutput } from '../decoder/pgoutput.js';
import { TopicRouter } from '../outbox/routing.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { TransactionalProducer } from '../publisher/producer.js';
import type { ReplicationSession } from '../wal/replication-session.js';
import type { RelayMetrics } from '../observability/metrics.js';
import { PendingBatch } from './batch.js';
import { HaltError, OutboxStream } from './outbox-stream.js';
import type { PgOutputMessage } from '../decoder/messages.js';
import { TopicSizeLimits } from '../outbox/size-limit.js';
import { DEAD_LETTER_HEADERS } from '../outbox/dead-letter.js';
import { SchemaNotRegisteredError, type ValueEncoder } from '../avro/value-encoder.js';

/** Test-only: exit right after this many Kafka commits, before acknowledging the last one. */
const EXIT_AFTER_COMMITS = Number(process.env.OUTBOX_RELAY_TEST_EXIT_AFTER_KAFKA_COMMITS ?? 0);
let commitsSoFar = 0;

/**
 * Moves decoded WAL into Kafka transactions for one replication session. The order of one flush:
 * produce the batch and its checkpoint in one Kafka transaction, commit, and only then report the
 * checkpoint's LSN to the slot. A crash between the two leaves the slot behind Kafka, which the
 * next start repairs from the checkpoint; the reverse order would lose events.
 */
export class StreamLoop {
  private batch = new PendingBatch();
  private lastCommitAt = Date.now();
  private commitStartedAt: number | null = null;
  private readonly outbox: OutboxStream;

  constructor(
    private readonly config: RelayConfig,
    private readonly session: ReplicationSession,
    private readonly producer: TransactionalProducer,
    private readonly store: CheckpointStore,
    checkpoint: Checkpoint | null,
    private readonly metrics: RelayMetrics,
    private readonly log: Logger,
    private readonly encoder: ValueEncoder | null = null,
  ) {
    const router = new TopicRouter(config.topicTemplate, config.topicMap);
    const badEvents = {
      policy: config.badEventPolicy,
      deadLetterTopic: config.deadLetterTopic,
      sizeLimits: new TopicSizeLimits(config.maxEventBytes, config.topicMaxBytes),
    };
    this.outbox = new OutboxStream(config.table, router, checkpoint, badEvents, log.child({ component: 'outbox' }), encoder);
  }

  /** Seconds the current Kafka commit has been running, or 0 when none runs. */
  get kafkaCommitPendingSeconds(): number {
    return this.commitStartedAt === null ? 0 : (Date.now() - this.commitStartedAt) / 1000;
  }

  /** Commit time (Unix microseconds) of the oldest PostgreSQL transaction received but not yet in Kafka. */
  get oldestPendingCommitTime(): bigint | null {
    return this.batch.commitTimes[0] ?? this.outbox.openCommitTime;
  }

  /** Streams until `stop` is aborted, then commits what the batch holds. */
  async run(stop: AbortSignal): Promise<void> {
    const limits = this.config.batch;

    while (!stop.aborted) {
      const message = await this.session.next(limits.lingerMs);
      if (message === 'timeout') {
        await this.flushIfDue();
        continue;
      }

      if (message.tag === 'XLogData') {
        await this.handleOrHalt(decodePgOutput(message.data));
        if (this.batch.isFull(limits) || this.caughtUp()) await this.flush();
      } else if (this.isIdle() && message.walEnd >= maxLsn(this.session.acknowledged, this.batch.ackLsn ?? 0n) + BigInt(this.config.idleAckMinBytes)) {
        // Nothing is in flight, so the server's position is safe to acknowledge: this keeps an
        // idle outbox from holding WAL in a busy database. Small gaps are left alone, so a drained
        // slot rests on the end LSN of the last relayed transaction.
        this.batch.completeTransaction(message.walEnd, Date.now());
      }
      this.metrics.serverWalEnd.set(Number(message.walEnd));
      await this.flushIfDue();
    }

    if (!this.batch.isEmpty) await this.flush();
    this.log.info({ slot: this.config.slot, lsn: formatLsn(this.session.acknowledged) }, 'stream drained');
  }

  private async handleOrHalt(message: PgOutputMessage): Promise<void> {
    try {
      this.outbox.handle(message, this.batch, Date.now());
    } catch (error) {
      if (error instanceof SchemaNotRegisteredError && this.encoder !== null) {
        // A subject first seen mid-stream: wait for its schema id, then handle the same row again.
        // An unreachable registry throws a retriable error, so nothing past this row is acknowledged.
        await this.encoder.register(error.request);
        return this.handleOrHalt(message);
      }
      // Under the halt policy, what came before the bad event still goes to Kafka, so that the
      // stop point is exactly that event.
      if (error instanceof HaltError && !this.batch.isEmpty) await this.flush();
      throw error;
    }
  }

  /**
   * Nothing more has arrived and the last transaction is whole: waiting out the linger time would
   * only add latency. Under load, messages queue while a commit runs, so batches still grow.
   */
  private caughtUp(): boolean {
    return this.session.queued === 0 && !this.outbox.inTransaction && this.batch.records.length > 0;
  }

  private isIdle(): boolean {
    return !this.outbox.inTransaction && this.batch.records.length === 0;
  }

  private async flushIfDue(): Promise<void> {
    const now = Date.now();
    const due =
      this.batch.records.length > 0
        ? this.batch.isDue(this.config.batch.lingerMs, now) || this.batch.isFull(this.config.batch)
        : this.batch.ackLsn !== null && now - this.lastCommitAt >= this.config.idleAckIntervalMs;
    if (due) await this.flush();
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    const checkpoint: Checkpoint = { slot: this.config.slot, lsn: batch.ackLsn ?? this.session.acknowledged, partial: this.outbox.partial };

    this.commitStartedAt = Date.now();
    const started = performance.now();
    try {
      await this.producer.commitTransaction([...batch.records, this.store.record(checkpoint)]);
    } finally {
      this.commitStartedAt = null;
    }
    const commitSeconds = (performance.now() - started) / 1000;
    this.metrics.recordCommit(batch.records, commitSeconds, batch.commitTimes);
    // Counted once committed, so a batch retried after a failed commit is not counted twice.
    for (const record of batch.records) {
      if (record.topic === this.config.deadLetterTopic) this.metrics.recordDeadLetter(record.headers[DEAD_LETTER_HEADERS.reason] ?? 'unknown');
    }
    exitIfTestHookSaysSo(this.log);

    this.session.acknowledge(checkpoint.lsn);
    this.metrics.recordAcknowledged(checkpoint.lsn, batch.commitTimes);
    if (checkpoint.partial !== null) {
      // Operators watching a huge transaction see its progress; its commit is still unacknowledged.
      this.log.info({ finalLsn: formatLsn(checkpoint.partial.finalLsn), rowsDone: checkpoint.partial.rowsDone, acknowledged: formatLsn(checkpoint.lsn) }, 'chunk of a large transaction committed');
    }
    this.log.debug({ lsn: formatLsn(checkpoint.lsn), events: batch.records.length, partial: checkpoint.partial !== null, commitMs: Math.round(commitSeconds * 1000) }, 'Kafka transaction committed');
    this.batch = new PendingBatch();
    this.lastCommitAt = Date.now();
  }
}

function exitIfTestHookSaysSo(log: Logger): void {
  commitsSoFar++;
  if (EXIT_AFTER_COMMITS > 0 && commitsSoFar >= EXIT_AFTER_COMMITS) {
    log.warn({ commits: commitsSoFar }, 'test hook: exiting after a Kafka commit, before its acknowledgement');
    process.exit(86);
  }
}
