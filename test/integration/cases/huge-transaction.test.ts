import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { WitnessSlot, waitFor } from '../../support/witness.js';
import { expectExactlyOnceInOrder } from '../../support/expect-events.js';
import { watchResidentMemory } from '../../support/memory.js';
import { scaled } from '../../support/broker.js';
import { formatLsn, parseLsn } from '../../../src/lsn.js';

const ROWS = scaled(100_000, 1_000_000);
const MIB = 1024 * 1024;

// A transaction too large to hold must be relayed in chunks, and its commit acknowledged only
// after the last chunk is in Kafka; a crash in the middle must resume after the chunks done.
describe('one huge transaction', () => {
  let db: TestDatabase;
  const slot = uniqueName('huge');
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

  it(`relays ${ROWS} rows of 1 kB in bounded memory across a kill`, { timeout: scaled(600, 3600) * 1000 }, async () => {
    await db.sql.query(
      `INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id)
       SELECT 'Bulk', 'order', 'big-' || (g % 100), g, jsonb_build_object('g', g, 'pad', repeat('x', 1000)), 'bulk'
         FROM generate_series(1, $1::int) AS g`,
      [ROWS],
    );
    const tail = await insertEvents(db.sql, [{ aggregateId: 'after', aggregateVersion: 1 }]);
    const [big, small] = await witness().commits();
    const env = relayEnv(db.url, slot, { NODE_OPTIONS: '--max-old-space-size=512', LOG_LEVEL: 'info', OUTBOX_BATCH_MAX_EVENTS: '5000' });
    const topic = `${slot}.order-events`;

    const first = startRelay(env);
    const firstMemory = watchResidentMemory(first.child.pid!);
    await waitFor('a third of the big transaction in Kafka', async () => (first.output().includes('"state":"streaming"') && rowsDone(first.output()) >= ROWS / 3 ? true : undefined), 300_000);
    await first.kill('SIGKILL');
    const firstPeak = firstMemory.stop();
    expect(parseLsn((await slotConfirmedFlush(db.sql, slot))!), 'slot acknowledged the big commit before its last chunk').toBeLessThan(big!.endLsn);

    const second = startRelay(env);
    const secondMemory = watchResidentMemory(second.child.pid!);
    await waitFor('the slot to reach the last commit', async () => ((await slotConfirmedFlush(db.sql, slot)) === formatLsn(small!.endLsn) ? true : undefined), scaled(300, 3000) * 1000);
    expect(await second.stop()).toBe(0);
    const secondPeak = secondMemory.stop();

    const ids = (await db.sql.query(`SELECT id::text FROM outbox_events WHERE event_type = 'Bulk' ORDER BY aggregate_version`)).rows.map((r) => r.id as string);
    const records = await readCommitted([topic], { expected: ROWS + 1, keepValues: false, timeoutMs: 600_000 });
    expectExactlyOnceInOrder(records, [...ids, ...tail]);
    expect(Math.max(firstPeak, secondPeak), `peak resident memory ${(firstPeak / MIB).toFixed(0)} and ${(secondPeak / MIB).toFixed(0)} MiB`).toBeLessThan(768 * MIB);
    console.log(`huge transaction: ${ROWS} rows, peak RSS ${(firstPeak / MIB).toFixed(0)} MiB before the kill, ${(secondPeak / MIB).toFixed(0)} MiB after`);
  });
});

/** Rows of the open transaction already in Kafka, from the relay's progress log. */
function rowsDone(output: string): number {
  const counts = [...output.matchAll(/"rowsDone":(\d+)/g)].map((match) => Number(match[1]));
  return counts.length === 0 ? 0 : Math.max(...counts);
}
