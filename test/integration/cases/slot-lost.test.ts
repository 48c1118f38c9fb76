import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertEvents, uniqueName } from '../../support/database.js';
import { relayEnv, startRelay } from '../../support/relay-process.js';
import { OwnCluster } from '../../support/cluster.js';
import { freePort, metricValue } from '../../support/http.js';
import { migrate } from '../../../src/schema/migrate.js';

// With max_slot_wal_keep_size, PostgreSQL drops WAL a slot still needs and marks the slot lost.
// Streaming on would skip the events in the removed WAL without a trace.
describe('slot lost to max_slot_wal_keep_size', () => {
  const cluster = new OwnCluster('pg-lost-slot');
  let sql: pg.Client;
  let url: string;

  beforeAll(() => {
    rmSync(cluster.dir, { recursive: true, force: true });
    url = cluster.start('max_slot_wal_keep_size = 1MB\nwal_keep_size = 0\nmin_wal_size = 32MB');
  });

  afterAll(async () => {
    await sql?.end();
    cluster.stop();
  });

  it('refuses to stream, says how to recover and raises the metric', async () => {
    sql = new pg.Client({ connectionString: url });
    await sql.connect();
    await migrate(sql, { table: { schema: 'public', name: 'outbox_events' }, publication: 'outbox_publication', relayRole: 'outbox_relay', daysAhead: 1 });
    const slot = uniqueName('lost');
    await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);

    await insertEvents(sql, [{ aggregateId: 'l', aggregateVersion: 1 }]);
    await sql.query(`CREATE TABLE filler (pad text)`);
    for (let i = 0; i < 4; i++) {
      await sql.query(`INSERT INTO filler SELECT repeat('f', 1000) FROM generate_series(1, 20000)`);
      await sql.query('SELECT pg_switch_wal()');
      await sql.query('CHECKPOINT');
    }
    const status = (await sql.query(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1`, [slot])).rows[0].wal_status;
    expect(status).toBe('lost');

    const port = await freePort();
    const relay = startRelay(relayEnv(url, slot, { HTTP_PORT: String(port) }));
    await relay.waitForLog(/relay refuses to stream/);

    expect(relay.output()).toMatch(/replication slot \\"lost_[0-9a-f]+\\" is lost: PostgreSQL removed WAL it still needed \(max_slot_wal_keep_size\)/);
    expect(relay.output()).toMatch(/backfill them with \\"outbox-relay replay\\"/);
    expect(await metricValue(port, 'outbox_relay_slot_lost')).toBe(1);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    expect(await relay.stop()).toBe(0);
    const slots = await sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    expect(slots.rowCount, 'the relay never drops a slot by itself').toBe(1);
  });
});
