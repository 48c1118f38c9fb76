import type pg from 'pg';
import type { Logger } from 'pino';
import { parseLsn, type Lsn } from '../lsn.js';
import { errorText } from '../publisher/errors.js';

export interface SlotReading {
  currentWalLsn: Lsn;
  restartLsn: Lsn | null;
  confirmedFlushLsn: Lsn | null;
  walStatus: string | null;
  safeWalSize: bigint | null;
}

/** Prefix of the relay's own heartbeat messages; the relay ignores every logical message it decodes. */
export const HEARTBEAT_PREFIX = 'outbox-relay.heartbeat';

/**
 * Polls the server for the slot's position and the WAL it retains, on the relay's SQL connection,
 * and optionally writes heartbeats so that an outbox in an otherwise idle database still moves its
 * slot forward.
 */
export class SlotMonitor {
  private timer: NodeJS.Timeout | null = null;
  private lastHeartbeatAt = 0;
  private running = false;

  constructor(
    private readonly sql: pg.Client,
    private readonly slot: string,
    private readonly options: { pollIntervalMs: number; heartbeatIntervalMs: number },
    private readonly onReading: (reading: SlotReading) => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.pollIntervalMs);
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async read(): Promise<SlotReading | null> {
    const result = await this.sql.query(
      `SELECT pg_current_wal_lsn()::text AS current_wal_lsn, restart_lsn::text AS restart_lsn,
              confirmed_flush_lsn::text AS confirmed_flush_lsn, wal_status, safe_wal_size::text AS safe_wal_size
         FROM pg_replication_slots WHERE slot_name = $1`,
      [this.slot],
    );
    const row = result.rows[0];
    if (row === undefined) return null;
    return {
      currentWalLsn: parseLsn(row.current_wal_lsn),
      restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn),
      confirmedFlushLsn: row.confirmed_flush_lsn === null ? null : parseLsn(row.confirmed_flush_lsn),
      walStatus: row.wal_status,
      safeWalSize: row.safe_wal_size === null ? null : BigInt(row.safe_wal_size),
    };
  }

  private async tick(): Promise<void> {
    // pg.Client runs one query at a time; a slow server must not pile up polls.
    if (this.running) return;
    this.running = true;
    try {
      if (this.options.heartbeatIntervalMs > 0 && Date.now() - this.lastHeartbeatAt >= this.options.heartbeatIntervalMs) {
        await this.sql.query(`SELECT pg_logical_emit_message(false, $1, $2)`, [HEARTBEAT_PREFIX, this.slot]);
        this.lastHeartbeatAt = Date.now();
      }
      const reading = await this.read();
      if (reading !== null) this.onReading(reading);
    } catch (error) {
      this.log.warn({ slot: this.slot, err: errorText(error) }, 'slot poll failed');
    } finally {
      this.running = false;
    }
  }
}
