import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';

/** Maximum time an application insert may wait while the reaper attaches, detaches and drops partitions. */
const INSERT_WAIT_BOUND_MS = 500;
const WRITERS = 4;
const ROWS_PER_OLD_DAY = 5000;

interface InsertSample {
  startedAt: number;
  ms: number;
}

async function day(sql: pg.Client, offset: number): Promise<string> {
  return (await sql.query(`SELECT ((now() AT TIME ZONE 'UTC')::date + $1::int)::text AS day`, [offset])).rows[0].day;
}

/** Inserts one row per transaction, as an application does, until `stop` is set; records each insert's duration. */
async function writeUntil(url: string, stop: { done: boolean }, samples: InsertSample[], errors: string[]): Promise<void> {
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    let version = 1;
    const aggregate = uniqueName('load');
    while (!stop.done) {
      const startedAt = performance.now();
      try {
        await sql.query(`INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id) VALUES ('OrderPlaced', 'load', $1, $2, '{}', 'c')`, [aggregate, version++]);
      } catch (error) {
        errors.push(String(error));
      }
      samples.push({ startedAt, ms: performance.now() - startedAt });
    }
  } finally {
    await sql.end();
  }
}

/**
 * Holds ACCESS SHARE on the outbox, as a report query does, for `ms`. A statement that needs
 * ACCESS EXCLUSIVE (plain DETACH, CREATE TABLE ... PARTITION OF) would wait behind it, and every
 * insert would queue behind that statement: this is what makes the load test able to fail.
 */
async function holdReadLock(url: string, ms: number): Promise<void> {
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    await sql.query('BEGIN');
    await sql.query('SELECT count(*) FROM outbox_events');
    await sql.query('SELECT pg_sleep($1)', [ms / 1000]);
    await sql.query('COMMIT');
  } finally {
    await sql.end();
  }
}

describe('reaper under insert load', () => {
  let db: TestDatabase;
  const slot = uniqueName('reaper_load');

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it(`keeps every insert under ${INSERT_WAIT_BOUND_MS} ms while partitions come and go`, async () => {
    const relay = startRelay(relayEnv(db.url, slot, { OUTBOX_REAPER_INTERVAL_MS: '0' }));
    await relay.waitForLog(/"state":"streaming"/);

    const oldDays: string[] = [];
    for (const offset of [-10, -9, -8]) {
      const first = await day(db.sql, offset);
      const name = `outbox_events_p${first.replaceAll('-', '')}`;
      await db.sql.query(`CREATE TABLE ${name} PARTITION OF outbox_events FOR VALUES FROM ('${first} 00:00:00+00') TO ('${await day(db.sql, offset + 1)} 00:00:00+00')`);
      await db.sql.query(
        `INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id, created_at)
         SELECT 'OrderPlaced', 'order', 'old', n, '{}'::jsonb, 'c', $1::timestamptz + n * interval '1 second' FROM generate_series(1, $2::int) AS n`,
        [`${first} 01:00:00+00`, ROWS_PER_OLD_DAY],
      );
      oldDays.push(name);
    }
    // The reaper also attaches the partition of day +3 during the load.
    const ahead = `outbox_events_p${(await day(db.sql, 3)).replaceAll('-', '')}`;
    await db.sql.query(`DROP TABLE ${ahead}`);
    await readCommitted([`${slot}.order-events`], { expected: 3 * ROWS_PER_OLD_DAY, timeoutMs: 120_000 });

    const stop = { done: false };
    const samples: InsertSample[] = [];
    const errors: string[] = [];
    const writers = Array.from({ length: WRITERS }, () => writeUntil(db.url, stop, samples, errors));
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const reader = holdReadLock(db.url, 3000);
    const reapStarted = performance.now();
    const reap = await runCli({ DATABASE_URL: db.url, OUTBOX_SLOT: slot, OUTBOX_RETENTION_DAYS: '3', OUTBOX_REAPER_LOCK_TIMEOUT_MS: '10000', LOG_LEVEL: 'info' }, ['reap']);
    const reapEnded = performance.now();
    await reader;

    await new Promise((resolve) => setTimeout(resolve, 1000));
    stop.done = true;
    await Promise.all(writers);
    expect(await relay.stop()).toBe(0);

    expect(reap.code, reap.output).toBe(0);
    for (const name of oldDays) expect(reap.output).toMatch(new RegExp(`drop ${name} .*\\(${ROWS_PER_OLD_DAY} rows`));
    expect(reap.output).toContain(`create ${ahead}`);

    const during = samples.filter((s) => s.startedAt >= reapStarted && s.startedAt <= reapEnded);
    const longest = Math.max(...samples.map((s) => s.ms));
    const longestDuring = Math.max(...during.map((s) => s.ms));
    console.log(`reaper run ${Math.round(reapEnded - reapStarted)} ms; ${samples.length} inserts, ${during.length} during the run; longest insert ${longest.toFixed(1)} ms overall, ${longestDuring.toFixed(1)} ms during the run`);

    expect(errors).toEqual([]);
    expect(during.length).toBeGreaterThan(20);
    expect(longest).toBeLessThan(INSERT_WAIT_BOUND_MS);
    const committed = Number((await db.sql.query(`SELECT count(*) FROM outbox_events WHERE aggregate_type = 'load'`)).rows[0].count);
    expect(committed).toBe(samples.length);
  });
});
