import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../../support/relay-process.js';
import { WitnessSlot } from '../../support/witness.js';
import { parseLsn } from '../../../src/lsn.js';

// Without publish_via_partition_root, rows arrive under each partition's own name. The relay must
// refuse, naming the option, and never acknowledge past a row it did not publish.
describe('publication without publish_via_partition_root', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('refuses to start and names the option', async () => {
    const slot = uniqueName('viaroot');
    await db.sql.query('DROP PUBLICATION outbox_publication');
    await db.sql.query(`CREATE PUBLICATION outbox_publication FOR TABLE outbox_events WITH (publish = 'insert')`);
    await insertEvents(db.sql, Array.from({ length: 10 }, (_, i) => ({ aggregateId: 'x', aggregateVersion: i + 1 })));

    const result = await runCli(relayEnv(db.url, slot), ['run']);

    expect(result.code).toBe(1);
    expect(result.output).toMatch(/outbox-relay: publication "outbox_publication" lacks publish_via_partition_root; run ALTER PUBLICATION outbox_publication SET \(publish_via_partition_root = true\)/);
    expect(await slotConfirmedFlush(db.sql, slot)).toBeNull();
    await db.sql.query('ALTER PUBLICATION outbox_publication SET (publish_via_partition_root = true)');
  });

  it('stops without acknowledging when the option is turned off while streaming', async () => {
    const slot = uniqueName('viaroot');
    const witness = new WitnessSlot(db.sql, `${slot}_witness`);
    await witness.create();
    const env = relayEnv(db.url, slot);
    const relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);

    const [good] = await insertEvents(db.sql, [{ aggregateId: 'y', aggregateVersion: 1 }]);
    await readCommitted([`${slot}.order-events`], { expected: 1 });
    const before = await slotConfirmedFlush(db.sql, slot);

    await db.sql.query('ALTER PUBLICATION outbox_publication SET (publish_via_partition_root = false)');
    await insertEvents(db.sql, [{ aggregateId: 'y', aggregateVersion: 2 }]);
    const code = await relay.exited;

    expect(code).toBe(1);
    expect(relay.output()).toMatch(/the publication sent an insert into public\.outbox_events_p\d{8}, which is not the outbox public\.outbox_events; if it is a partition, set publish_via_partition_root = true/);
    const commits = await witness.commits();
    const filteredCommitEnd = commits.at(-1)!.endLsn;
    const after = await slotConfirmedFlush(db.sql, slot);
    expect(parseLsn(after!)).toBeLessThan(filteredCommitEnd);
    expect(parseLsn(after!)).toBeGreaterThanOrEqual(parseLsn(before!));
    const records = await readCommitted([`${slot}.order-events`], { expected: 1, timeoutMs: 5000 });
    expect(records.map((r) => r.headers.id)).toEqual([good]);

    await db.sql.query('ALTER PUBLICATION outbox_publication SET (publish_via_partition_root = true)');
    await witness.drop();
  });
});
