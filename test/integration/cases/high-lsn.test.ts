import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertEvents, slotConfirmedFlush, uniqueName } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { OwnCluster } from '../../support/cluster.js';
import { WitnessSlot, waitFor } from '../../support/witness.js';
import { expectExactlyOnceInOrder } from '../../support/expect-events.js';
import { migrate } from '../../../src/schema/migrate.js';
import { parseLsn } from '../../../src/lsn.js';

// WAL positions above 2^53 round in a JavaScript number, and string order breaks once the high
// half gains a digit. The relay must acknowledge exactly the last commit's end LSN up there.
describe('LSNs above 2^53', () => {
  const cluster = new OwnCluster('pg-high-lsn');
  let url: string;
  let sql: pg.Client;

  beforeAll(() => {
    rmSync(cluster.dir, { recursive: true, force: true });
    cluster.start();
    cluster.stop();
    // 200000/1000000: segment 1 of WAL file 0x200000, far past 2^53 bytes.
    cluster.resetWal('000000010020000000000001');
    url = cluster.start();
  });

  afterAll(async () => {
    await sql?.end();
    cluster.stop();
  });

  it('relays 1,000 events across two restarts and acknowledges the exact end LSN', async () => {
    sql = new pg.Client({ connectionString: url });
    await sql.connect();
    const walPosition = parseLsn((await sql.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn);
    expect(walPosition).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));

    await migrate(sql, { table: { schema: 'public', name: 'outbox_events' }, publication: 'outbox_publication', relayRole: 'outbox_relay', daysAhead: 1 });
    const slot = uniqueName('highlsn');
    const witness = new WitnessSlot(sql, `${slot}_witness`);
    await witness.create();
    const env = relayEnv(url, slot);

    const ids: string[] = [];
    let version = 0;
    let relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);
    for (let size = 1, txn = 0; ids.length < 1000; size = (size + 2) % 37, txn++) {
      const count = Math.min(size, 1000 - ids.length);
      await sql.query('BEGIN');
      ids.push(...(await insertEvents(sql, Array.from({ length: count }, () => ({ aggregateId: `h${txn % 7}`, aggregateVersion: ++version })))));
      await sql.query('COMMIT');

      if (txn === 20) await relay.kill('SIGKILL');
      if (txn === 25 || txn === 45) {
        relay = startRelay(env);
        await relay.waitForLog(/"state":"streaming"/);
      }
      if (txn === 40) expect(await relay.stop()).toBe(0);
    }

    const lastEnd = await witness.lastCommitEndLsn();
    expect(parseLsn(lastEnd)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    await waitFor('the slot to reach the last commit end LSN', async () => ((await slotConfirmedFlush(sql, slot)) === lastEnd ? true : undefined));
    expect(await relay.stop()).toBe(0);

    expect(await slotConfirmedFlush(sql, slot)).toBe(lastEnd);
    const records = await readCommitted([`${slot}.order-events`], { expected: 1000 });
    expectExactlyOnceInOrder(records, ids);
    await witness.drop();
  });
});
