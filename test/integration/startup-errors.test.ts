import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';
import { expectExactlyOnceInOrder } from '../support/expect-events.js';

/** The line the CLI prints on stderr when it gives up, without the JSON log lines around it. */
function errorLine(output: string): string {
  const lines = output.split('\n').filter((line) => line.startsWith('outbox-relay: '));
  expect(lines, `one error line in:\n${output.slice(-2000)}`).toHaveLength(1);
  return lines[0]!;
}

describe('start-up errors', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  it('names DATABASE_URL when PostgreSQL is unreachable', async () => {
    const result = await runCli(relayEnv('postgres://postgres@127.0.0.1:1/app', uniqueName('err')), ['run']);

    expect(result.code).toBe(1);
    expect(errorLine(result.output)).toBe('outbox-relay: could not connect to PostgreSQL at 127.0.0.1:1/app as postgres: connect ECONNREFUSED 127.0.0.1:1; check DATABASE_URL');
  });

  it('lists every invalid variable at once', async () => {
    const result = await runCli({ DATABASE_URL: 'mysql://app', KAFKA_BROKERS: '', OUTBOX_BATCH_LINGER_MS: '-5' }, ['run']);

    expect(result.code).toBe(1);
    expect(result.output).toContain('invalid configuration (3 problems)');
    expect(result.output).toContain('DATABASE_URL="mysql://app" is invalid');
    expect(result.output).toContain('KAFKA_BROKERS is missing');
    expect(result.output).toContain('OUTBOX_BATCH_LINGER_MS="-5" is invalid');
  });

  it('names KAFKA_BROKERS when no broker answers, and creates no slot', async () => {
    const slot = uniqueName('err');
    const result = await runCli({ ...relayEnv(db.url, slot), KAFKA_BROKERS: '127.0.0.1:1' }, ['run']);

    expect(result.code).toBe(1);
    expect(errorLine(result.output)).toMatch(/^outbox-relay: could not reach Kafka at 127\.0\.0\.1:1 \(.+\); check KAFKA_BROKERS, TLS and SASL settings, and that the brokers are up$/);
    const slots = await db.sql.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    expect(slots.rowCount).toBe(0);
  });

  it('names the missing publication and the fix', async () => {
    const result = await runCli({ ...relayEnv(db.url, uniqueName('err')), OUTBOX_PUBLICATION: 'no_such_publication' }, ['run']);

    expect(result.code).toBe(1);
    expect(errorLine(result.output)).toBe(
      'outbox-relay: publication "no_such_publication" does not exist; run "outbox-relay migrate" or set OUTBOX_PUBLICATION to an existing publication',
    );
  });

  it('waits as a standby while another relay holds the slot, then takes over', async () => {
    const slot = uniqueName('standby');
    const env = relayEnv(db.url, slot);
    const topic = `${slot}.order-events`;
    const active = startRelay(env);
    await active.waitForLog(/"state":"streaming"/);

    const standby = startRelay(env);
    await standby.waitForLog(/replication slot \\"[a-z0-9_]+\\" is active for process \d+; another relay is streaming it, so this one waits as a standby/);
    const first = await insertEvents(db.sql, [{ aggregateId: 's', aggregateVersion: 1 }]);
    await readCommitted([topic], { expected: 1 });
    expect(active.output()).not.toMatch(/fenced/);
    expect(standby.output()).not.toMatch(/"state":"streaming"/);

    // Regression: a standby once wrote a warning on every poll of the slot.
    await standby.waitForLog(/still a standby; retrying/);
    const standbyWarnings = standby.output().split('\n').filter((line) => line.includes('"level":40') && line.includes('"code":"slot_active"'));
    expect(standbyWarnings).toHaveLength(1);

    await active.kill('SIGKILL');
    await standby.waitForLog(/"state":"streaming"/, 30_000);
    const second = await insertEvents(db.sql, [{ aggregateId: 's', aggregateVersion: 2 }]);

    const records = await readCommitted([topic], { expected: 2 });
    expect(await standby.stop()).toBe(0);
    expectExactlyOnceInOrder(records, [...first, ...second]);
  });
});
