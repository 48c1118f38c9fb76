import type pg from 'pg';
import { parseLsn, type Lsn } from '../lsn.js';
import { RelayError } from '../publisher/errors.js';

export interface SlotState {
  name: string;
  plugin: string | null;
  slotType: string;
  database: string | null;
  active: boolean;
  activePid: number | null;
  walStatus: string | null;
  restartLsn: Lsn | null;
  confirmedFlushLsn: Lsn | null;
}

export async function readSlot(sql: pg.Client, slot: string): Promise<SlotState | null> {
  const result = await sql.query(
    `SELECT slot_name, plugin, slot_type, database, active, active_pid, wal_status,
            restart_lsn::text AS restart_lsn, confirmed_flush_lsn::text AS confirmed_flush_lsn
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  if (row === undefined) return null;
  return {
    name: row.slot_name,
    plugin: row.plugin,
    slotType: row.slot_type,
    database: row.database,
    active: row.active,
    activePid: row.active_pid,
    walStatus: row.wal_status,
    restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn),
    confirmedFlushLsn: row.confirmed_flush_lsn === null ? null : parseLsn(row.confirmed_flush_lsn),
  };
}

/** Creates a permanent pgoutput slot. Never temporary: a temporary slot dies with its connection and its position with it. */
export async function createSlot(sql: pg.Client, slot: string): Promise<void> {
  await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput', false)`, [slot]);
}

/** Rejects a slot the relay cannot stream from safely, naming what is wrong and the fix. */
export function checkSlotUsable(state: SlotState, database: string): void {
  if (state.slotType !== 'logical' || state.plugin !== 'pgoutput') {
    throw new RelayError('slot_wrong_kind', `replication slot "${state.name}" is ${state.slotType} with plugin ${String(state.plugin)}; the relay needs a logical slot with plugin pgoutput: choose another OUTBOX_SLOT`, false);
  }
  if (state.database !== database) {
    throw new RelayError('slot_wrong_database', `replication slot "${state.name}" belongs to database "${String(state.database)}", not "${database}"; choose another OUTBOX_SLOT or fix DATABASE_URL`, false);
  }
  if (state.walStatus === 'lost') {
    throw new RelayError(
      'slot_lost',
      `replication slot "${state.name}" is lost: PostgreSQL removed WAL it still needed (max_slot_wal_keep_size). Events after its last acknowledged position may be missing from Kafka; backfill them with "outbox-relay replay", then drop and recreate the slot by hand`,
      false,
    );
  }
}
