import type pg from 'pg';
import { timestamptzToIso, type OutboxEvent } from '../outbox/event.js';
import { whereClause, type ReplaySelection } from './selection.js';

export interface OutboxTable {
  schema: string;
  name: string;
}

/**
 * Every column as text, so that node-postgres parses nothing: event_data and metadata keep the
 * jsonb text exactly as PostgreSQL prints it, as the relay receives it from pgoutput.
 */
const TEXT_COLUMNS = `id::text AS id, event_type, aggregate_type, aggregate_id, aggregate_version::text AS aggregate_version,
  event_data::text AS event_data, metadata::text AS metadata, correlation_id, causation_id,
  created_at::text AS created_at, created_by`;

export function qualifiedName(table: OutboxTable): string {
  return `"${table.schema}"."${table.name}"`;
}

/** Sets what timestamptzToIso expects: timestamptz printed in UTC in ISO style. */
export async function prepareSession(sql: pg.Client): Promise<void> {
  await sql.query(`SET TimeZone = 'UTC'`);
  await sql.query(`SET DateStyle = 'ISO, YMD'`);
}

export interface OutboxRow {
  id: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: string;
  event_data: string;
  metadata: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  created_at: string;
  created_by: string | null;
}

export function rowToEvent(row: OutboxRow): OutboxEvent {
  return {
    id: row.id,
    eventType: row.event_type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    aggregateVersion: row.aggregate_version,
    eventData: Buffer.from(row.event_data, 'utf8'),
    metadata: row.metadata === null ? null : Buffer.from(row.metadata, 'utf8'),
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    createdAt: timestamptzToIso(row.created_at),
    createdBy: row.created_by,
  };
}

/** Number of selected events per (aggregate_type, event_type): the total for progress, and the input for routing. */
export async function countByType(sql: pg.Client, table: OutboxTable, selection: ReplaySelection): Promise<{ aggregateType: string; eventType: string; count: number }[]> {
  const where = whereClause(selection);
  const result = await sql.query(
    `SELECT aggregate_type, event_type, count(*)::bigint::text AS count FROM ${qualifiedName(table)} WHERE ${where.sql} GROUP BY 1, 2 ORDER BY 1, 2`,
    where.params,
  );
  return result.rows.map((row: { aggregate_type: string; event_type: string; count: string }) => ({ aggregateType: row.aggregate_type, eventType: row.event_type, count: Number(row.count) }));
}

const CURSOR = 'outbox_replay';

/**
 * Declares a server-side cursor over the selected events in replay order. The cursor lives until
 * the surrounding transaction ends.
 *
 * Order: each aggregate's events in aggregate_version order, which is all that Kafka keeps per
 * key. Across aggregates the table does not store commit order, and created_at is when the
 * writing transaction started, so a higher version can carry an earlier created_at than the
 * version before it. Each event is therefore placed by the latest created_at of its aggregate up
 * to its version (a running maximum), which keeps versions in order and interleaves aggregates
 * roughly by time.
 */
export async function declareReplayCursor(sql: pg.Client, table: OutboxTable, selection: ReplaySelection): Promise<void> {
  const where = whereClause(selection);
  await sql.query(
    `DECLARE ${CURSOR} NO SCROLL CURSOR FOR
     SELECT ${TEXT_COLUMNS}
     FROM (
       SELECT e.*, max(created_at) OVER (PARTITION BY aggregate_id ORDER BY aggregate_version, created_at, id ROWS UNBOUNDED PRECEDING) AS replay_position
       FROM ${qualifiedName(table)} e
       WHERE ${where.sql}
     ) selected
     ORDER BY replay_position, aggregate_id, aggregate_version, created_at, id`,
    where.params,
  );
}

/** Fetches the next rows of the replay cursor. An empty result means the end. */
export async function fetchReplayRows(sql: pg.Client, count: number): Promise<OutboxRow[]> {
  const result = await sql.query(`FETCH FORWARD ${Math.trunc(count)} FROM ${CURSOR}`);
  return result.rows as OutboxRow[];
}

/** Reads events by id. Ids that no longer exist, because their partition was dropped, are absent from the result. */
export async function readEventsById(sql: pg.Client, table: OutboxTable, ids: string[]): Promise<OutboxRow[]> {
  if (ids.length === 0) return [];
  const result = await sql.query(`SELECT ${TEXT_COLUMNS} FROM ${qualifiedName(table)} WHERE id = ANY($1::uuid[])`, [ids]);
  return result.rows as OutboxRow[];
}
