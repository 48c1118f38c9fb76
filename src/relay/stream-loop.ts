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

/** A Kafka transaction whose commit runs while the loop decodes what comes next. */
interface InFlightCommit {
  batch: PendingBatch;
  checkpoint: Checkpoint;
  startedAt: number;
  done: Promise<void>;
  settled: boolean;
  error?: unknown;
}

/**
 * Moves decoded WAL into Kafka transactions for one replication session. The order of one flush:
 * produce the batch and its checkpoint in one Kafka transaction, commit, and only then report the
 * checkpoint's LSN to the slot. A crash between the two leaves the slot behind Kafka, which the
 * next start repairs from the checkpoint; the reverse order would lose events.
 *
 * Records go to librdkafka as they are decoded, into the open Kafka transaction. While a commit
 * runs, the loop keeps decoding into the next batch, whose records wait until that commit ends,
 * because a producer has only one transaction at a time.
 */
export class StreamLoop {
  private batch = new PendingBatch();
  /** Records of `batch` already handed to the producer; zero while its transaction is not begun. */
  private sent = 0;
  private transactionOpen = false;
  private inFlight: InFlightCommit | null = null;
  private lastCommitAt = Date.now();
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
    this.outbox = new OutboxStream(config.table, router, checkpoint, badEvents, log.child({ component: 'outbox' }), encoder, config.headers);
  }

  /** Seconds the current Kafka commit has been running, or 0 when none runs. */
  get kafkaCommitPendingSeconds(): number {
    return this.inFlight === null ? 0 : (Date.now() - this.inFlight.startedAt) / 1000;
  }

  /** Commit time (Unix microseconds) of the oldest PostgreSQL transaction received but not yet in Kafka. */
  get oldestPendingCommitTime(): bigint | null {
    return this.inFlight?.batch.commitTimes[0] ?? this.batch.commitTimes[0] ?? this.outbox.openCommitTime;
  }

  /** Streams until `stop` is aborted, then commits what the batch holds. */
  async run(stop: AbortSignal): Promise<void> {
    try {
      await this.stream(stop);
      await this.commitEverything();
    } finally {
      // Never tear the producer down under a running commit; its outcome no longer matters here,
      // because the next attempt starts from Kafka's checkpoint.
      await this.inFlight?.done;
    }
    this.log.info({ slot: this.config.slot, lsn: formatLsn(this.session.acknowledged) }, 'stream drained');
  }

  private async stream(stop: AbortSignal): Promise<void> {
    const limits = this.config.batch;
    while (!stop.aborted) {
      if (this.inFlight?.settled) await this.commitIfDue();
      const message = await this.session.next(limits.lingerMs);
      if (message === 'timeout') {
        await this.commitIfDue();
        continue;
      }

      if (message.tag === 'XLogData') {
        await this.handleOrHalt(decodePgOutput(message.data));
        await this.sendPending();
      } else if (this.isIdle() && message.walEnd >= this.highestAckLsn() + BigInt(this.config.idleAckMinBytes)) {
        // Nothing is in flight, so the server's position is safe to acknowledge: this keeps an
        // idle outbox from holding WAL in a busy database. Small gaps are left alone, so a drained
        // slot rests on the end LSN of the last relayed transaction.
        this.batch.completeTransaction(message.walEnd, Date.now());
      }
      this.metrics.serverWalEnd.set(Number(message.walEnd));
      await this.commitIfDue();
    }
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
      if (error instanceof HaltError) await this.commitEverything();
      throw error;
    }
  }

  /** Hands the batch's new records to the open Kafka transaction, unless a commit still runs. */
  private async sendPending(): Promise<void> {
    if (this.inFlight !== null || this.sent === this.batch.records.length) return;
    await this.beginTransaction();
    const records = this.batch.records;
    for (let i = this.sent; i < records.length; i++) this.producer.send(records[i]!);
    this.sent = records.length;
  }

  /**
   * Starts a commit when the batch is full, its linger time is up, or nothing more has arrived and
   * the last transaction is whole: waiting then would only add latency. A full batch waits for the
   * commit before it, which bounds memory when Kafka is slower than the WAL.
   */
  private async commitIfDue(): Promise<void> {
    if (this.inFlight?.settled) await this.finishCommit();
    const batch = this.batch;
    const full = batch.isFull(this.config.batch);
    if (this.inFlight !== null) {
      if (!full) return;
      await this.finishCommit();
    }
    const now = Date.now();
    const due =
      batch.records.length > 0
        ? full || batch.isDue(this.config.batch.lingerMs, now) || this.caughtUp()
        : batch.ackLsn !== null && now - this.lastCommitAt >= this.config.idleAckIntervalMs;
    if (due) await this.startCommit();
  }

  private caughtUp(): boolean {
    return this.session.queued === 0 && !this.outbox.inTransaction;
  }

  private isIdle(): boolean {
    return !this.outbox.inTransaction && this.batch.records.length === 0;
  }

  private highestAckLsn(): bigint {
    return maxLsn(maxLsn(this.session.acknowledged, this.inFlight?.checkpoint.lsn ?? 0n), this.batch.ackLsn ?? 0n);
  }

  /** Begins the Kafka transaction of the current batch unless it is open already. */
  private async beginTransaction(): Promise<void> {
    if (this.transactionOpen) return;
    await this.producer.begin();
    this.transactionOpen = true;
  }

  /** Seals the batch with its checkpoint and starts the commit without waiting for it. */
  private async startCommit(): Promise<void> {
    await this.sendPending();
    // A batch with only an acknowledgement position has no records, so nothing began its transaction yet.
    await this.beginTransaction();
    const batch = this.batch;
    const checkpoint: Checkpoint = { slot: this.config.slot, lsn: batch.ackLsn ?? this.highestAckLsn(), partial: this.outbox.partial };
    this.producer.send(this.store.record(checkpoint));

    const inFlight: InFlightCommit = { batch, checkpoint, startedAt: Date.now(), settled: false, done: Promise.resolve() };
    inFlight.done = this.producer.commit(batch.records.length + 1).then(
      () => this.settle(inFlight),
      (error: unknown) => this.settle(inFlight, error),
    );
    this.inFlight = inFlight;
    this.batch = new PendingBatch();
    this.sent = 0;
    this.transactionOpen = false;
  }

  private settle(inFlight: InFlightCommit, error?: unknown): void {
    inFlight.settled = true;
    if (error !== undefined) inFlight.error = error;
    this.session.interrupt();
  }

  /** Waits for the running commit, then acknowledges its checkpoint; rethrows its failure. */
  private async finishCommit(): Promise<void> {
    const inFlight = this.inFlight;
    if (inFlight === null) return;
    await inFlight.done;
    this.inFlight = null;
    if (inFlight.error !== undefined) throw inFlight.error;

    const { batch, checkpoint } = inFlight;
    const commitSeconds = (Date.now() - inFlight.startedAt) / 1000;
    this.metrics.recordCommit(batch.records, batch.bytes, commitSeconds, batch.commitTimes);
    // Counted once committed, so a batch retried after a failed commit is not counted twice.
    for (const record of batch.deadLetters) this.metrics.recordDeadLetter(record.headers[DEAD_LETTER_HEADERS.reason] ?? 'unknown');
    exitIfTestHookSaysSo(this.log);

    this.session.acknowledge(checkpoint.lsn);
    this.metrics.recordAcknowledged(checkpoint.lsn, batch.commitTimes);
    if (checkpoint.partial !== null) {
      // Operators watching a huge transaction see its progress; its commit is still unacknowledged.
      this.log.info({ finalLsn: formatLsn(checkpoint.partial.finalLsn), rowsDone: checkpoint.partial.rowsDone, acknowledged: formatLsn(checkpoint.lsn) }, 'chunk of a large transaction committed');
    }
    this.log.debug({ lsn: formatLsn(checkpoint.lsn), events: batch.records.length, partial: checkpoint.partial !== null, commitMs: Math.round(commitSeconds * 1000) }, 'Kafka transaction committed');
    this.lastCommitAt = Date.now();
    await this.sendPending();
  }

  /** Commits the running transaction and then whatever the batch holds, and waits for both. */
  private async commitEverything(): Promise<void> {
    await this.finishCommit();
    if (this.batch.isEmpty) return;
    await this.startCommit();
    await this.finishCommit();
  }
}

function exitIfTestHookSaysSo(log: Logger): void {
  commitsSoFar++;
  if (EXIT_AFTER_COMMITS > 0 && commitsSoFar >= EXIT_AFTER_COMMITS) {
    log.warn({ commits: commitsSoFar }, 'test hook: exiting after a Kafka commit, before its acknowledgement');
    process.exit(86);
  }
}
