import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../../support/database.js';
import { produceTombstone, readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { freePort, metricValue } from '../../support/http.js';

// A slot dropped and created anew starts at the current WAL position: the events written while it
// was missing are not in it. Streaming from it would lose them without a trace.
describe('slot dropped and recreated behind the relay', () => {
  let db: TestDatabase;
  const slot = uniqueName('recreated');

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('refuses to stream, names both LSNs and raises the metric', async () => {
    const port = await freePort();
    const env = relayEnv(db.url, slot, { HTTP_PORT: String(port), OUTBOX_REFUSAL_RECHECK_MS: '1000' });
    const topic = `${slot}.order-events`;

    const first = startRelay(env);
    await first.waitForLog(/"state":"streaming"/);
    await insertEvents(db.sql, [{ aggregateId: 'r', aggregateVersion: 1 }]);
    await readCommitted([topic], { expected: 1 });
    expect(await first.stop()).toBe(0);

    await db.sql.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await insertEvents(db.sql, Array.from({ length: 100 }, (_, i) => ({ aggregateId: 'r', aggregateVersion: i + 2 })));

    const second = startRelay(env);
    const message = await second.waitForLog(/replication slot \\"[a-z0-9_]+\\" starts at [0-9A-F]+\/[0-9A-F]+ but Kafka's checkpoint ends at [0-9A-F]+\/[0-9A-F]+(?:[^"\\]|\\.)*/);
    expect(message).toContain('outbox rows committed in between were never relayed');
    expect(message).toContain('outbox-relay replay');

    expect(await metricValue(port, 'outbox_relay_slot_ahead_of_checkpoint')).toBe(1);
    expect(await metricValue(port, 'outbox_relay_state', 'state="refusing"')).toBe(1);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()).reason).toMatch(/Kafka's checkpoint ends at/);

    // The operator backfills the gap elsewhere and accepts it by deleting the checkpoint.
    await produceTombstone(`${slot}.checkpoints`, slot);
    await second.waitForLog(/"state":"streaming"/);
    const [after] = await insertEvents(db.sql, [{ aggregateId: 'r', aggregateVersion: 102 }]);
    const records = await readCommitted([topic], { expected: 2 });
    expect(await second.stop()).toBe(0);

    expect(records.map((r) => r.headers.aggregate_version)).toEqual(['1', '102']);
    expect(records[1]!.headers.id).toBe(after);
  });
});
