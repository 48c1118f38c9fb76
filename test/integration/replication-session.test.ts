import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/database.js';
import { ReplicationSession } from '../../src/wal/replication-session.js';
import { decodePgOutput } from '../../src/decoder/pgoutput.js';

describe('replication session', () => {
  let db: TestDatabase;
  const slot = uniqueName('session');

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  });

  afterAll(async () => {
    await db.close();
  });

  // pg-protocol reuses its receive buffer: a queued message that was only a view into it came out
  // overwritten by later socket data once the consumer fell behind.
  it('keeps queued messages intact while the consumer lags', async () => {
    const rows = 20_000;
    await db.sql.query(
      `INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id)
       SELECT 'Bulk', 'order', 'a', g, jsonb_build_object('g', g, 'pad', repeat('x', 1000)), 'c' FROM generate_series(1, $1::int) AS g`,
      [rows],
    );
    const session = await ReplicationSession.connect(db.url, pino({ level: 'silent' }));
    session.start({ slot, publication: 'outbox_publication', startLsn: 0n, statusIntervalMs: 10_000 });

    let inserts = 0;
    let eventDataColumn = -1;
    try {
      for (;;) {
        const message = await session.next(10_000);
        if (message === 'timeout') throw new Error(`stream stalled after ${inserts} inserts`);
        if (message.tag !== 'XLogData') continue;

        const decoded = decodePgOutput(message.data);
        if (decoded.tag === 'Relation') eventDataColumn = decoded.columns.findIndex((c) => c.name === 'event_data');
        if (decoded.tag === 'Commit') break;
        if (decoded.tag !== 'Insert') continue;

        inserts++;
        const value = decoded.newTuple[eventDataColumn];
        expect(value?.kind === 'text' && JSON.parse(value.bytes.toString()).g, `insert ${inserts}`).toBe(inserts);
        // Fall behind now and then, so that the socket keeps delivering into the queue.
        if (inserts % 2000 === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await session.close();
    }

    expect(inserts).toBe(rows);
  });
});
