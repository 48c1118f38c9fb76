import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';

// JSON.parse rounds integers above 2^53 and a Date keeps milliseconds only. The relay must pass
// jsonb text through byte for byte and keep the instant and microseconds of created_at, whatever
// the server's TimeZone.
describe('values that lossy parsing breaks', () => {
  let db: TestDatabase;
  const slot = uniqueName('values');

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql.query(`ALTER DATABASE ${db.name} SET timezone = 'America/New_York'`);
    for (const day of ['2026-07-01', '1883-11-01']) {
      await db.sql.query(`CREATE TABLE outbox_events_p${day.replaceAll('-', '')} PARTITION OF outbox_events FOR VALUES FROM ('${day} 00:00:00+00') TO ('${day}'::date + 1)`);
    }
  });

  afterAll(async () => {
    await db.close();
  });

  it('keeps payload bytes and timestamp instants exactly', async () => {
    const relay = startRelay(relayEnv(db.url, slot));
    await relay.waitForLog(/"state":"streaming"/);

    const big = JSON.stringify({ blob: 'x'.repeat(300 * 1024) });
    await db.sql.query('BEGIN');
    const ids = await insertEvents(db.sql, [
      { aggregateId: 'v', aggregateVersion: 1, eventData: '{"n": 9007199254740993, "s": "é🚀\\u00e9", "d": 1.10}', createdAt: '2026-07-01 12:34:56.123456-04' },
      { aggregateId: 'v', aggregateVersion: 2, eventData: big, createdAt: '1883-11-01 12:00:00 America/New_York' },
    ]);
    await db.sql.query('COMMIT');

    const records = await readCommitted([`${slot}.order-events`], { expected: 2 });
    expect(await relay.stop()).toBe(0);

    const expected = await db.sql.query(
      `SELECT id::text, convert_to(event_data::text, 'UTF8') AS bytes,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
         FROM outbox_events WHERE id = ANY($1::uuid[]) ORDER BY aggregate_version`,
      [ids],
    );
    expect(records).toHaveLength(2);
    records.forEach((record, i) => {
      const row = expected.rows[i];
      expect(record.headers.id).toBe(row.id);
      expect(record.value.equals(row.bytes), `value of event ${i} is byte-for-byte the jsonb text`).toBe(true);
      expect(record.headers.created_at).toBe(row.created_at);
    });
    expect(records[0]!.value.toString()).toContain('9007199254740993');
    expect(records[0]!.value.toString()).toContain('é🚀é');
    expect(records[0]!.value.toString()).toContain('1.10');
    expect(records[0]!.headers.created_at).toBe('2026-07-01T16:34:56.123456Z');
    expect(records[1]!.headers.created_at).toBe('1883-11-01T16:56:02.000000Z');
  });
});
