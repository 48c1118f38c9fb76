import pg from 'pg';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config/config.js';
import { formatLsn, lsnDistance, maxLsn, type Lsn } from '../lsn.js';
import { CheckpointStore } from '../checkpoint/store.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import { TransactionalProducer } from '../publisher/producer.js';
import { FencedError, RelayError, errorText } from '../publisher/errors.js';
import { ReplicationSession } from '../wal/replication-session.js';
import { checkSlotUsable, createSlot, readSlot, type SlotState } from '../wal/slot.js';
import { checkPublication } from '../wal/preflight.js';
import { connectSql } from '../wal/connect.js';
import { StreamLoop } from './stream-loop.js';
import { SlotMonitor, type SlotReading } from '../wal/slot-monitor.js';
import { RelayStateMachine } from './states.js';
import { backoffDelayMs, sleep } from './backoff.js';
import type { RelayMetrics } from '../observability/metrics.js';
import { AvroEncoder } from '../avro/encoder.js';
import { startReaperSchedule } from '../reaper/schedule.js';

const STANDBY_POLL_CAP_MS = 5000;
const STABLE_STREAMING_MS = 30_000;

/** Errors that mean streaming could lose events: the relay waits for an operator instead of exiting. */
const REFUSAL_CODES = new Set(['slot_ahead_of_checkpoint', 'slot_lost', 'slot_missing']);


/**
 * The relay's main loop. One attempt connects everything, reads the checkpoint, streams until an
 * error or a stop, and tears everything down; retriable errors start a new attempt after a backoff,
 * always from what Kafka holds, never from what was merely received.
 */
export class Relay {
  readonly states = new RelayStateMachine();
  private readonly stop = new AbortController();
  private lastError: string | null = null;
  private loop: StreamLoop | null = null;
  private live: { monitor: SlotMonitor; session: ReplicationSession } | null = null;
  /** Lives across attempts, so that its cached schema ids outlast a registry outage. */
  private readonly avro: AvroEncoder | null;

  constructor(
    private readonly config: RelayConfig,
    private readonly log: Logger,
    private readonly metrics: RelayMetrics,
  ) {
    this.avro = config.avro && new AvroEncoder(config.avro, config, log.child({ component: 'avro' }));
    metrics.attach({ lagSeconds: () => this.lagSeconds, kafkaCommitPendingSeconds: () => this.kafkaCommitPendingSeconds, lagBytes: () => this.lagBytes() });
    this.states.onChange((state) => {
      metrics.setState(state);
      log.info({ state }, 'relay state changed');
    });
  }

  get error(): string | null {
    return this.lastError;
  }

  /** Seconds the current Kafka commit has been running: long values mean Kafka is unreachable. */
  get kafkaCommitPendingSeconds(): number {
    return this.loop?.kafkaCommitPendingSeconds ?? 0;
  }

  /** Seconds since the commit of the oldest PostgreSQL transaction not yet in Kafka; 0 when caught up. */
  get lagSeconds(): number {
    const oldest = this.loop?.oldestPendingCommitTime ?? null;
    if (oldest === null) return 0;
    return Math.max(0, Date.now() / 1000 - Number(oldest) / 1e6);
  }

  /** Reads the server's WAL position now; null while no replication session runs. */
  async lagBytes(): Promise<bigint | null> {
    const live = this.live;
    if (live === null) return null;
    try {
      const reading = await live.monitor.read();
      return reading === null ? null : lsnDistance(reading.currentWalLsn, live.session.acknowledged);
    } catch {
      return null;
    }
  }

  private onSlotReading(reading: SlotReading): void {
    this.metrics.recordSlot(reading);
    if (reading.walStatus === 'lost') {
      this.log.error({ slot: this.config.slot }, 'replication slot lost: PostgreSQL removed WAL the slot still needed');
    } else if (reading.walStatus === 'unreserved') {
      this.log.warn({ slot: this.config.slot, safeWalSize: reading.safeWalSize?.toString() }, 'replication slot is about to lose WAL it needs; raise max_slot_wal_keep_size or fix what keeps the relay behind');
    }
  }

  /** Asks the relay to finish the open Kafka transaction, acknowledge it and stop. */
  requestStop(): void {
    this.stop.abort();
  }

  /** Runs until stopped, with the partition reaper on its own timer; rejects with the error that made the relay give up. */
  async run(): Promise<void> {
    const reaper = startReaperSchedule(this.config.reaper, this.log.child({ component: 'reaper' }), this.metrics.registry);
    try {
      await this.stream();
    } finally {
      await reaper.stop();
    }
  }

  private async stream(): Promise<void> {
    let attempt = 0;
    let hasStreamed = false;
    let streamingSince: number | null = null;
    let standbySince: number | null = null;

    while (!this.stop.signal.aborted) {
      try {
        await this.runAttempt(() => {
          hasStreamed = true;
          streamingSince = Date.now();
          standbySince = null;
        });
      } catch (error) {
        // Only a stretch of healthy streaming resets the backoff: a fault that recurs right after
        // each reconnect must not turn into a reconnect loop.
        if (streamingSince !== null && Date.now() - streamingSince >= STABLE_STREAMING_MS) attempt = 0;
        streamingSince = null;
        this.lastError = errorText(error);
        const relayError = error instanceof RelayError ? error : new RelayError('unexpected', errorText(error), true, { cause: error });
        this.metrics.recordError(relayError.code, relayError.message);

        if (relayError instanceof FencedError) {
          // The coordinator also fences a producer whose transaction outlived its timeout (a paused
          // process), so a fence does not prove that another relay took over. The next attempt
          // tells: if another relay streams the slot, this one waits as a standby.
          this.states.moveTo('fenced');
          this.log.warn({ err: relayError.message }, 'producer fenced; checking the slot again before producing');
          await sleep(backoffDelayMs(attempt++, 250, STANDBY_POLL_CAP_MS), this.stop.signal);
          if (!this.stop.signal.aborted) this.states.moveTo('starting');
          continue;
        }
        if (REFUSAL_CODES.has(relayError.code)) {
          await this.refuse(relayError);
          continue;
        }
        // A standby got as far as the slot, so its settings work: later outages are retried too.
        if (relayError.code === 'slot_active') hasStreamed = true;
        if (!relayError.retriable || !hasStreamed) {
          this.states.moveTo('refusing');
          throw relayError;
        }

        // A standby polls the slot often so that it takes over within seconds of the active relay's exit.
        const delay = relayError.code === 'slot_active' ? backoffDelayMs(attempt++, 250, STANDBY_POLL_CAP_MS) : backoffDelayMs(attempt++);
        this.metrics.retries.inc({ code: relayError.code });
        // A standby polls every few seconds for as long as the active relay runs: one warning when
        // it starts waiting, then debug lines, so that its log does not fill with the same line.
        const standbyAgain = relayError.code === 'slot_active' && standbySince !== null;
        if (relayError.code === 'slot_active') standbySince ??= Date.now();
        else standbySince = null;
        const fields = { err: relayError.message, code: relayError.code, attempt, delayMs: delay };
        if (standbyAgain) this.log.debug({ ...fields, standbySeconds: Math.round((Date.now() - standbySince!) / 1000) }, 'still a standby; retrying');
        else this.log.warn(fields, 'relay attempt failed; retrying');
        this.states.moveTo('retrying');
        await sleep(delay, this.stop.signal);
        if (!this.stop.signal.aborted) this.states.moveTo('starting');
      }
    }
    this.states.moveTo('stopped');
  }

  /**
   * Stays up without streaming, so that /readyz and the metrics show the refusal and alerts fire,
   * and checks again from time to time in case an operator repaired the slot or the checkpoint.
   */
  private async refuse(error: RelayError): Promise<void> {
    this.states.moveTo('refusing');
    if (error.code === 'slot_lost') this.metrics.slotLost.set(1);
    this.log.error({ code: error.code, err: error.message, recheckMs: this.config.refusalRecheckMs }, 'relay refuses to stream');
    await sleep(this.config.refusalRecheckMs, this.stop.signal);
    if (!this.stop.signal.aborted) this.states.moveTo('starting');
  }

  private async runAttempt(onStreaming: () => void): Promise<void> {
    let sql: pg.Client | null = null;
    const producer = new TransactionalProducer(
      { brokers: this.config.kafkaBrokers, security: this.config.kafkaSecurity, transactionalId: this.config.transactionalId, transactionTimeoutMs: this.config.kafkaTransactionTimeoutMs, lingerMs: this.config.kafkaLingerMs },
      this.log.child({ component: 'publisher' }),
    );
    const store = new CheckpointStore(
      { brokers: this.config.kafkaBrokers, security: this.config.kafkaSecurity, topic: this.config.checkpointTopic, slot: this.config.slot },
      this.log.child({ component: 'checkpoint' }),
    );
    let session: ReplicationSession | null = null;
    let monitor: SlotMonitor | null = null;

    try {
      sql = await connectSql(this.config.databaseUrl, (error) => {
        this.log.warn({ err: error.message }, 'SQL connection lost; ending the attempt');
        session?.abort(error);
      });
      await checkPublication(sql, this.config.publication, this.config.table);
      // Check the slot before touching Kafka: a standby must not fence the active relay's producer.
      const existing = await this.readSlot(sql);
      await store.ensureTopic();
      // Create a missing slot only once Kafka responded, because a slot that no relay reads keeps WAL.
      const slot = existing ?? (await this.createSlot(sql));
      await producer.connect();
      const checkpoint = await store.readLatest();
      this.log.info({ slot: this.config.slot, checkpoint: describeCheckpoint(checkpoint) }, 'checkpoint read');
      const startLsn = this.checkSlotAgainstCheckpoint(slot, checkpoint);

      await this.avro?.registerAtStartup();

      session = await ReplicationSession.connect(this.config.databaseUrl, this.log.child({ component: 'wal' }));
      session.start({ slot: this.config.slot, publication: this.config.publication, startLsn, statusIntervalMs: this.config.statusIntervalMs });
      this.metrics.recordAcknowledged(startLsn);

      // A crash between a Kafka commit and its acknowledgement leaves the slot behind the checkpoint.
      if (checkpoint !== null) session.acknowledge(checkpoint.lsn);
      this.loop = new StreamLoop(this.config, session, producer, store, checkpoint, this.metrics, this.log, this.avro);
      monitor = new SlotMonitor(sql, this.config.slot, { pollIntervalMs: this.config.slotPollIntervalMs, heartbeatIntervalMs: this.config.heartbeatIntervalMs }, (reading) => this.onSlotReading(reading), this.log.child({ component: 'slot-monitor' }));
      monitor.start();
      this.live = { monitor, session };

      this.states.moveTo('streaming');
      onStreaming();
      await this.loop.run(this.stop.signal);
      this.states.moveTo('stopping');
    } finally {
      monitor?.stop();
      this.loop = null;
      this.live = null;
      if (session) await session.close();
      await producer.disconnect();
      await sql?.end().catch(() => undefined);
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

}

async function currentDatabase(sql: pg.Client): Promise<string> {
  return (await sql.query('SELECT current_database() AS name')).rows[0].name as string;
}

function describeCheckpoint(checkpoint: Checkpoint | null): string {
  if (checkpoint === null) return 'none';
  const partial = checkpoint.partial ? ` (+${checkpoint.partial.rowsDone} rows of the transaction at ${formatLsn(checkpoint.partial.finalLsn)})` : '';
  return `${formatLsn(checkpoint.lsn)}${partial}`;
}
