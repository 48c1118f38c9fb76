import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { freePort, metricValue } from '../../support/http.js';
import { scaled } from '../../support/broker.js';

const NOISE_SECONDS = scaled(45, 600);
const MIB = 1024 * 1024;

// An outbox that receives nothing in a database busy with other tables: a slot that is never
// acknowledged past its last event makes PostgreSQL keep every WAL segment written since.
describe('idle outbox in a busy database', () => {
  let db: TestDatabase;
  let noise: pg.Client;
  const slot = uniqueName('idle');

  beforeAll(async () => {
    db = await createTestDatabase();
    noise = new pg.Client({ connectionString: db.url });
    await noise.connect();
  });

  afterAll(async () => {
    await noise.end();
    await db.close();
  });

  it(`keeps the slot within 16 MB during ${NOISE_SECONDS} s of about 100 MB per minute of noise`, { timeout: (NOISE_SECONDS + 120) * 1000 }, async () => {
    const port = await freePort();
    const relay = startRelay(relayEnv(db.url, slot, { HTTP_PORT: String(port) }));
    await relay.waitForLog(/"state":"streaming"/);

    const lags: number[] = [];
    const retained: number[] = [];
    const metricGaps: number[] = [];
    const slotLag = async (name: string): Promise<number> =>
      Number((await db.sql.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`, [name])).rows[0].lag);
    for (let second = 0; second < NOISE_SECONDS; second++) {
      const started = Date.now();
      // About 1,700 rows of 1 kB a second is roughly 100 MB of WAL a minute.
      await noise.query(`INSERT INTO noise (pad) SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 1700)`);

      const row = (
        await db.sql.query(
          `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained
             FROM pg_replication_slots WHERE slot_name = $1`,
          [slot],
        )
      ).rows[0];
      lags.push(Number(row.lag));
      retained.push(Number(row.retained));
      if (second % 5 === 4) {
        // The relay may acknowledge between two reads, which only lowers the lag, so the metric
        // must lie between the SQL lag read before it and the one read after it.
        const sqlBefore = await slotLag(slot);
        const metric = (await metricValue(port, 'outbox_relay_lag_bytes')) ?? Infinity;
        const sqlAfter = await slotLag(slot);
        let gap = 0;
        if (metric > sqlBefore) gap = metric - sqlBefore;
        if (metric < sqlAfter) gap = sqlAfter - metric;
        metricGaps.push(gap);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - started))));
    }
    expect(await relay.stop()).toBe(0);

    const lastThird = lags.slice(Math.floor((lags.length * 2) / 3));
    expect(Math.max(...lastThird), `lag by second: ${lags.map((l) => (l / MIB).toFixed(1)).join(' ')} MiB`).toBeLessThan(16 * MIB);
    expect(Math.max(...retained.slice(Math.floor((retained.length * 2) / 3))), 'WAL retained by the slot').toBeLessThan(64 * MIB);
    expect(Math.max(...metricGaps), `metric minus SQL lag: ${metricGaps.join(', ')} bytes`).toBeLessThan(MIB);
    const records = await readCommitted([`${slot}.order-events`], { expected: 0, timeoutMs: 3000 });
    expect(records).toHaveLength(0);
  });
});
