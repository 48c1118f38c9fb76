import pg from 'pg';

export interface OutboxTable {
  schema: string;
  name: string;
}

/** A day partition as the reaper expects it: named <table>_pYYYYMMDD, bounds [day 00:00 UTC, next day 00:00 UTC). */
export interface DayPartition {
  name: string;
  /** The day as YYYY-MM-DD (UTC). */
  day: string;
  lower: Date;
  upper: Date;
  /** An earlier DETACH PARTITION ... CONCURRENTLY stopped before its second transaction. */
  detachPending: boolean;
  /** The reaper's role has the rights of the partition's owner, which DROP TABLE needs. */
  ownedByReaper: boolean;
  owner: string;
}

/** A partition whose name, bounds, schema or kind differ from what the reaper creates. */
export interface UnexpectedPartition {
  name: string;
  bound: string;
  reason: string;
}

export interface PartitionListing {
  partitions: DayPartition[];
  unexpected: UnexpectedPartition[];
  defaultPartition: string | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function quotedTable(table: OutboxTable): string {
  return `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)}`;
}

export function quotedPartition(table: OutboxTable, name: string): string {
  return `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(name)}`;
}

export function partitionName(table: OutboxTable, day: string): string {
  return `${table.name}_p${day.replaceAll('-', '')}`;
}

/** Formats midnight of a date as PostgreSQL prints a day partition's bound when the session's TimeZone is UTC. */
export function boundLiteral(date: Date): string {
  return `${date.toISOString().slice(0, 10)} 00:00:00+00`;
}

export function describeBounds(partition: { lower: Date; upper: Date }): string {
  return `[${boundLiteral(partition.lower)}, ${boundLiteral(partition.upper)})`;
}

export function dayAfter(day: string, days = 1): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Lists the partitions of the outbox, split into day partitions and everything else. The bound
 * text depends on the session's TimeZone, so the connection must run with TimeZone = 'UTC'.
 */
export async function listPartitions(sql: pg.Client, table: OutboxTable): Promise<PartitionListing> {
  const result = await sql.query(
    `SELECT c.relname AS name, n.nspname AS schema, c.relkind AS kind, pg_get_expr(c.relpartbound, c.oid) AS bound,
            i.inhdetachpending AS detach_pending, pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(c.relowner, 'USAGE') AS owned
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.inhparent = $1::regclass
      ORDER BY c.relname`,
    [quotedTable(table)],
  );

  const listing: PartitionListing = { partitions: [], unexpected: [], defaultPartition: null };
  for (const row of result.rows) {
    if (row.bound === 'DEFAULT') {
      listing.defaultPartition = row.name;
      continue;
    }
    const reason = checkPartition(table, row);
    if (reason !== null) {
      listing.unexpected.push({ name: `${row.schema}.${row.name}`, bound: row.bound, reason });
      continue;
    }
    const day = dayOfName(table, row.name) as string;
    listing.partitions.push({
      name: row.name,
      day,
      lower: new Date(`${day}T00:00:00Z`),
      upper: new Date(`${dayAfter(day)}T00:00:00Z`),
      detachPending: row.detach_pending,
      ownedByReaper: row.owned,
      owner: row.owner,
    });
  }
  listing.partitions.sort((a, b) => a.lower.getTime() - b.lower.getTime());
  return listing;
}

/** Returns why a partition does not match what the reaper creates, or null when it does. */
function checkPartition(table: OutboxTable, row: { name: string; schema: string; kind: string; bound: string }): string | null {
  if (row.schema !== table.schema) return `it is in schema ${row.schema}, not ${table.schema}`;
  if (row.kind !== 'r') return 'it is not a plain table (a partitioned or foreign table)';

  const day = dayOfName(table, row.name);
  if (day === null) return `its name does not match ${table.name}_pYYYYMMDD with a valid date`;

  const expected = `FOR VALUES FROM ('${day} 00:00:00+00') TO ('${dayAfter(day)} 00:00:00+00')`;
  if (row.bound !== expected) return `its bounds are not the UTC day of its name: expected ${expected}`;
  return null;
}

function dayOfName(table: OutboxTable, name: string): string | null {
  const prefix = `${table.name}_p`;
  if (!name.startsWith(prefix)) return null;
  const digits = name.slice(prefix.length);
  if (!/^\d{8}$/.test(digits)) return null;

  const day = `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
  const parsed = new Date(`${day}T00:00:00Z`);
  // Date accepts 2024-02-30 and rolls it over, so compare the round trip.
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== day) return null;
  return day;
}

/**
 * Seconds from `now` to the upper bound of the run of contiguous partitions that contains `now`:
 * an insert with created_at = now() fails once this reaches 0. Returns 0 when no partition covers `now`.
 */
export function secondsAhead(partitions: DayPartition[], now: Date): number {
  const attached = partitions.filter((p) => !p.detachPending);
  let covered = attached.find((p) => p.lower <= now && now < p.upper);
  if (covered === undefined) return 0;

  let end = covered.upper;
  for (;;) {
    covered = attached.find((p) => p.lower.getTime() === end.getTime());
    if (covered === undefined) break;
    end = covered.upper;
  }
  return (end.getTime() - now.getTime()) / 1000;
}
