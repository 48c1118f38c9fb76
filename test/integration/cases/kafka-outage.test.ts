import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { freePort, metricValue } from '../../support/http.js';
import { scaled, startBroker, stopBroker } from '../../support/broker.js';
import { expectExactlyOnceInOrder } from '../../support/expect-events.js';

const OUTAGE_SECONDS = scaled(40, 300);

// While Kafka is away nothing may be acknowledged, and the operator must see the outage; once it
// is back every event arrives once and in order without anyone restarting the relay.
describe('Kafka unavailable', () => {
  let db: TestDatabase;
  const slot = uniqueName('outage');

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    startBroker();
    await db.close();
  });

  it(`keeps running through ${OUTAGE_SECONDS} s without a broker and delivers every event once`, { timeout: (OUTAGE_SECONDS + 180) * 1000 }, async () => {
    const port = await freePort();
    const topic = `${slot}.order-events`;
    const relay = startRelay(relayEnv(db.url, slot, { HTTP_PORT: String(port), KAFKA_TRANSACTION_TIMEOUT_MS: '20000' }));
    await relay.waitForLog(/"state":"streaming"/);
    const ids = await insertEvents(db.sql, [{ aggregateId: 'k', aggregateVersion: 1 }]);
    await readCommitted([topic], { expected: 1 });
    const acknowledgedBefore = await slotConfirmedFlush(db.sql, slot);

    stopBroker();
    let sawOutage = false;
    for (let second = 0; second < OUTAGE_SECONDS; second++) {
      ids.push(...(await insertEvents(db.sql, [{ aggregateId: 'k', aggregateVersion: second + 2 }])));
      await new Promise((resolve) => setTimeout(resolve, 1000));

      expect(await slotConfirmedFlush(db.sql, slot), `slot acknowledged during the outage, at second ${second}`).toBe(acknowledgedBefore);
      if (second > 20 && !sawOutage) {
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        sawOutage = ready.status === 503;
      }
    }
    expect(sawOutage, '/readyz reported the outage').toBe(true);
    expect(relay.child.exitCode, 'relay still running').toBeNull();

    startBroker();
    const backAt = Date.now();
    const records = await readCommitted([topic], { expected: ids.length, timeoutMs: 90_000 });
    const recoverySeconds = (Date.now() - backAt) / 1000;

    expectExactlyOnceInOrder(records, ids);
    expect(recoverySeconds).toBeLessThan(60);
    expect((await metricValue(port, 'outbox_relay_retries_total', 'code=')) ?? 0).toBeGreaterThan(0);
    expect(await relay.stop()).toBe(0);
  });
});
