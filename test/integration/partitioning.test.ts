import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../support/database.js';
import { createTopic, readCommitted } from '../support/kafka.js';
import { relayEnv, startRelay } from '../support/relay-process.js';

const PARTITIONS = 6;

/** Kafka's Java DefaultPartitioner for a keyed record: murmur2 of the key bytes, made positive, modulo partitions. */
function javaPartition(key: Buffer, partitions: number): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ key.length;
  const whole = key.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = key.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = key.length & 3;
  if (rest === 3) h ^= key[whole + 2]! << 16;
  if (rest >= 2) h ^= key[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ key[whole]!, m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return (h & 0x7fffffff) % partitions;
}

// Regression: the relay once used librdkafka's default partitioner (CRC32), so an aggregate's
// events landed on a different partition than a Java producer would choose for the same key.
describe('partitioning', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('puts each aggregate on the partition the Java client chooses for its key', async () => {
    const slot = uniqueName('partitioning');
    const topic = `${slot}.order-events`;
    await createTopic(topic, PARTITIONS);
    const relay = startRelay(relayEnv(db.url, slot));
    await relay.waitForLog(/"state":"streaming"/);

    const aggregates = Array.from({ length: 40 }, (_, i) => `order-${i}-${'x'.repeat(i % 4)}`);
    await insertEvents(db.sql, aggregates.map((aggregateId) => ({ aggregateId, aggregateVersion: 1 })));
    const records = await readCommitted([topic], { expected: aggregates.length });
    expect(await relay.stop()).toBe(0);

    expect(records).toHaveLength(aggregates.length);
    const used = new Set<number>();
    for (const record of records) {
      expect(record.partition, `key ${record.key}`).toBe(javaPartition(Buffer.from(record.key), PARTITIONS));
      used.add(record.partition);
    }
    expect(used.size).toBeGreaterThan(1);
  });
});
