import pg from 'pg';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config/config.js';
import { formatLsn, maxLsn, type Lsn } from '../lsn.js';
import { decodePgOutput } from '../decoder/pgoutput.js';
import { TopicRouter } from '../outbox/routing.js';
import { CheckpointStore } from '../checkpoint/store.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import { TransactionalProducer } from '../publisher/producer.js';
import { FencedError, RelayError, errorText } from '../publisher/errors.js';
import { ReplicationSession } from '../wal/replication-session.js';
import { checkSlotUsable, createSlot, readSlot, type SlotState } from '../wal/slot.js';
import { checkPublication } from '../wal/preflight.js';
import { APPLICATION_NAME, SESSION_OPTIONS } from '../wal/session-options.js';
import { PendingBatch } from './batch.js';
import { OutboxStream } from './outbox-stream.js';
import { RelayStateMachine } from './states.js';
import { backoffDelayMs, sleep } from './backoff.js';
import type { RelayMetrics } from '../observability/metrics.js';

const STANDBY_POLL_CAP_MS = 5000;

/** Test-only: exit right after this many Kafka commits, before acknowledging the last one. */
const EXIT_AFTER_COMMITS = Number(process.env.OUTBOX_RELAY_TEST_EXIT_AFTER_KAFKA_COMMITS ?? 0);

/**
 * The relay's main loop. One attempt connects everything, reads the checkpoint, streams until an
 * error or a stop, and tears everything down; retriable errors start a new attempt after a backoff,
 * always from what Kafka holds, never from what was merely received.
 */
export class Relay {
  readonly states = new RelayStateMachine();
  private readonly stop = new AbortController();
  private lastError: string | null = null;
  private commits = 0;

  constructor(
    private readonly config: RelayConfig,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
  ) {
    this.states.onChange((state) => {
      metrics.setState(state);
      log.info({ state }, 'relay state changed');
    });
  }

  get error(): string | null {
    return this.lastError;
  }

  /** Asks the relay to finish the open Kafka transaction, acknowledge it and stop. */
  requestStop(): void {
    this.stop.abort();
  }

  /** Runs until stopped; rejects with the error that made the relay give up. */
  async run(): Promise<void> {
    let attempt = 0;
    let hasStreamed = false;

    while (!this.stop.signal.aborted) {
      try {
        await this.runAttempt(() => {
          hasStreamed = true;
          attempt = 0;
        });
      } catch (error) {
        this.lastError = errorText(error);
        const relayError = error instanceof RelayError ? error : new RelayError('unexpected', errorText(error), true, { cause: error });
        this.metrics.errors.inc({ code: relayError.code });

        if (relayError instanceof FencedError) {
          this.states.moveTo('fenced');
          throw relayError;
        }
        if (!relayError.retriable || (!hasStreamed && relayError.code !== 'slot_active')) {
          this.states.moveTo('refusing');
          throw relayError;
        }

        // A standby polls the slot often so that it takes over within seconds of the active relay's exit.
        const delay = relayError.code === 'slot_active' ? backoffDelayMs(attempt++, 250, STANDBY_POLL_CAP_MS) : backoffDelayMs(attempt++);
        this.metrics.retries.inc({ code: relayError.code });
        this.log.warn({ err: relayError.message, code: relayError.code, attempt, delayMs: delay }, 'relay attempt failed; retrying');
        this.states.moveTo('retrying');
        await sleep(delay, this.stop.signal);
        if (!this.stop.signal.aborted) this.states.moveTo('starting');
      }
    }
    this.states.moveTo('stopped');
  }

  private async runAttempt(onStreaming: () => void): Promise<void> {
    const sql = new pg.Client({ connectionString: this.config.databaseUrl, options: SESSION_OPTIONS, application_name: APPLICATION_NAME });
    const producer = new TransactionalProducer(
      { brokers: this.config.kafkaBrokers, security: this.config.kafkaSecurity, transactionalId: this.config.transactionalId, transactionTimeoutMs: this.config.kafkaTransactionTimeoutMs },
      this.log.child({ component: 'publisher' }),
    );
    const store = new CheckpointStore(
      { brokers: this.config.kafkaBrokers, security: this.config.kafkaSecurity, topic: this.config.checkpointTopic, slot: this.config.slot },
      this.log.child({ component: 'checkpoint' }),
    );
    let session: ReplicationSession | null = null;

    try {
      await connectSql(sql, this.config.databaseUrl);
      await checkPublication(sql, this.config.publication, this.config.table);
      // Check the slot before touching Kafka: a standby must not fence the active relay's producer.
      const existing = await this.readSlot(sql);
      await store.ensureTopic();
      // Create a missing slot only once Kafka answered: an unread slot holds WAL back.
      const slot = existing ?? (await this.createSlot(sql));
      await producer.connect();
      const checkpoint = await store.readLatest();
      this.log.info({ slot: this.config.slot, checkpoint: describeCheckpoint(checkpoint) }, 'checkpoint read');
      const startLsn = this.checkSlotAgainstCheckpoint(slot, checkpoint);

      session = await ReplicationSession.connect(this.config.databaseUrl, this.log.child({ component: 'wal' }));
      session.start({ slot: this.config.slot, publication: this.config.publication, startLsn, statusIntervalMs: this.config.statusIntervalMs });
      this.metrics.acknowledgedLsn.set(Number(startLsn));

      this.states.moveTo('streaming');
      onStreaming();
      await this.stream(session, producer, store, checkpoint);
    } finally {
      if (session) await session.close();
      await producer.disconnect();
      await sql.end().catch(() => undefined);
    }
  }

  /** Reads the slot and rejects one the relay cannot stream from; null when it does not exist. */
  private async readSlot(sql: pg.Client): Promise<SlotState | null> {
    const slot = await readSlot(sql, this.config.slot);
    if (slot === null) {
      if (this.config.createSlot) return null;
      throw new RelayError('slot_missing', `replication slot "${this.config.slot}" does not exist and OUTBOX_SLOT_CREATE=false; create it or allow the relay to`, false);
    }

    checkSlotUsable(slot, await currentDatabase(sql));
    if (slot.active) {
      throw new RelayError('slot_active', `replication slot "${this.config.slot}" is active for process ${slot.activePid}; another relay is streaming it, so this one waits as a standby`, true);
    }
    return slot;
  }

  private async createSlot(sql: pg.Client): Promise<SlotState> {
    await createSlot(sql, this.config.slot);
    this.log.info({ slot: this.config.slot }, 'replication slot created');

    const slot = await readSlot(sql, this.config.slot);
    if (slot === null) throw new RelayError('slot_missing', `replication slot "${this.config.slot}" vanished right after creation`, true);
    return slot;
  }

  /**
   * The slot may lag the checkpoint (a crash between the Kafka commit and the acknowledgement),
   * but it must never be ahead: then WAL that Kafka has not seen is gone from the slot, which
   * happens when a slot is dropped and created anew. Returns the position to start streaming at.
   */
  private checkSlotAgainstCheckpoint(slot: SlotState, checkpoint: Checkpoint | null): Lsn {
    const confirmed = slot.confirmedFlushLsn ?? 0n;
    if (checkpoint !== null && confirmed > checkpoint.lsn) {
      this.metrics.slotAheadOfCheckpoint.set(1);
      throw new RelayError(
        'slot_ahead_of_checkpoint',
        `replication slot "${this.config.slot}" starts at ${formatLsn(confirmed)} but Kafka's checkpoint ends at ${formatLsn(checkpoint.lsn)}: ` +
          `outbox rows committed in between were never relayed (was the slot dropped and recreated?). Backfill them with "outbox-relay replay" for that range, ` +
          `then delete the slot's record from topic ${this.config.checkpointTopic} or use a new OUTBOX_SLOT to accept the gap`,
        false,
      );
    }
    this.metrics.slotAheadOfCheckpoint.set(0);
    return checkpoint === null ? confirmed : maxLsn(confirmed, checkpoint.lsn);
  }

  private async stream(session: ReplicationSession, producer: TransactionalProducer, store: CheckpointStore, checkpoint: Checkpoint | null): Promise<void> {
    const router = new TopicRouter(this.config.topicTemplate, this.config.topicMap);
    const outbox = new OutboxStream(this.config.table, router, checkpoint, this.log.child({ component: 'outbox' }));
    const limits = this.config.batch;
    let batch = new PendingBatch();
    let lastCommitAt = Date.now();

    // A crash between a Kafka commit and its acknowledgement leaves the slot behind the checkpoint.
    if (checkpoint !== null) session.acknowledge(checkpoint.lsn);

    const flush = async (): Promise<void> => {
      const next: Checkpoint = { slot: this.config.slot, lsn: batch.ackLsn ?? session.acknowledged, partial: outbox.partial };
      const started = performance.now();
      await producer.commitTransaction([...batch.records, store.record(next)]);
      this.metrics.recordCommit(batch.records, (performance.now() - started) / 1000);
      this.afterKafkaCommit();

      session.acknowledge(next.lsn);
      this.metrics.acknowledgedLsn.set(Number(next.lsn));
      this.log.debug({ lsn: formatLsn(next.lsn), events: batch.records.length, partial: next.partial !== null }, 'Kafka transaction committed');
      batch = new PendingBatch();
      lastCommitAt = Date.now();
    };

    const flushIfDue = async (): Promise<void> => {
      const now = Date.now();
      if (batch.records.length > 0 ? batch.isDue(limits.lingerMs, now) || batch.isFull(limits) : batch.ackLsn !== null && now - lastCommitAt >= this.config.idleAckIntervalMs) {
        await flush();
      }
    };

    while (!this.stop.signal.aborted) {
      const message = await session.next(limits.lingerMs);
      if (message === 'timeout') {
        await flushIfDue();
        continue;
      }

      if (message.tag === 'XLogData') {
        outbox.handle(decodePgOutput(message.data), batch, Date.now());
        if (batch.isFull(limits)) await flush();
      } else if (!outbox.inTransaction && batch.records.length === 0 && message.walEnd > maxLsn(session.acknowledged, batch.ackLsn ?? 0n)) {
        // Nothing is in flight, so the server's position is safe to acknowledge: this keeps an
        // idle outbox from holding WAL in a busy database.
        batch.completeTransaction(message.walEnd, Date.now());
      }
      this.metrics.serverWalEnd.set(Number(message.walEnd));
      await flushIfDue();
    }

    this.states.moveTo('stopping');
    if (!batch.isEmpty) await flush();
    this.log.info({ slot: this.config.slot, lsn: formatLsn(session.acknowledged) }, 'relay stopped after draining');
  }

  private afterKafkaCommit(): void {
    this.commits++;
    if (EXIT_AFTER_COMMITS > 0 && this.commits >= EXIT_AFTER_COMMITS) {
      this.log.warn({ commits: this.commits }, 'test hook: exiting after Kafka commit, before acknowledgement');
      process.exit(86);
    }
  }
}

async function connectSql(sql: pg.Client, databaseUrl: string): Promise<void> {
  try {
    await sql.connect();
  } catch (error) {
    const url = new URL(databaseUrl);
    const where = `${url.hostname}:${url.port || 5432}/${url.pathname.slice(1)} as ${decodeURIComponent(url.username) || '(default user)'}`;
    throw new RelayError('postgres_connect_failed', `could not connect to PostgreSQL at ${where}: ${errorText(error)}; check DATABASE_URL`, true, { cause: error });
  }
}

async function currentDatabase(sql: pg.Client): Promise<string> {
  return (await sql.query('SELECT current_database() AS name')).rows[0].name as string;
}

function describeCheckpoint(checkpoint: Checkpoint | null): string {
  if (checkpoint === null) return 'none';
  const partial = checkpoint.partial ? ` (+${checkpoint.partial.rowsDone} rows of the transaction at ${formatLsn(checkpoint.partial.finalLsn)})` : '';
  return `${formatLsn(checkpoint.lsn)}${partial}`;
}
