import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../../support/database.js';
import { readCommitted } from '../../support/kafka.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { expectExactlyOnceInOrder } from '../../support/expect-events.js';
import { waitFor } from '../../support/witness.js';

// With messages enabled, pgoutput sends every application's logical messages. They carry no
// events and must neither stop the relay nor shift what a restart skips.
describe('logical messages from others, and heartbeats', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('ignores messages with unknown prefixes and delivers the events once across a kill', async () => {
    const slot = uniqueName('messages');
    const env = relayEnv(db.url, slot);
    const topic = `${slot}.order-events`;
    let relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);

    await db.sql.query('BEGIN');
    const ids = await insertEvents(db.sql, Array.from({ length: 5 }, (_, i) => ({ aggregateId: 'm', aggregateVersion: i + 1 })));
    await db.sql.query(`SELECT pg_logical_emit_message(true, 'other-app', 'x')`);
    await db.sql.query('COMMIT');
    await db.sql.query(`SELECT pg_logical_emit_message(false, 'other-app', 'outside a transaction')`);

    await readCommitted([topic], { expected: 5 });
    await relay.kill('SIGKILL');
    relay = startRelay(env);
    await relay.waitForLog(/"state":"streaming"/);
    await relay.waitForLog(/logical message ignored/);
    const records = await readCommitted([topic], { expected: 5, timeoutMs: 10_000 });
    expect(await relay.stop()).toBe(0);

    expectExactlyOnceInOrder(records, ids);
  });

  it('keeps lag low on an idle outbox with heartbeats', async () => {
    const slot = uniqueName('heartbeat');
    const relay = startRelay(relayEnv(db.url, slot, { OUTBOX_HEARTBEAT_INTERVAL_MS: '200', OUTBOX_SLOT_POLL_INTERVAL_MS: '200', OUTBOX_IDLE_ACK_INTERVAL_MS: '200', OUTBOX_IDLE_ACK_MIN_BYTES: '0' }));
    await relay.waitForLog(/"state":"streaming"/);
    const start = (await db.sql.query(`SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0].confirmed_flush_lsn;

    // Unpublished WAL only: the slot must still move with the heartbeats.
    await db.sql.query(`INSERT INTO noise (pad) SELECT repeat('n', 1000) FROM generate_series(1, 2000)`);
    const lag = await waitFor(
      'the slot to pass the noise',
      async () => {
        const row = (
          await db.sql.query(
            `SELECT confirmed_flush_lsn > $2::pg_lsn AS moved, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1`,
            [slot, start],
          )
        ).rows[0];
        return row.moved && Number(row.lag) < 64 * 1024 ? Number(row.lag) : undefined;
      },
      20_000,
    );
    expect(await relay.stop()).toBe(0);

    expect(lag).toBeLessThan(64 * 1024);
    expect(relay.output()).toMatch(/"prefix":"outbox-relay.heartbeat"/);
  });
});
