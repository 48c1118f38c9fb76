import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, startRelay } from '../support/relay-process.js';
import { WitnessSlot, waitFor } from '../support/witness.js';
import { expectExactlyOnceInOrder } from '../support/expect-events.js';

interface Written {
  ids: string[];
  byId: Map<string, { aggregateId: string; aggregateType: string; version: number; eventType: string; eventData: string }>;
}

/** A deterministic sequence so that a failure can be replayed: 1 to 10 events per transaction. */
function* transactions(count: number, seed = 7): Generator<{ aggregateIndex: number; events: number; rollback: boolean }> {
  let state = seed;
  const next = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state;
  };
  for (let i = 0; i < count; i++) {
    yield { aggregateIndex: next() % 50, events: (next() % 10) + 1, rollback: i % 10 === 3 };
  }
}

describe('relay end to end', () => {
  let db: TestDatabase;
  const slot = uniqueName('e2e');
  const witness = () => new WitnessSlot(db.sql, `${slot}_witness`);

  beforeAll(async () => {
    db = await createTestDatabase();
    await witness().create();
  });

  afterAll(async () => {
    await witness().drop().catch(() => undefined);
    await db.close();
  });

  it('relays 200 transactions over 50 aggregates exactly once and in order across a restart', async () => {
    const env = relayEnv(db.url, slot);
    const versions = new Map<number, number>();
    const written: Written = { ids: [], byId: new Map() };

    let relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);

    let index = 0;
    for (const txn of transactions(200)) {
      if (index === 100) {
        // Stop midway and write the next transactions while no relay runs.
        expect(await relay.stop()).toBe(0);
      }
      if (index === 150) {
        relay = startRelay(env);
        await relay.waitForLog(/"state":"streaming"/);
      }
      index++;

      const aggregateId = `agg-${txn.aggregateIndex}`;
      const aggregateType = txn.aggregateIndex % 2 === 0 ? 'order' : 'payment';
      const firstVersion = (versions.get(txn.aggregateIndex) ?? 0) + 1;
      const rows = Array.from({ length: txn.events }, (_, i) => ({
        aggregateId,
        aggregateType,
        aggregateVersion: firstVersion + i,
        eventType: i === 0 ? 'Created' : 'Changed',
        eventData: JSON.stringify({ txn: index, i, amount: 10 + i }),
        metadata: JSON.stringify({ traceparent: `00-${index}-${i}`, tenant: 'acme' }),
      }));

      await db.sql.query('BEGIN');
      const ids = await insertEvents(db.sql, rows);
      await db.sql.query(txn.rollback ? 'ROLLBACK' : 'COMMIT');

      if (!txn.rollback) {
        versions.set(txn.aggregateIndex, firstVersion + txn.events - 1);
        ids.forEach((id, i) => {
          written.ids.push(id);
          written.byId.set(id, { aggregateId, aggregateType, version: rows[i]!.aggregateVersion, eventType: rows[i]!.eventType, eventData: rows[i]!.eventData });
        });
      }
    }

    const lastEnd = await witness().lastCommitEndLsn();
    await waitFor('the slot to reach the last commit end LSN', async () => ((await slotConfirmedFlush(db.sql, slot)) === lastEnd ? true : undefined));
    expect(await relay.stop()).toBe(0);

    const records = await readCommitted([`${slot}.order-events`, `${slot}.payment-events`], { expected: written.ids.length });
    expectExactlyOnceInOrder(records, written.ids);
    expect(await slotConfirmedFlush(db.sql, slot)).toBe(lastEnd);

    for (const record of records) {
      const expected = written.byId.get(record.headers.id!)!;
      expect(record.topic).toBe(`${slot}.${expected.aggregateType}-events`);
      expect(record.key).toBe(expected.aggregateId);
      expect(record.headers.aggregate_version).toBe(String(expected.version));
      expect(record.headers.event_type).toBe(expected.eventType);
      expect(record.headers.aggregate_type).toBe(expected.aggregateType);
      expect(record.headers.correlation_id).toBe(`corr-${expected.aggregateId}`);
      expect(record.headers.tenant).toBe('acme');
      expect(record.headers.traceparent).toMatch(/^00-\d+-\d+$/);
      expect(record.headers.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,6}Z$/);
      expect(record.headers.commit_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(JSON.parse(record.value.toString())).toEqual(JSON.parse(expected.eventData));
    }
  });
});
