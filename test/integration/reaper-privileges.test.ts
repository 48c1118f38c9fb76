import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';

function asRole(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  return parsed.toString();
}

async function partitionsOf(sql: pg.Client): Promise<string[]> {
  return (await sql.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'outbox_events'::regclass`)).rows.map((r) => r.relname);
}

async function pastDayPartition(sql: pg.Client, offset: number): Promise<string> {
  const row = (await sql.query(`SELECT ((now() AT TIME ZONE 'UTC')::date + $1::int)::text AS first, ((now() AT TIME ZONE 'UTC')::date + $1::int + 1)::text AS next`, [offset])).rows[0];
  const name = `outbox_events_p${row.first.replaceAll('-', '')}`;
  await sql.query(`CREATE TABLE ${name} PARTITION OF outbox_events FOR VALUES FROM ('${row.first} 00:00:00+00') TO ('${row.next} 00:00:00+00')`);
  await sql.query(`INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id, created_at) VALUES ('OrderPlaced', 'order', 'p', 1, '{}', 'c', $1)`, [`${row.first} 12:00:00+00`]);
  return name;
}

// The documented least-privilege setup: a NOLOGIN role owns the outbox, the reaper logs in as a
// member of it with pg_read_all_stats, and the relay role gets nothing more.
describe('reaper privileges', () => {
  let db: TestDatabase;
  const owner = uniqueName('outbox_owner');
  const reaper = uniqueName('outbox_reaper');
  const slot = uniqueName('reaper_priv');

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql.query(`CREATE ROLE ${owner} NOLOGIN`);
    await db.sql.query(`CREATE ROLE ${reaper} LOGIN IN ROLE ${owner}`);
    await db.sql.query(`GRANT CREATE ON SCHEMA public TO ${owner}`);
  });

  afterAll(async () => {
    await db.close();
    const admin = new pg.Client({ connectionString: asRole(db.url, 'postgres').replace(db.name, 'postgres') });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${reaper}`);
    await admin.query(`DROP ROLE IF EXISTS ${owner}`);
    await admin.end();
  });

  it('rejects the relay role, naming the owner and the fix', async () => {
    const { code, output } = await runCli({ DATABASE_URL: asRole(db.url, 'outbox_relay'), OUTBOX_SLOT: slot }, ['reap']);
    expect(code).toBe(1);
    expect(output).toContain('refused: role outbox_relay may not create or detach partitions of public.outbox_events: PostgreSQL requires the rights of its owner, postgres');
    expect(output).toContain('REAPER_DATABASE_URL');
  });

  it('works as a member of the owning role with pg_read_all_stats', async () => {
    const relay = startRelay(relayEnv(db.url, slot, { OUTBOX_REAPER_INTERVAL_MS: '0' }));
    await relay.waitForLog(/"state":"streaming"/);
    const ownedByOwner = await pastDayPartition(db.sql, -6);
    const ownedBySuperuser = await pastDayPartition(db.sql, -5);
    await db.sql.query(`ALTER TABLE outbox_events OWNER TO ${owner}`);
    for (const name of await partitionsOf(db.sql)) if (name !== ownedBySuperuser) await db.sql.query(`ALTER TABLE ${name} OWNER TO ${owner}`);
    await db.sql.query(`DROP TABLE outbox_events_p${(await db.sql.query(`SELECT to_char((now() AT TIME ZONE 'UTC')::date + 3, 'YYYYMMDD') AS d`)).rows[0].d}`);
    await readCommitted([`${slot}.order-events`], { expected: 2 });

    // The relay role's URL stays in DATABASE_URL; REAPER_DATABASE_URL takes precedence for the reaper.
    const env = { DATABASE_URL: asRole(db.url, 'outbox_relay'), REAPER_DATABASE_URL: asRole(db.url, reaper), OUTBOX_SLOT: slot, OUTBOX_RETENTION_DAYS: '3' };
    const blind = await runCli(env, ['reap']);
    expect(blind.code, blind.output).toBe(0);
    expect(blind.output).toMatch(/^create outbox_events_p\d{8} /m);
    expect(blind.output).toContain(`keep ${ownedByOwner}`);
    expect(blind.output).toContain(`GRANT pg_read_all_stats TO ${reaper}`);

    await db.sql.query(`GRANT pg_read_all_stats TO ${reaper}`);
    const granted = await runCli(env, ['reap']);
    expect(await relay.stop()).toBe(0);

    expect(granted.code, granted.output).toBe(0);
    expect(granted.output).toContain(`drop ${ownedByOwner}`);
    expect(granted.output).toContain(`keep ${ownedBySuperuser}`);
    expect(granted.output).toContain('its owner is postgres');
    const remaining = await partitionsOf(db.sql);
    expect(remaining).not.toContain(ownedByOwner);
    expect(remaining).toContain(ownedBySuperuser);
  });
});
