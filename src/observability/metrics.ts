import client, { Registry } from 'prom-client';
import type { KafkaRecord } from '../outbox/record.js';
import { RELAY_STATES, type RelayState } from '../relay/states.js';
import type { SlotReading } from '../wal/slot-monitor.js';
import { lsnDistance } from '../lsn.js';

/** Values read when Prometheus scrapes, from the relay that owns them. */
export interface LiveReadings {
  lagSeconds(): number;
  kafkaCommitPendingSeconds(): number;
  /** Server WAL position minus the acknowledged position, read from the server at scrape time. */
  lagBytes(): Promise<bigint | null>;
}

const PREFIX = 'outbox_relay_';

/** Every metric the relay exports, on a registry of its own so that tests can create several. */
export class RelayMetrics {
  readonly registry = new Registry();

  readonly state = new client.Gauge({ name: `${PREFIX}state`, help: 'Current relay state: 1 for the active state, 0 for the others', labelNames: ['state'], registers: [this.registry] });
  readonly eventsPublished = new client.Counter({ name: `${PREFIX}events_published_total`, help: 'Outbox events committed to Kafka', labelNames: ['topic', 'event_type'], registers: [this.registry] });
  readonly kafkaTransactions = new client.Counter({ name: `${PREFIX}kafka_transactions_total`, help: 'Kafka transactions committed', registers: [this.registry] });
  readonly kafkaTransactionSeconds = new client.Histogram({
    name: `${PREFIX}kafka_transaction_duration_seconds`,
    help: 'Time from the start of a Kafka transaction to its commit',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly kafkaTransactionEvents = new client.Histogram({
    name: `${PREFIX}kafka_transaction_events`,
    help: 'Outbox events per Kafka transaction',
    buckets: [0, 1, 10, 100, 1000, 5000, 10000, 50000],
    registers: [this.registry],
  });
  readonly acknowledgedLsn = new client.Gauge({ name: `${PREFIX}acknowledged_lsn_bytes`, help: 'WAL position acknowledged to the slot, as a byte offset (exact below 2^53)', registers: [this.registry] });
  readonly serverWalEnd = new client.Gauge({ name: `${PREFIX}server_wal_end_bytes`, help: 'Latest server WAL end seen on the replication stream, as a byte offset', registers: [this.registry] });
  readonly errors = new client.Counter({ name: `${PREFIX}errors_total`, help: 'Errors that ended a relay attempt, by code', labelNames: ['code'], registers: [this.registry] });
  readonly retries = new client.Counter({ name: `${PREFIX}retries_total`, help: 'Relay attempts restarted after a retriable error, by code', labelNames: ['code'], registers: [this.registry] });
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
    help: 'Time from a PostgreSQL commit to the Kafka commit that holds its events',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  private live: LiveReadings = { lagSeconds: () => 0, kafkaCommitPendingSeconds: () => 0, lagBytes: async () => null };

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    const live = (): LiveReadings => this.live;
    new client.Gauge({
      name: `${PREFIX}lag_seconds`,
      help: 'Age of the oldest committed outbox transaction received but not yet in Kafka; 0 when caught up',
      registers: [this.registry],
      collect() {
        this.set(live().lagSeconds());
      },
    });
    new client.Gauge({
      name: `${PREFIX}kafka_commit_pending_seconds`,
      help: 'How long the current Kafka transaction has been committing; grows while Kafka is unreachable',
      registers: [this.registry],
      collect() {
        this.set(live().kafkaCommitPendingSeconds());
      },
    });
    new client.Gauge({
      name: `${PREFIX}lag_bytes`,
      help: 'Server WAL position minus the position the relay acknowledged: WAL not yet known to be in Kafka',
      registers: [this.registry],
      async collect() {
        const lag = await live().lagBytes();
        if (lag !== null) this.set(Number(lag));
      },
    });
    this.setState('starting');
  }

  attach(live: LiveReadings): void {
    this.live = live;
  }

  recordSlot(reading: SlotReading): void {
    if (reading.restartLsn !== null) this.slotRetainedWalBytes.set(Number(lsnDistance(reading.currentWalLsn, reading.restartLsn)));
    if (reading.safeWalSize !== null) this.slotSafeWalSizeBytes.set(Number(reading.safeWalSize));
    this.slotLost.set(reading.walStatus === 'lost' ? 1 : 0);
  }

  setState(current: RelayState): void {
    for (const state of RELAY_STATES) this.state.set({ state }, state === current ? 1 : 0);
  }

  recordCommit(records: KafkaRecord[], seconds: number, commitTimesUnixMicros: bigint[] = []): void {
    const nowMicros = Date.now() * 1000;
    for (const commitTime of commitTimesUnixMicros) this.endToEndLatency.observe(Math.max(0, nowMicros - Number(commitTime)) / 1e6);
    this.kafkaTransactions.inc();
    this.kafkaTransactionSeconds.observe(seconds);
    this.kafkaTransactionEvents.observe(records.length);
    for (const record of records) this.eventsPublished.inc({ topic: record.topic, event_type: record.headers.event_type ?? '' });
  }
}
