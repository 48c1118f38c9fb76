import pg from 'pg';
import { boundLiteral, quotedPartition, quotedTable, type OutboxTable } from './partitions.js';

/**
 * Creates one day partition as a plain table and attaches it. CREATE TABLE ... PARTITION OF
 * (what the migrate function uses) takes an ACCESS EXCLUSIVE lock on the outbox, which queues
 * every application insert behind it; ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE, which
 * inserts do not wait for. The new table is empty, so the attach has nothing to scan.
 */
export async function createDayPartition(sql: pg.Client, table: OutboxTable, name: string, lower: Date, upper: Date): Promise<void> {
  const parent = quotedTable(table);
  const partition = quotedPartition(table, name);
  await sql.query('BEGIN');
  try {
    // LIKE copies the NOT NULL and CHECK constraints that ATTACH PARTITION requires; ATTACH creates the indexes.
    await sql.query(`CREATE TABLE ${partition} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION)`);
    await sql.query(`ALTER TABLE ${parent} ATTACH PARTITION ${partition} FOR VALUES FROM (${pg.escapeLiteral(boundLiteral(lower))}) TO (${pg.escapeLiteral(boundLiteral(upper))})`);
    await sql.query('COMMIT');
  } catch (error) {
    await sql.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Detaches a partition without blocking inserts. PostgreSQL runs it as two transactions, so it
 * cannot run inside a transaction block. If the second one fails (a lock timeout, a cancel), the
 * partition stays "detach pending" until DETACH PARTITION ... FINALIZE.
 */
export async function detachConcurrently(sql: pg.Client, table: OutboxTable, name: string): Promise<void> {
  await sql.query(`ALTER TABLE ${quotedTable(table)} DETACH PARTITION ${quotedPartition(table, name)} CONCURRENTLY`);
}

export async function finalizeDetach(sql: pg.Client, table: OutboxTable, name: string): Promise<void> {
  await sql.query(`ALTER TABLE ${quotedTable(table)} DETACH PARTITION ${quotedPartition(table, name)} FINALIZE`);
}

/** Returns whether the table is still a partition of the outbox (attached or detach pending). */
export async function isPartitionOf(sql: pg.Client, table: OutboxTable, name: string): Promise<{ attached: boolean; detachPending: boolean }> {
  const result = await sql.query(
    `SELECT i.inhdetachpending AS pending FROM pg_inherits i WHERE i.inhparent = $1::regclass AND i.inhrelid = to_regclass($2)`,
    [quotedTable(table), quotedPartition(table, name)],
  );
  const row = result.rows[0];
  return { attached: row !== undefined, detachPending: row?.pending === true };
}

/** Counts the rows and bytes (table, indexes and TOAST) of a detached partition, for the metrics and the log. */
export async function measureTable(sql: pg.Client, table: OutboxTable, name: string): Promise<{ rows: number; bytes: number }> {
  const partition = quotedPartition(table, name);
  const result = await sql.query(`SELECT (SELECT count(*) FROM ${partition})::bigint AS rows, pg_total_relation_size($1::regclass)::bigint AS bytes`, [partition]);
  return { rows: Number(result.rows[0].rows), bytes: Number(result.rows[0].bytes) };
}

export async function dropTable(sql: pg.Client, table: OutboxTable, name: string): Promise<void> {
  await sql.query(`DROP TABLE ${quotedPartition(table, name)}`);
}
