import type pg from 'pg';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import { readSlot } from '../wal/slot.js';
import { sleep } from '../relay/backoff.js';

/**
 * The proof that every row of an old partition is committed in Kafka, in two steps:
 *
 * 1. No transaction that could still write into the partition is open. With created_at = now(),
 *    a transaction writes into the partition of its start time (now() is the transaction's start),
 *    so only a transaction that started before the partition's upper bound can add rows to it. A
 *    prepared transaction's start is not recorded, so any prepared transaction counts. Once no such
 *    transaction is open, none can appear again.
 * 2. Every transaction that did write into it has therefore committed before the WAL position read
 *    after step 1. The relay acknowledges the slot only after the Kafka commit, so once the slot's
 *    confirmed_flush_lsn reaches that position, those rows are in Kafka.
 *
 * Rows that an application inserts with an explicit created_at in a past day escape step 1.
 */
export interface WriterCheck {
  /** The oldest open transaction in this database, other than the reaper's own. */
  oldestOpen: OpenTransaction | null;
  prepared: PreparedTransaction[];
  /** pg_current_wal_lsn() read after the check. */
  walLsn: Lsn;
}

export interface OpenTransaction {
  pid: number;
  xactStart: Date;
  backendXid: string | null;
  user: string | null;
  applicationName: string;
  backendType: string;
}

export interface PreparedTransaction {
  gid: string;
  prepared: Date;
  owner: string;
}

/** Prefix of the reaper's logical messages; the relay ignores every logical message it decodes. */
export const REAPER_MESSAGE_PREFIX = 'outbox-relay.reaper';

const ACK_POLL_MS = 200;

/** Runs step 1 and reads the WAL position in a later statement, so that every commit seen as finished lies before it. */
export async function checkWriters(sql: pg.Client): Promise<WriterCheck> {
  // Autovacuum workers never insert rows, and one vacuuming a large table can stay open for hours.
  const open = await sql.query(
    `SELECT pid, xact_start, backend_xid::text AS backend_xid, usename, application_name, backend_type
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
        AND backend_type <> 'autovacuum worker'
      ORDER BY xact_start LIMIT 1`,
  );
  const prepared = await sql.query(`SELECT gid, prepared, owner FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared`);
  const wal = await sql.query(`SELECT pg_current_wal_lsn()::text AS lsn`);

  const row = open.rows[0];
  return {
    oldestOpen:
      row === undefined
        ? null
        : { pid: row.pid, xactStart: row.xact_start, backendXid: row.backend_xid, user: row.usename, applicationName: row.application_name, backendType: row.backend_type },
    prepared: prepared.rows.map((p) => ({ gid: p.gid, prepared: p.prepared, owner: p.owner })),
    walLsn: parseLsn(wal.rows[0].lsn),
  };
}

/** Returns whether a transaction open since `open.xactStart` could still insert into a partition ending at `upper`, with created_at = now(). */
export function couldStillWrite(open: OpenTransaction | null, upper: Date): boolean {
  return open !== null && open.xactStart < upper;
}

export function describeOpenTransaction(open: OpenTransaction): string {
  const xid = open.backendXid === null ? 'no xid yet' : `xid ${open.backendXid}`;
  return `transaction of process ${open.pid} (${open.backendType}, user ${open.user ?? 'unknown'}, application "${open.applicationName}", ${xid}) open since ${open.xactStart.toISOString()}`;
}

export type SlotAck = { kind: 'acknowledged'; confirmed: Lsn } | { kind: 'behind'; confirmed: Lsn | null } | { kind: 'unusable'; reason: string };

/** Reads whether the slot's confirmed_flush_lsn has reached `target`, without waiting. */
export async function readSlotAck(sql: pg.Client, slot: string, target: Lsn): Promise<SlotAck> {
  const state = await readSlot(sql, slot);
  if (state === null) return { kind: 'unusable', reason: `replication slot "${slot}" does not exist, so nothing shows which rows are in Kafka; check OUTBOX_SLOT` };

  const database = (await sql.query('SELECT current_database() AS name')).rows[0].name as string;
  if (state.slotType !== 'logical' || state.database !== database) {
    return { kind: 'unusable', reason: `replication slot "${slot}" is not a logical slot of database ${database}; check OUTBOX_SLOT` };
  }
  const confirmed = state.confirmedFlushLsn;
  if (confirmed !== null && confirmed >= target) return { kind: 'acknowledged', confirmed };
  return { kind: 'behind', confirmed };
}

/**
 * Waits until a relay acknowledges a logical message that the reaper writes after the check. The
 * relay acknowledges only the end of a transaction it decoded, so without the message a quiet
 * outbox would leave the slot behind `target` indefinitely. Waiting for the message itself, not
 * only for `target`, also rejects a slot that no relay consumes. Such a slot (created after the
 * rows were committed, or refused by the relay) can sit at `target` without having streamed them.
 */
export async function waitForSlotAck(sql: pg.Client, slot: string, target: Lsn, timeoutMs: number, signal: AbortSignal): Promise<SlotAck> {
  const first = await readSlotAck(sql, slot, target);
  if (first.kind === 'unusable') return first;

  let marker: Lsn;
  try {
    const result = await sql.query(`SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn`, [REAPER_MESSAGE_PREFIX, `checked at ${formatLsn(target)}`]);
    marker = parseLsn(result.rows[0].lsn);
  } catch (error) {
    const reason = `could not write the logical message that shows a relay is consuming slot "${slot}" (${error instanceof Error ? error.message : String(error)}); GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) to the reaper's role`;
    return { kind: 'unusable', reason };
  }

  const deadline = Date.now() + timeoutMs;
  let ack = await readSlotAck(sql, slot, marker);
  while (ack.kind === 'behind' && Date.now() < deadline && !signal.aborted) {
    await sleep(Math.min(ACK_POLL_MS, Math.max(0, deadline - Date.now())), signal);
    ack = await readSlotAck(sql, slot, marker);
  }
  return ack;
}
