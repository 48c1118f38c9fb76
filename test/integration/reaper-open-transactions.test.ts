import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { checkWriters, couldStillWrite } from '../../src/reaper/committed-in-kafka.js';
import { parseLsn } from '../../src/lsn.js';

// An open transaction can only be as old as the test, never older than a past day's upper
// bound, so the CLI tests cannot make one block a removal. This file checks the two halves
// instead: the reaper finds another session's transaction, and an old one would block.
describe('reaper open-transaction check', () => {
  let db: TestDatabase;
  let writer: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    writer = new pg.Client({ connectionString: db.url, application_name: 'open-writer' });
    await writer.connect();
  });

  afterAll(async () => {
    await writer.end();
    await db.close();
  });

  it('finds the oldest open transaction of another session', async () => {
    await writer.query('BEGIN');
    const started = (await writer.query(`SELECT now() AS now, pg_backend_pid() AS pid`)).rows[0];
    await writer.query(`INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id) VALUES ('OrderPlaced', 'order', 'open', 1, '{}', 'c')`);

    const before = (await db.sql.query(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0].lsn as string;
    const check = await checkWriters(db.sql);
    await writer.query('ROLLBACK');

    expect(check.oldestOpen?.pid).toBe(started.pid);
    expect(check.oldestOpen?.xactStart.getTime()).toBe((started.now as Date).getTime());
    expect(check.oldestOpen?.applicationName).toBe('open-writer');
    expect(check.oldestOpen?.backendXid).toMatch(/^\d+$/);
    expect(check.prepared).toEqual([]);
    // The WAL position is read after the transaction check, never before it.
    expect(check.walLsn >= parseLsn(before)).toBe(true);
  });

  it('reports no open transaction once the writer committed', async () => {
    await writer.query('BEGIN');
    await writer.query('SELECT 1');
    await writer.query('COMMIT');
    const check = await checkWriters(db.sql);
    expect(check.oldestOpen).toBeNull();
  });

  it('blocks a partition whose upper bound is after the transaction start', () => {
    const open = { pid: 1, xactStart: new Date('2024-01-01T23:59:59Z'), backendXid: null, user: 'app', applicationName: '', backendType: 'client backend' };
    expect(couldStillWrite(open, new Date('2024-01-02T00:00:00Z'))).toBe(true);
    expect(couldStillWrite(open, new Date('2024-01-01T00:00:00Z'))).toBe(false);
    expect(couldStillWrite(null, new Date('2024-01-02T00:00:00Z'))).toBe(false);
  });
});
