import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../src/schema/migrate.js';

export interface TestDatabase {
  name: string;
  url: string;
  sql: pg.Client;
  close(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A fresh database on the shared test cluster, with the outbox schema migrated and a noise table. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject('databaseUrl');
  const name = uniqueName('relay_test');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();

  const url = withDatabase(adminUrl, name);
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  if (options.migrate !== false) {
    await migrate(sql, { table: { schema: 'public', name: 'outbox_events' }, publication: 'outbox_publication', relayRole: 'outbox_relay', daysAhead: 3 });
  }
  await sql.query('CREATE TABLE IF NOT EXISTS noise (id bigserial PRIMARY KEY, pad text)');

  return {
    name,
    url,
    sql,
    async close() {
      await sql.end().catch(() => undefined);
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active`, [name]);
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await cleanup.end();
    },
  };
}

export interface OutboxRow {
  aggregateType?: string;
  aggregateId: string;
  aggregateVersion: number;
  eventType?: string;
  eventData?: string;
  metadata?: string;
  correlationId?: string;
  causationId?: string | null;
  createdAt?: string;
}

/** Inserts outbox rows with one statement each, in order, on the given client (inside its transaction, if any). */
export async function insertEvents(sql: pg.Client, rows: OutboxRow[]): Promise<string[]> {
  const ids: string[] = [];
  for (const row of rows) {
    const result = await sql.query(
      `INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, metadata, correlation_id, causation_id, created_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, COALESCE($9::timestamptz, now()))
       RETURNING id`,
      [
        row.eventType ?? 'OrderPlaced',
        row.aggregateType ?? 'order',
        row.aggregateId,
        row.aggregateVersion,
        row.eventData ?? JSON.stringify({ aggregate: row.aggregateId, version: row.aggregateVersion }),
        row.metadata ?? '{}',
        row.correlationId ?? `corr-${row.aggregateId}`,
        row.causationId ?? null,
        row.createdAt ?? null,
      ],
    );
    ids.push(result.rows[0].id);
  }
  return ids;
}

export async function slotConfirmedFlush(sql: pg.Client, slot: string): Promise<string | null> {
  const result = await sql.query(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
  return result.rows[0]?.lsn ?? null;
}
