import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, runCli, startRelay, type RelayProcess } from '../support/relay-process.js';
import { freePort, metricValue } from '../support/http.js';
import { waitFor } from '../support/witness.js';

// Retention 3 keeps today and the three days before it: the partitions of day -4 and older go.
const RETENTION_DAYS = 3;

async function dayFromToday(sql: pg.Client, offset: number): Promise<string> {
  return (await sql.query(`SELECT ((now() AT TIME ZONE 'UTC')::date + $1::int)::text AS day`, [offset])).rows[0].day;
}

function partitionOf(day: string): string {
  return `outbox_events_p${day.replaceAll('-', '')}`;
}

/** Creates the partition of a past day the way migrate would have, then fills it with rows dated that day. */
async function createPastDay(sql: pg.Client, offset: number, rows: number): Promise<string> {
  const day = await dayFromToday(sql, offset);
  const next = await dayFromToday(sql, offset + 1);
  await sql.query(`CREATE TABLE ${partitionOf(day)} PARTITION OF outbox_events FOR VALUES FROM ('${day} 00:00:00+00') TO ('${next} 00:00:00+00')`);
  await sql.query(
    `INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id, created_at)
     SELECT 'OrderPlaced', 'order', 'day' || $1::text, n, '{}'::jsonb, 'c', $2::timestamptz + n * interval '1 second'
       FROM generate_series(1, $3::int) AS n`,
    [String(offset), `${day} 06:00:00+00`, rows],
  );
  return partitionOf(day);
}

async function partitions(sql: pg.Client): Promise<string[]> {
  const result = await sql.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'outbox_events'::regclass ORDER BY 1`);
  return result.rows.map((row) => row.relname as string);
}

async function tableExists(sql: pg.Client, name: string): Promise<boolean> {
  return (await sql.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [name])).rows[0].found;
}

describe('partition reaper', () => {
  let db: TestDatabase;
  let relay: RelayProcess | null = null;
  const slot = uniqueName('reaper');

  const reapEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: db.url,
    OUTBOX_SLOT: slot,
    OUTBOX_RETENTION_DAYS: String(RETENTION_DAYS),
    OUTBOX_REAPER_ACK_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'info',
    ...extra,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await relay?.stop();
    await db.close();
  });

  it('creates the missing partitions ahead', async () => {
    const inTwoDays = await dayFromToday(db.sql, 2);
    const inFiveDays = await dayFromToday(db.sql, 5);
    await db.sql.query(`DROP TABLE ${partitionOf(inTwoDays)}`);

    const { code, output } = await runCli(reapEnv({ OUTBOX_PARTITION_DAYS_AHEAD: '5' }), ['reap']);
    expect(code, output).toBe(0);

    const names = await partitions(db.sql);
    for (let offset = 0; offset <= 5; offset++) expect(names).toContain(partitionOf(await dayFromToday(db.sql, offset)));
    expect(output).toContain(`create ${partitionOf(inTwoDays)} [${inTwoDays} 00:00:00+00,`);

    const bound = (await db.sql.query(`SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE relname = $1`, [partitionOf(inFiveDays)])).rows[0].bound as string;
    expect(bound).toBe(`FOR VALUES FROM ('${inFiveDays} 00:00:00+00') TO ('${await dayFromToday(db.sql, 6)} 00:00:00+00')`);

    // An application insert at the far end of the window lands in a partition the reaper made.
    await db.sql.query(`INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id, created_at) VALUES ('OrderPlaced', 'order', 'ahead', 1, '{}', 'c', $1)`, [`${inFiveDays} 23:59:59+00`]);
  });

  it('keeps partitions until the relay acknowledges their rows', async () => {
    // The slot exists before the rows, but nothing consumes it: no row is in Kafka yet.
    await db.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const created: string[] = [];
    for (const offset of [-6, -5, -4, -3, -1]) created.push(await createPastDay(db.sql, offset, 20));

    const before = await runCli(reapEnv({ OUTBOX_REAPER_ACK_TIMEOUT_MS: '2000' }), ['reap']);
    expect(before.code, before.output).toBe(0);
    expect(before.output).toMatch(/keep outbox_events_p\d{8} .*the relay has not acknowledged the reaper's logical message/);
    for (const name of created) expect(await tableExists(db.sql, name), name).toBe(true);

    relay = startRelay(relayEnv(db.url, slot, { OUTBOX_REAPER_INTERVAL_MS: '0' }));
    await relay.waitForLog(/"state":"streaming"/);
    await readCommitted([`${slot}.order-events`], { expected: 5 * 20 });

    const after = await runCli(reapEnv(), ['reap']);
    expect(after.code, after.output).toBe(0);
    const expectedGone = created.slice(0, 3);
    const expectedKept = created.slice(3);
    for (const name of expectedGone) expect(after.output).toMatch(new RegExp(`drop ${name} \\[.*\\) \\(20 rows, \\d+ bytes\\)`));
    for (const name of expectedGone) expect(await tableExists(db.sql, name), name).toBe(false);
    for (const name of expectedKept) expect(await tableExists(db.sql, name), name).toBe(true);
  });

  it('keeps detached partitions when asked to', async () => {
    const name = await createPastDay(db.sql, -7, 3);
    const { code, output } = await runCli(reapEnv({ OUTBOX_REAPER_KEEP_DETACHED: 'true' }), ['reap']);
    expect(code, output).toBe(0);

    expect(output).toMatch(new RegExp(`detach ${name} .*kept as a standalone table`));
    expect(await partitions(db.sql)).not.toContain(name);
    expect(Number((await db.sql.query(`SELECT count(*) FROM ${name}`)).rows[0].count)).toBe(3);
    await db.sql.query(`DROP TABLE ${name}`);
  });

  it('finishes a detach that a lock timeout left pending', async () => {
    const name = await createPastDay(db.sql, -8, 5);
    await readCommitted([`${slot}.order-events`], { expected: 5 * 20 + 3 + 5 });

    // A transaction that read the outbox holds a lock that DETACH ... CONCURRENTLY waits for.
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM outbox_events');

      const blocked = await runCli(reapEnv({ OUTBOX_REAPER_LOCK_TIMEOUT_MS: '500' }), ['reap']);
      expect(blocked.code, blocked.output).toBe(1);
      expect(blocked.output).toContain(`detach partition ${name}`);
      expect(blocked.output).toContain('timed out after 500 ms (OUTBOX_REAPER_LOCK_TIMEOUT_MS)');
      expect(blocked.output).toContain('FINALIZE');
      const pending = (await db.sql.query(`SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = $1::regclass`, [name])).rows[0]?.inhdetachpending;
      expect(pending).toBe(true);
    } finally {
      await reader.query('COMMIT').catch(() => undefined);
      await reader.end();
    }

    const resumed = await runCli(reapEnv(), ['reap']);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toMatch(new RegExp(`finalize ${name} .*\\(5 rows`));
    expect(resumed.output).toContain(`drop ${name}`);
    expect(await tableExists(db.sql, name)).toBe(false);
  });

  it('prints the plan on a dry run and changes nothing', async () => {
    const name = await createPastDay(db.sql, -9, 2);
    const ahead = partitionOf(await dayFromToday(db.sql, 3));
    await db.sql.query(`DROP TABLE ${ahead}`);
    await readCommitted([`${slot}.order-events`], { expected: 5 * 20 + 3 + 5 + 2 });

    // A dry run waits for no acknowledgement, so whether it would detach depends on the slot's position at that moment.
    const { code, output } = await runCli(reapEnv(), ['reap', '--dry-run']);
    expect(code, output).toBe(0);
    expect(output).toContain(`would create ${ahead}`);
    expect(output).toMatch(new RegExp(`(would detach ${name}|would keep ${name})`));
    expect(await tableExists(db.sql, name)).toBe(true);
    expect(await tableExists(db.sql, ahead)).toBe(false);

    const real = await runCli(reapEnv(), ['reap']);
    expect(real.code, real.output).toBe(0);
    expect(await tableExists(db.sql, name)).toBe(false);
    expect(await tableExists(db.sql, ahead)).toBe(true);
  });

  it('refuses to act while a DEFAULT partition exists', async () => {
    const name = await createPastDay(db.sql, -10, 1);
    await db.sql.query(`CREATE TABLE outbox_events_default PARTITION OF outbox_events DEFAULT`);
    try {
      const before = await partitions(db.sql);
      const { code, output } = await runCli(reapEnv(), ['reap']);
      expect(code, output).toBe(1);
      expect(output).toContain('refused: outbox table public.outbox_events has a DEFAULT partition, outbox_events_default');
      expect(output).toContain('the reaper changed nothing');
      expect(await partitions(db.sql)).toEqual(before);
    } finally {
      await db.sql.query(`DROP TABLE outbox_events_default`);
    }
    await runCli(reapEnv(), ['reap']);
    expect(await tableExists(db.sql, name)).toBe(false);
  });

  it('refuses a partition with unexpected bounds', async () => {
    // A two-day partition under a day partition's name: dropping it would also drop a day that has not reached retention.
    const day = await dayFromToday(db.sql, -12);
    const twoDaysLater = await dayFromToday(db.sql, -10);
    await db.sql.query(`CREATE TABLE ${partitionOf(day)} PARTITION OF outbox_events FOR VALUES FROM ('${day} 00:00:00+00') TO ('${twoDaysLater} 00:00:00+00')`);
    await db.sql.query(`CREATE TABLE outbox_events_archive PARTITION OF outbox_events FOR VALUES FROM ('2001-01-01 00:00:00+00') TO ('2001-02-01 00:00:00+00')`);
    try {
      const { code, output } = await runCli(reapEnv(), ['reap']);
      expect(code, output).toBe(1);
      expect(output).toContain(`public.${partitionOf(day)}`);
      expect(output).toContain('its bounds are not the UTC day of its name');
      expect(output).toContain('public.outbox_events_archive');
      expect(output).toContain('its name does not match outbox_events_pYYYYMMDD');
      expect(await tableExists(db.sql, partitionOf(day))).toBe(true);
    } finally {
      await db.sql.query(`DROP TABLE ${partitionOf(day)}, outbox_events_archive`);
    }
  });

  it('skips a run while another holds the lock', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      const locked = (await holder.query(`SELECT pg_try_advisory_lock((x'72656170'::bigint << 32) | 'public.outbox_events'::regclass::oid::bigint) AS locked`)).rows[0].locked;
      expect(locked).toBe(true);
      const { code, output } = await runCli(reapEnv(), ['reap']);
      expect(code, output).toBe(1);
      expect(output).toContain('locked: another reaper run holds the advisory lock on public.outbox_events');
    } finally {
      await holder.end();
    }
  });

  it('rejects an unknown argument', async () => {
    const { code, output } = await runCli(reapEnv(), ['reap', '--dryrun']);
    expect(code).toBe(2);
    expect(output).toContain('unknown argument "--dryrun"');
  });

  it('rejects invalid settings, naming the variable', async () => {
    const { code, output } = await runCli(reapEnv({ OUTBOX_RETENTION_DAYS: '0', OUTBOX_REAPER_KEEP_DETACHED: 'maybe' }), ['reap']);
    expect(code).toBe(1);
    expect(output).toContain('OUTBOX_RETENTION_DAYS="0" is invalid');
    expect(output).toContain('OUTBOX_REAPER_KEEP_DETACHED="maybe" is invalid: expected true or false');
  });

  it('keeps partitions on a slot created after their rows', async () => {
    // A slot created now starts at the current WAL position, so its confirmed_flush_lsn can equal
    // the position the reaper checks although it never streamed the old rows.
    const lateSlot = uniqueName('reaper_late');
    await db.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [lateSlot]);
    try {
      const { code, output } = await runCli(reapEnv({ OUTBOX_SLOT: lateSlot, OUTBOX_RETENTION_DAYS: '1', OUTBOX_REAPER_ACK_TIMEOUT_MS: '1500' }), ['reap']);
      expect(code, output).toBe(0);
      expect(output).toMatch(/keep outbox_events_p\d{8} .*not acknowledged the reaper's logical message/);
      expect(output).not.toMatch(/^drop /m);
    } finally {
      await db.sql.query(`SELECT pg_drop_replication_slot($1)`, [lateSlot]);
    }
  });

  it('survives a connection lost while waiting for the slot', async () => {
    // The slot of this run is never consumed, so the run waits for an acknowledgement on an idle connection.
    const idleSlot = uniqueName('reaper_idle');
    await db.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [idleSlot]);
    const run = startRelay(reapEnv({ OUTBOX_SLOT: idleSlot, OUTBOX_RETENTION_DAYS: '1', OUTBOX_REAPER_ACK_TIMEOUT_MS: '30000' }), ['reap']);
    try {
      // The run writes its logical message right before it starts to wait; each poll reads the slot
      // and then current_database(), so the connection's last query is either of the two.
      await waitFor('the reaper to wait for the slot', async () => {
        const waiting = await db.sql.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'outbox-relay-reaper' AND datname = current_database()
              AND (query LIKE '%pg_replication_slots%' OR query LIKE '%current_database()%')`,
        );
        return waiting.rows.length > 0 ? true : undefined;
      }).catch((error: Error) => {
        throw new Error(`${error.message}; reap output:\n${run.output().slice(-3000)}`);
      });
      // Past the first slot read, the run is in its wait loop, polling every 200 ms for 30 s.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const terminated = await db.sql.query(`SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'outbox-relay-reaper' AND datname = current_database()`);
      expect(terminated.rows.length).toBe(1);

      expect(await run.exited).toBe(1);
      expect(run.output()).toContain('outbox-relay reap: failed:');
      expect(run.output()).not.toContain('Connection terminated unexpectedly\n    at');
    } finally {
      await run.kill();
      await db.sql.query(`SELECT pg_drop_replication_slot($1)`, [idleSlot]);
    }
  });

  it('runs inside the relay and exports its metrics', async () => {
    const ahead = partitionOf(await dayFromToday(db.sql, 3));
    await db.sql.query(`DROP TABLE ${ahead}`);
    const port = await freePort();
    const second = startRelay(relayEnv(db.url, uniqueName('reaper_in_relay'), { HTTP_PORT: String(port), OUTBOX_RETENTION_DAYS: String(RETENTION_DAYS) }));
    try {
      await second.waitForLog(/"msg":"reaper run finished"/);
      expect(second.output()).toContain(`"partition":"public.${ahead}"`);
      expect(await tableExists(db.sql, ahead)).toBe(true);

      expect(await metricValue(port, 'outbox_relay_reaper_runs_total', 'outcome="success"')).toBe(1);
      expect(await metricValue(port, 'outbox_relay_reaper_partitions_created_total')).toBe(1);
      const aheadSeconds = (await metricValue(port, 'outbox_relay_partition_ahead_seconds')) ?? 0;
      expect(aheadSeconds).toBeGreaterThan(3 * 86400);
      // The first test made partitions up to day +5, so the window ends at the start of day +6.
      expect(aheadSeconds).toBeLessThanOrEqual(6 * 86400);
      expect(await metricValue(port, 'outbox_relay_partitions')).toBe((await partitions(db.sql)).length);
      expect(await metricValue(port, 'outbox_relay_partition_oldest_age_seconds')).toBeGreaterThan(3 * 86400);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
