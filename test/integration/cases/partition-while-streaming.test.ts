import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';

// A partition created after the relay started must need no restart: with
// publish_via_partition_root its rows arrive under the outbox's own name.
describe('partition created while streaming', () => {
  let db: TestDatabase;
  const slot = uniqueName('newpart');

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('publishes events on both sides of midnight in order without a restart', async () => {
    const relay = startRelay(relayEnv(db.url, slot));
    await relay.waitForLog(/"state":"streaming"/);

    const day = (await db.sql.query(`SELECT ((now() AT TIME ZONE 'UTC')::date + 20)::text AS day, ((now() AT TIME ZONE 'UTC')::date + 21)::text AS next`)).rows[0];
    for (const d of [day.day, day.next]) {
      const name = `outbox_events_p${d.replaceAll('-', '')}`;
      await db.sql.query(`CREATE TABLE ${name} PARTITION OF outbox_events FOR VALUES FROM ('${d} 00:00:00+00') TO ('${d}'::date + 1)`);
    }

    await db.sql.query('BEGIN');
    const ids = await insertEvents(db.sql, [
      { aggregateId: 'midnight', aggregateVersion: 1, createdAt: `${day.day} 23:59:59.999+00` },
      { aggregateId: 'midnight', aggregateVersion: 2, createdAt: `${day.next} 00:00:00.001+00` },
    ]);
    await db.sql.query('COMMIT');

    const records = await readCommitted([`${slot}.order-events`], { expected: 2 });
    expect(await relay.stop()).toBe(0);

    expect(records.map((r) => r.headers.id)).toEqual(ids);
    expect(records.map((r) => r.headers.created_at)).toEqual([`${day.day}T23:59:59.999000Z`, `${day.next}T00:00:00.001000Z`]);
  });
});
