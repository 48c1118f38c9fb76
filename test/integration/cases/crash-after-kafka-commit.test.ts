import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { WitnessSlot, waitFor } from '../../support/witness.js';
import { expectExactlyOnceInOrder } from '../../support/expect-events.js';
import { formatLsn, parseLsn } from '../../../src/lsn.js';

// Between the Kafka commit and the standby status update the slot still points before events that
// Kafka holds. Without the checkpoint a restart would publish them again.
describe('crash between the Kafka commit and the acknowledgement', () => {
  let db: TestDatabase;
  const slot = uniqueName('crashack');
  const witness = () => new WitnessSlot(db.sql, `${slot}_witness`);

  beforeAll(async () => {
    db = await createTestDatabase();
    await witness().create();
    await db.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  });

  afterAll(async () => {
    await witness().drop();
    await db.close();
  });

  it('delivers ten transactions of 100 events exactly once after the crash', async () => {
    const ids: string[] = [];
    for (let txn = 0; txn < 10; txn++) {
      await db.sql.query('BEGIN');
      ids.push(...(await insertEvents(db.sql, Array.from({ length: 100 }, (_, i) => ({ aggregateId: `t${txn % 3}`, aggregateVersion: txn * 100 + i + 1 })))));
      await db.sql.query('COMMIT');
    }
    const commits = await witness().commits();
    // 250 events per Kafka transaction: the second commit holds transactions 3 to 5, the last rows
    // of the fifth included, but can acknowledge only the end of the fourth.
    const env = relayEnv(db.url, slot, { OUTBOX_BATCH_MAX_EVENTS: '250', OUTBOX_BATCH_LINGER_MS: '60000' });

    const crashing = startRelay({ ...env, OUTBOX_RELAY_TEST_EXIT_AFTER_KAFKA_COMMITS: '2' });
    expect(await crashing.exited).toBe(86);
    const acknowledged = parseLsn((await slotConfirmedFlush(db.sql, slot))!);
    expect(acknowledged).toBeLessThan(commits[4]!.endLsn);

    const relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);
    const lastEnd = formatLsn(commits[9]!.endLsn);
    await waitFor('the slot to reach the last commit', async () => ((await slotConfirmedFlush(db.sql, slot)) === lastEnd ? true : undefined)).catch(async (error: Error) => {
      throw new Error(`${error.message}: slot at ${await slotConfirmedFlush(db.sql, slot)}, last commit ends at ${lastEnd}\n${relay.output().slice(-3000)}`);
    });
    expect(await relay.stop()).toBe(0);

    const records = await readCommitted([`${slot}.order-events`], { expected: 1000 });
    expect(records).toHaveLength(1000);
    expectExactlyOnceInOrder(records, ids);
  });
});
