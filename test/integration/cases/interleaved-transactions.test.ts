import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';

// Row LSNs of concurrent transactions interleave; only commit LSNs rise. A relay that acknowledged
// or skipped by row LSN would lose A's first event after the restart.
describe('concurrent transactions whose row LSNs interleave', () => {
  let db: TestDatabase;
  let sessionA: pg.Client;
  const slot = uniqueName('interleave');

  beforeAll(async () => {
    db = await createTestDatabase();
    sessionA = new pg.Client({ connectionString: db.url });
    await sessionA.connect();
  });

  afterAll(async () => {
    await sessionA.end();
    await db.close();
  });

  it('publishes B then A after a kill between them, losing nothing', async () => {
    const env = relayEnv(db.url, slot);
    const topic = `${slot}.order-events`;
    let relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);

    await sessionA.query('BEGIN');
    const [a1] = await insertEvents(sessionA, [{ aggregateId: 'A', aggregateVersion: 1 }]);
    await db.sql.query('BEGIN');
    const bIds = await insertEvents(db.sql, [1, 2, 3].map((v) => ({ aggregateId: 'B', aggregateVersion: v })));
    await db.sql.query('COMMIT');

    const bInKafka = await readCommitted([topic], { expected: 3 });
    expect(bInKafka.map((r) => r.headers.id)).toEqual(bIds);
    await relay.kill('SIGKILL');

    const [a2] = await insertEvents(sessionA, [{ aggregateId: 'A', aggregateVersion: 2 }]);
    await sessionA.query('COMMIT');

    relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);
    const records = await readCommitted([topic], { expected: 5 });
    expect(await relay.stop()).toBe(0);

    expect(records.map((r) => r.headers.id)).toHaveLength(5);
    const a = records.filter((r) => r.key === 'A').map((r) => r.headers.id);
    const b = records.filter((r) => r.key === 'B').map((r) => r.headers.id);
    expect(b).toEqual(bIds);
    expect(a).toEqual([a1, a2]);
  });
});
