import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../support/database.js';
import { createTopic, readCommitted } from '../support/kafka.js';
import { relayEnv, startRelay } from '../support/relay-process.js';
import { waitFor } from '../support/witness.js';

const KIB = 1024;

// One transaction with good events and one bad event of each kind the relay can detect on this
// schema. Every good event must arrive in order; each bad one must be parked with its reason.
describe('transaction mixing good and bad events', () => {
  let db: TestDatabase;
  let schemas: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    schemas = mkdtempSync(path.join(tmpdir(), 'outbox-mixed-'));
    const shipped = { type: 'record', name: 'Shipped', namespace: 'test.mixed', fields: [{ name: 'aggregate', type: 'string' }, { name: 'version', type: 'long' }] };
    writeFileSync(path.join(schemas, 'Shipped.avsc'), JSON.stringify(shipped));
  });

  afterAll(async () => {
    rmSync(schemas, { recursive: true, force: true });
    await db.close();
  });

  it('publishes the good events in order and dead-letters each bad one', async () => {
    const slot = uniqueName('mixed');
    const topic = `${slot}.order-events`;
    const deadLetters = `${slot}.dead-letters`;
    await createTopic(topic, 3, { 'max.message.bytes': String(64 * KIB) });
    const relay = startRelay(
      relayEnv(db.url, slot, {
        OUTBOX_DEAD_LETTER_TOPIC: deadLetters,
        OUTBOX_TOPIC_MAX_BYTES: `${topic}=${64 * KIB}`,
        OUTBOX_AVRO_SCHEMA_DIR: schemas,
        OUTBOX_SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'),
      }),
    );
    await relay.waitForLog(/"state":"streaming"/);

    await db.sql.query('BEGIN');
    const good1 = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 1 }]);
    const [tooLarge] = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 2, eventData: JSON.stringify({ pad: 'x'.repeat(100 * KIB) }) }]);
    const good2 = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 3 }]);
    const [unroutable] = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 4, aggregateType: 'not a topic' }]);
    const good3 = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 5, eventType: 'Shipped' }]);
    const [mismatch] = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 6, eventType: 'Shipped', eventData: JSON.stringify({ aggregate: 'm', version: 'six' }) }]);
    const good4 = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 7 }]);
    await db.sql.query('COMMIT');

    const published = await readCommitted([topic], { expected: 4 });
    const parked = await readCommitted([deadLetters], { expected: 3 });
    await waitFor('lag back near zero', async () => {
      const row = (await db.sql.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0];
      return Number(row.lag) < 64 * KIB ? true : undefined;
    });
    expect(await relay.stop()).toBe(0);

    expect(published.map((r) => r.headers.id)).toEqual([...good1, ...good2, ...good3, ...good4]);
    expect(published[2]!.value[0], 'the Shipped event is Avro in the Confluent wire format').toBe(0);
    const reasons = Object.fromEntries(parked.map((r) => [r.headers['dlq.outbox_id'], r.headers['dlq.reason']]));
    expect(reasons).toEqual({ [tooLarge!]: 'too_large', [unroutable!]: 'unroutable', [mismatch!]: 'schema_mismatch' });
    expect(parked.map((r) => r.headers.aggregate_version)).toEqual(['2', '4', '6']);
  });
});
