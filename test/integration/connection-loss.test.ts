import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, startRelay } from '../support/relay-process.js';
import { expectExactlyOnceInOrder } from '../support/expect-events.js';

// pg reports a connection that breaks while idle as an 'error' event; the relay's SQL connection
// had no listener for it, so a PostgreSQL restart ended the process instead of a retry.
describe('lost SQL connection', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('retries instead of crashing when the SQL backend is terminated', async () => {
    const slot = uniqueName('sqllost');
    const relay = startRelay(relayEnv(db.url, slot));
    await relay.waitForLog(/"state":"streaming"/);
    const first = await insertEvents(db.sql, [{ aggregateId: 'q', aggregateVersion: 1 }]);
    await readCommitted([`${slot}.order-events`], { expected: 1 });

    const terminated = await db.sql.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'outbox-relay' AND backend_type = 'client backend'`,
      [db.name],
    );
    expect(terminated.rowCount).toBeGreaterThan(0);
    await relay.waitForLog(/SQL connection lost; ending the attempt/);
    await relay.waitForLog(/"state":"retrying"/);

    const second = await insertEvents(db.sql, [{ aggregateId: 'q', aggregateVersion: 2 }]);
    const records = await readCommitted([`${slot}.order-events`], { expected: 2 });
    expect(relay.child.exitCode, 'relay still running').toBeNull();
    expect(await relay.stop()).toBe(0);
    expectExactlyOnceInOrder(records, [...first, ...second]);
  });
});
