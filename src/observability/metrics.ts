import client, { Registry } from 'prom-client';
import type { KafkaRecord } from '../outbox/record.js';
import { DEAD_LETTER_REASONS } from '../outbox/dead-letter.js';
import { RELAY_STATES, type RelayState } from '../relay/states.js';
import type { SlotReading } from '../wal/slot-monitor.js';
import { formatLsn, lsnDistance, type Lsn } from '../lsn.js';
import { RecentErrors } from './recent-errors.js';

/** Values read when Prometheus scrapes, from the relay that owns them. */
export interface LiveReadings {
  lagSeconds(): number;
  kafkaCommitPendingSeconds(): number;
  /** Server WAL position minus the acknowledged position, read from the server at scrape time. */
  lagBytes(): Promise<bigint | null>;
}

/** The last position the relay acknowledged to the slot, for /api/status and the dashboard. */
export interface AcknowledgedPosition {
  lsn: Lsn;
  /** Wall-clock time of the acknowledgement. */
  at: Date;
  /** PostgreSQL commit time (Unix microseconds) of the newest transaction acknowledged so far; null before the first. */
  commitTimeUnixMicros: bigint | null;
}

const PREFIX = 'outbox_relay_';

/** States in which the stream loop runs and tracks which received transactions are not yet in Kafka. */
const LAG_KNOWN_STATES: ReadonlySet<RelayState> = new Set(['streaming', 'stopping']);

/**
 * Every metric the relay exports, on a registry of its own so that tests can create several.
 * A gauge whose value is unknown (no reading yet, no session) has no sample at all, rather than 0,
 * so that an alert such as `safe_wal_size < X` does not fire on a value that was never measured.
 */
export class RelayMetrics {
  readonly registry = new Registry();
  readonly recentErrors = new RecentErrors();

  readonly state = new client.Gauge({ name: `${PREFIX}state`, help: 'Relay state: 1 for the current state, 0 for the others', labelNames: ['state'], registers: [this.registry] });
  readonly eventsPublished = new client.Counter({ name: `${PREFIX}events_published_total`, help: 'Outbox events committed to Kafka, by topic and event type', labelNames: ['topic', 'event_type'], registers: [this.registry] });
  readonly deadLetters = new client.Counter({ name: `${PREFIX}dead_letters_total`, help: 'Outbox events written to the dead-letter topic instead of their own topic, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly kafkaTransactions = new client.Counter({ name: `${PREFIX}kafka_transactions_total`, help: 'Kafka transactions committed, including those that only move the checkpoint', registers: [this.registry] });
  readonly kafkaTransactionSeconds = new client.Histogram({
    name: `${PREFIX}kafka_transaction_duration_seconds`,
    help: 'Time from the start of a Kafka transaction to its commit',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly kafkaTransactionEvents = new client.Histogram({
    name: `${PREFIX}kafka_transaction_events`,
    help: 'Outbox events per Kafka transaction; 0 for a transaction that only moves the checkpoint',
    buckets: [0, 1, 10, 100, 1000, 5000, 10000, 50000],
    registers: [this.registry],
  });
  readonly kafkaTransactionBytes = new client.Histogram({
    name: `${PREFIX}kafka_transaction_bytes`,
    help: 'Bytes of outbox events (keys, values and headers) per Kafka transaction, without the checkpoint record',
    buckets: [1024, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
    registers: [this.registry],
  });
  readonly acknowledgedLsn = new client.Gauge({ name: `${PREFIX}acknowledged_lsn_bytes`, help: 'WAL position acknowledged to the slot, as a byte offset (exact below 2^53; see acknowledged_lsn_info for the exact text)', registers: [this.registry] });
  readonly acknowledgedLsnInfo = new client.Gauge({ name: `${PREFIX}acknowledged_lsn_info`, help: 'Always 1; the lsn label is the WAL position acknowledged to the slot, as PostgreSQL prints it', labelNames: ['lsn'], registers: [this.registry] });
  readonly acknowledgedCommitTimestamp = new client.Gauge({
    name: `${PREFIX}acknowledged_commit_timestamp_seconds`,
    help: 'PostgreSQL commit time, as a Unix timestamp, of the newest outbox transaction acknowledged to the slot',
    registers: [this.registry],
  });
  readonly serverWalEnd = new client.Gauge({ name: `${PREFIX}server_wal_end_bytes`, help: 'Latest server WAL end seen on the replication stream, as a byte offset', registers: [this.registry] });
  readonly errors = new client.Counter({ name: `${PREFIX}errors_total`, help: 'Errors that ended a relay attempt, by code', labelNames: ['code'], registers: [this.registry] });
  readonly retries = new client.Counter({ name: `${PREFIX}retries_total`, help: 'Relay attempts restarted, with new PostgreSQL and Kafka connections, after a retriable error, by code', labelNames: ['code'], registers: [this.registry] });
  readonly slotAheadOfCheckpoint = new client.Gauge({
    name: `${PREFIX}slot_ahead_of_checkpoint`,
    help: '1 when the slot starts after the Kafka checkpoint, so rows in between were never relayed and the relay refuses to stream',
    registers: [this.registry],
  });
  readonly slotRetainedWalBytes = new client.Gauge({ name: `${PREFIX}slot_retained_wal_bytes`, help: 'WAL the slot makes PostgreSQL keep: server WAL position minus restart_lsn', registers: [this.registry] });
  readonly slotSafeWalSizeBytes = new client.Gauge({
    name: `${PREFIX}slot_safe_wal_size_bytes`,
    help: 'WAL that can still be written before the slot is lost (safe_wal_size); absent when max_slot_wal_keep_size is unlimited',
    registers: [this.registry],
  });
  readonly slotLost = new client.Gauge({ name: `${PREFIX}slot_lost`, help: '1 when the slot is lost (wal_status = lost) and the relay refuses to stream', registers: [this.registry] });
  readonly endToEndLatency = new client.Histogram({
    name: `${PREFIX}end_to_end_latency_seconds`,
    help: 'Time from a PostgreSQL commit to the Kafka commit that contains its events',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  private live: LiveReadings = { lagSeconds: () => 0, kafkaCommitPendingSeconds: () => 0, lagBytes: async () => null };
  private currentState: RelayState = 'starting';
  private acknowledged: AcknowledgedPosition | null = null;
  private slot: SlotReading | null = null;

  constructor() {
    // Without a prefix, so that the standard process_* and nodejs_* dashboards and alerts apply.
    client.collectDefaultMetrics({ register: this.registry });
    this.registerLiveGauges();
    for (const gauge of [this.acknowledgedLsn, this.acknowledgedCommitTimestamp, this.serverWalEnd, this.slotRetainedWalBytes, this.slotSafeWalSizeBytes]) gauge.remove({});
    // A series that starts at its first increment hides that increment from increase(), which the
    // dead-letter alert uses.
    for (const reason of DEAD_LETTER_REASONS) this.deadLetters.inc({ reason }, 0);
    this.setState('starting');
  }

  attach(live: LiveReadings): void {
    this.live = live;
  }

  get relayState(): RelayState {
    return this.currentState;
  }

  get lastAcknowledged(): AcknowledgedPosition | null {
    return this.acknowledged;
  }

  get lastSlotReading(): SlotReading | null {
    return this.slot;
  }

  /** Lag in seconds, or null while no stream loop runs and the relay cannot know what is pending. */
  lagSeconds(): number | null {
    return LAG_KNOWN_STATES.has(this.currentState) ? this.live.lagSeconds() : null;
  }

  /** Lag in bytes, read from the server now; null while no replication session runs. */
  lagBytes(): Promise<bigint | null> {
    return this.live.lagBytes();
  }

  kafkaCommitPendingSeconds(): number {
    return this.live.kafkaCommitPendingSeconds();
  }

  recordSlot(reading: SlotReading): void {
    this.slot = reading;
    setOrRemove(this.slotRetainedWalBytes, reading.restartLsn === null ? null : Number(lsnDistance(reading.currentWalLsn, reading.restartLsn)));
    setOrRemove(this.slotSafeWalSizeBytes, reading.safeWalSize === null ? null : Number(reading.safeWalSize));
    this.slotLost.set(reading.walStatus === 'lost' ? 1 : 0);
  }

  setState(current: RelayState): void {
    this.currentState = current;
    for (const state of RELAY_STATES) this.state.set({ state }, state === current ? 1 : 0);
  }

  /** Records an error that ended a relay attempt: counts it by code and keeps it for the dashboard. */
  recordError(code: string, message: string): void {
    this.errors.inc({ code });
    this.recentErrors.record(code, message);
  }

  /** Counts one event sent to the dead-letter topic. `reason` must come from a small fixed set, because each value is a time series. */
  recordDeadLetter(reason: string): void {
    this.deadLetters.inc({ reason });
  }

  /**
   * Records the position just acknowledged to the slot, with the commit times (Unix microseconds)
   * of the transactions it covers. An acknowledgement without transactions keeps the last commit time.
   */
  recordAcknowledged(lsn: Lsn, commitTimesUnixMicros: bigint[] = []): void {
    let commitTime = this.acknowledged?.commitTimeUnixMicros ?? null;
    for (const time of commitTimesUnixMicros) if (commitTime === null || time > commitTime) commitTime = time;
    this.acknowledged = { lsn, at: new Date(), commitTimeUnixMicros: commitTime };

    this.acknowledgedLsn.set(Number(lsn));
    // One series at a time: the old LSN's series goes, or every position would stay a series.
    this.acknowledgedLsnInfo.reset();
    this.acknowledgedLsnInfo.set({ lsn: formatLsn(lsn) }, 1);
    if (commitTime !== null) this.acknowledgedCommitTimestamp.set(Number(commitTime) / 1e6);
  }

  recordCommit(records: KafkaRecord[], bytes: number, seconds: number, commitTimesUnixMicros: bigint[] = []): void {
    const nowMicros = Date.now() * 1000;
    for (const commitTime of commitTimesUnixMicros) this.endToEndLatency.observe(Math.max(0, nowMicros - Number(commitTime)) / 1e6);
    this.kafkaTransactions.inc();
    this.kafkaTransactionSeconds.observe(seconds);
    this.kafkaTransactionEvents.observe(records.length);
    this.kafkaTransactionBytes.observe(bytes);
    // One increment per label pair, not per record: looking up a labelled series costs more than the count.
    const published = new Map<string, { topic: string; event_type: string; count: number }>();
    for (const record of records) {
      const eventType = record.headers.event_type ?? '';
      const key = `${record.topic}\u0000${eventType}`;
      const entry = published.get(key);
      if (entry === undefined) published.set(key, { topic: record.topic, event_type: eventType, count: 1 });
      else entry.count++;
    }
    for (const { topic, event_type, count } of published.values()) this.eventsPublished.inc({ topic, event_type }, count);
  }

  /** Sums a counter over all its label values, as the dashboard shows it. */
  async total(counter: client.Counter): Promise<number> {
    return (await counter.get()).values.reduce((sum, sample) => sum + sample.value, 0);
  }

  private registerLiveGauges(): void {
    const metrics = this;
    new client.Gauge({
      name: `${PREFIX}lag_seconds`,
      help: 'Age of the oldest committed outbox transaction received but not yet in Kafka; 0 when caught up, absent while not streaming',
      registers: [this.registry],
      collect() {
        setOrRemove(this, metrics.lagSeconds());
      },
    });
    new client.Gauge({
      name: `${PREFIX}kafka_commit_pending_seconds`,
      help: 'How long the current Kafka transaction has been committing; grows while Kafka is unreachable',
      registers: [this.registry],
      collect() {
        this.set(metrics.kafkaCommitPendingSeconds());
      },
    });
    new client.Gauge({
      name: `${PREFIX}lag_bytes`,
      help: 'Server WAL position minus the position the relay acknowledged: WAL not yet known to be in Kafka; absent while no replication session runs',
      registers: [this.registry],
      async collect() {
        const lag = await metrics.lagBytes();
        setOrRemove(this, lag === null ? null : Number(lag));
      },
    });
  }
}

function setOrRemove(gauge: client.Gauge, value: number | null): void {
  if (value === null) gauge.remove({});
  else gauge.set(value);
}
