import client, { type Registry } from 'prom-client';

export type ReaperOutcome = 'success' | 'locked' | 'refused' | 'failed';
export const REAPER_OUTCOMES: ReaperOutcome[] = ['success', 'locked', 'refused', 'failed'];

/** The reaper's metrics, registered on the relay's registry so that /metrics serves them. */
export class ReaperMetrics {
  readonly partitions: client.Gauge;
  readonly oldestPartitionAge: client.Gauge;
  readonly secondsAhead: client.Gauge;
  readonly partitionsCreated: client.Counter;
  readonly partitionsRemoved: client.Counter;
  readonly rowsRemoved: client.Counter;
  readonly bytesRemoved: client.Counter;
  readonly runs: client.Counter;
  readonly runDuration: client.Histogram;
  readonly lastSuccess: client.Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.partitions = new client.Gauge({ name: 'outbox_relay_partitions', help: 'Partitions of the outbox table attached at the end of the last reaper run', registers });
    this.oldestPartitionAge = new client.Gauge({ name: 'outbox_relay_partition_oldest_age_seconds', help: 'Time from the lower bound of the oldest outbox partition to the end of the last reaper run', registers });
    this.secondsAhead = new client.Gauge({
      name: 'outbox_relay_partition_ahead_seconds',
      help: 'Time from the end of the last reaper run to the upper bound of the last partition contiguous with it; inserts with created_at = now() fail when this reaches 0',
      registers,
    });
    this.partitionsCreated = new client.Counter({ name: 'outbox_relay_reaper_partitions_created_total', help: 'Day partitions the reaper created ahead of need', registers });
    this.partitionsRemoved = new client.Counter({ name: 'outbox_relay_reaper_partitions_removed_total', help: 'Partitions the reaper detached from the outbox (and dropped unless OUTBOX_REAPER_KEEP_DETACHED)', registers });
    this.rowsRemoved = new client.Counter({ name: 'outbox_relay_reaper_rows_removed_total', help: 'Rows of the partitions the reaper detached', registers });
    this.bytesRemoved = new client.Counter({ name: 'outbox_relay_reaper_bytes_removed_total', help: 'Size with indexes and TOAST of the partitions the reaper detached', registers });
    this.runs = new client.Counter({ name: 'outbox_relay_reaper_runs_total', help: 'Reaper runs by outcome: success, locked (another run held the lock), refused or failed', labelNames: ['outcome'], registers });
    this.runDuration = new client.Histogram({
      name: 'outbox_relay_reaper_run_duration_seconds',
      help: 'Duration of reaper runs by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.lastSuccess = new client.Gauge({ name: 'outbox_relay_reaper_last_success_timestamp_seconds', help: 'Unix time of the end of the last successful reaper run', registers });
    for (const outcome of REAPER_OUTCOMES) this.runs.inc({ outcome }, 0);
  }
}
