import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../support/database.js';
import { createTopic, readCommitted } from '../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';
import { WitnessSlot, waitFor } from '../support/witness.js';
import { freePort, metricValue } from '../support/http.js';
import { parseLsn } from '../../src/lsn.js';

const MIB = 1024 * 1024;

describe('bad events', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  // One event larger than its topic accepts used to fail the whole Kafka transaction, again and
  // again, with nothing acknowledged: the line stopped.
  it('dead-letters an event larger than the topic accepts and publishes its neighbours in order', async () => {
    const slot = uniqueName('toolarge');
    const topic = `${slot}.order-events`;
    const deadLetters = `${slot}.dead-letters`;
    await createTopic(topic, 3, { 'max.message.bytes': String(MIB) });
    const port = await freePort();
    const relay = startRelay(relayEnv(db.url, slot, { OUTBOX_DEAD_LETTER_TOPIC: deadLetters, OUTBOX_TOPIC_MAX_BYTES: `${topic}=${MIB}`, HTTP_PORT: String(port) }));
    await relay.waitForLog(/"state":"streaming"/);

    await db.sql.query('BEGIN');
    const before = await insertEvents(db.sql, [1, 2, 3, 4, 5].map((v) => ({ aggregateId: 'big', aggregateVersion: v })));
    const [large] = await insertEvents(db.sql, [{ aggregateId: 'big', aggregateVersion: 6, eventData: JSON.stringify({ blob: 'x'.repeat(2 * MIB) }) }]);
    const after = await insertEvents(db.sql, [7, 8, 9, 10, 11].map((v) => ({ aggregateId: 'big', aggregateVersion: v })));
    await db.sql.query('COMMIT');

    const published = await readCommitted([topic], { expected: 10 });
    const parked = await readCommitted([deadLetters], { expected: 1 });
    const lag = await waitFor('lag back near zero', async () => {
      const row = (await db.sql.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0];
      return Number(row.lag) < 64 * 1024 ? Number(row.lag) : undefined;
    });
    const deadLetterCount = await metricValue(port, 'outbox_relay_dead_letters_total', 'reason="too_large"');
    expect(await relay.stop()).toBe(0);

    expect(deadLetterCount).toBe(1);
    expect(published.map((r) => r.headers.id)).toEqual([...before, ...after]);
    expect(parked).toHaveLength(1);
    const letter = parked[0]!;
    expect(letter.key).toBe('big');
    expect(letter.headers['dlq.reason']).toBe('too_large');
    expect(letter.headers['dlq.outbox_id']).toBe(large);
    expect(letter.headers['dlq.original_topic']).toBe(topic);
    expect(letter.headers['dlq.commit_lsn']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(letter.headers['dlq.error']).toMatch(/exceeds the 1048576-byte limit of topic/);
    expect(Number(letter.headers['dlq.payload_bytes'])).toBeGreaterThan(2 * MIB);
    expect(letter.headers['dlq.payload_omitted']).toBe('true');
    expect(letter.headers.aggregate_version).toBe('6');
    expect(letter.value.length).toBe(0);
    expect(lag).toBeLessThan(64 * 1024);
  });

  it('dead-letters an unroutable event with the reason', async () => {
    const slot = uniqueName('unroutable');
    const deadLetters = `${slot}.dead-letters`;
    const relay = startRelay(relayEnv(db.url, slot, { OUTBOX_DEAD_LETTER_TOPIC: deadLetters }));
    await relay.waitForLog(/"state":"streaming"/);

    const good = await insertEvents(db.sql, [{ aggregateId: 'u', aggregateVersion: 1 }]);
    const [bad] = await insertEvents(db.sql, [{ aggregateId: 'u', aggregateVersion: 2, aggregateType: 'no spaces allowed' }]);
    const good2 = await insertEvents(db.sql, [{ aggregateId: 'u', aggregateVersion: 3 }]);

    const published = await readCommitted([`${slot}.order-events`], { expected: 2 });
    const parked = await readCommitted([deadLetters], { expected: 1 });
    expect(await relay.stop()).toBe(0);

    expect(published.map((r) => r.headers.id)).toEqual([...good, ...good2]);
    expect(parked.map((r) => r.headers['dlq.outbox_id'])).toEqual([bad]);
    expect(parked[0]!.headers['dlq.reason']).toBe('unroutable');
    expect(parked[0]!.headers['dlq.error']).toMatch(/topic "\S+\.no spaces allowed-events" .* is not a legal Kafka topic name/);
    expect(JSON.parse(parked[0]!.value.toString())).toEqual({ aggregate: 'u', version: 2 });
  });

  it('halts before acknowledging a bad event under the halt policy', async () => {
    const slot = uniqueName('halt');
    const witness = new WitnessSlot(db.sql, `${slot}_witness`);
    await witness.create();
    await db.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const good = await insertEvents(db.sql, [{ aggregateId: 'h', aggregateVersion: 1 }]);
    await insertEvents(db.sql, [{ aggregateId: 'h', aggregateVersion: 2, aggregateType: 'bad type' }]);

    const result = await runCli(relayEnv(db.url, slot, { OUTBOX_BAD_EVENT_POLICY: 'halt' }), ['run']);

    expect(result.code).toBe(1);
    expect(result.output).toMatch(/outbox-relay: outbox event [0-9a-f-]+ \(xid \d+, commit LSN [0-9A-F/]+\) cannot be published \(unroutable\)/);
    const [first, second] = await witness.commits();
    const acknowledged = parseLsn((await slotConfirmedFlush(db.sql, slot))!);
    expect(acknowledged).toBeGreaterThanOrEqual(first!.endLsn);
    expect(acknowledged).toBeLessThan(second!.endLsn);
    const records = await readCommitted([`${slot}.order-events`], { expected: 1, timeoutMs: 5000 });
    expect(records.map((r) => r.headers.id)).toEqual(good);
    await witness.drop();
  });
});
