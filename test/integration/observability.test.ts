import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, startRelay, type RelayProcess } from '../support/relay-process.js';
import { freePort } from '../support/http.js';
import { waitFor } from '../support/witness.js';
import { Scrape, terminateWalSender } from './observability-support.js';

interface Status {
  slot: string;
  state: string;
  ready: { status: string; reason: string | null };
  eventsPublished: number;
  deadLetters: number;
  lagBytes: number | null;
  lagSeconds: number | null;
  acknowledged: { lsn: string; at: string; commitTime: string | null } | null;
  slotStatus: { walStatus: string | null; retainedWalBytes: number | null; safeWalSizeBytes: number | null } | null;
  errors: { time: string; code: string; message: string }[];
  history: { t: number; lagBytes: number | null; eventsPublished: number }[];
}

// Metrics, health endpoints and /api/status of the real CLI against the shared PostgreSQL and Kafka.
describe('observability endpoints', () => {
  let db: TestDatabase;
  let relay: RelayProcess;
  let port: number;
  const slot = uniqueName('observed');
  const topic = `${slot}.order-events`;
  const get = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);
  const status = async (): Promise<Status> => (await (await get('/api/status')).json()) as Status;

  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    relay = startRelay(relayEnv(db.url, slot, { HTTP_PORT: String(port), OUTBOX_SLOT_POLL_INTERVAL_MS: '500' }));
    await relay.waitForLog(/"state":"streaming"/);
  });

  afterAll(async () => {
    await relay?.stop();
    await db.close();
  });

  it('health endpoints explain themselves', async () => {
    const alive = await get('/healthz');
    expect(alive.status).toBe(200);
    expect(await alive.json()).toMatchObject({ status: 'alive', state: 'streaming' });

    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', reason: null, checks: { streaming: true, fenced: false, refusing: false } });

    expect((await get('/nowhere')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('metrics follow Prometheus naming', async () => {
    const scrape = await Scrape.of(port);
    for (const name of ['outbox_relay_dead_letters_total', 'outbox_relay_acknowledged_lsn_info', 'outbox_relay_kafka_transaction_bytes', 'outbox_relay_acknowledged_commit_timestamp_seconds']) {
      expect(scrape.hasHelp(name), `HELP of ${name}`).toBe(true);
    }
    expect(scrape.lines('process_cpu_seconds_total'), 'unprefixed default process metrics').toHaveLength(1);
    expect(scrape.text).not.toContain('outbox_relay_process_');
    expect(scrape.labelWhereOne('outbox_relay_state', 'state')).toBe('streaming');
    // Regression: the dead-letter series once appeared only at their first increment, which
    // increase() cannot see, so the alert needed a second clause that fired on old dead letters.
    expect(scrape.lines('outbox_relay_dead_letters_total').sort()).toEqual(
      ['invalid_row', 'schema_mismatch', 'too_large', 'unroutable'].map((reason) => `outbox_relay_dead_letters_total{reason="${reason}"} 0`),
    );

    // The test cluster keeps WAL for slots without limit, so safe_wal_size is unknown and must be absent, not 0.
    const keep = (await db.sql.query('SHOW max_slot_wal_keep_size')).rows[0].max_slot_wal_keep_size;
    expect(keep).toBe('-1');
    await waitFor('a slot reading', async () => ((await Scrape.of(port)).value('outbox_relay_slot_retained_wal_bytes') !== undefined ? true : undefined), 10_000);
    expect((await Scrape.of(port)).lines('outbox_relay_slot_safe_wal_size_bytes')).toEqual([]);
  });

  it('acknowledged LSN and commit time match the slot', async () => {
    const before = Date.now();
    await db.sql.query('BEGIN');
    await insertEvents(db.sql, [{ aggregateId: 'o', aggregateVersion: 1 }, { aggregateId: 'o', aggregateVersion: 2, eventType: 'OrderShipped' }]);
    await db.sql.query('COMMIT');
    await insertEvents(db.sql, [{ aggregateId: 'o', aggregateVersion: 3 }]);
    const after = Date.now();
    await readCommitted([topic], { expected: 3 });

    // The relay acknowledges right after the Kafka commit; the slot shows it after the next status update.
    const lsn = await waitFor('metrics and slot to agree on the acknowledged LSN', async () => {
      const scrape = await Scrape.of(port);
      const metricLsn = scrape.labelWhereOne('outbox_relay_acknowledged_lsn_info', 'lsn');
      const slotLsn = await slotConfirmedFlush(db.sql, slot);
      return scrape.sum('outbox_relay_events_published_total') === 3 && metricLsn === slotLsn ? metricLsn : undefined;
    }, 20_000);

    const scrape = await Scrape.of(port);
    expect(scrape.value('outbox_relay_events_published_total', 'event_type="OrderShipped"')).toBe(1);
    expect(scrape.value('outbox_relay_events_published_total', 'event_type="OrderPlaced"')).toBe(2);
    const commitSeconds = scrape.value('outbox_relay_acknowledged_commit_timestamp_seconds')!;
    expect(commitSeconds * 1000).toBeGreaterThanOrEqual(before - 1000);
    expect(commitSeconds * 1000).toBeLessThanOrEqual(after + 1000);
    expect(scrape.value('outbox_relay_acknowledged_lsn_bytes')).toBeGreaterThan(0);

    const body = await status();
    expect(body.slot).toBe(slot);
    expect(body.state).toBe('streaming');
    expect(body.acknowledged?.lsn).toBe(lsn);
    expect(Math.abs(Date.parse(body.acknowledged!.commitTime!) - commitSeconds * 1000)).toBeLessThan(1);
    expect(body.eventsPublished).toBe(3);
    expect(body.deadLetters).toBe(0);
    expect(body.lagSeconds).toBe(0);
    expect(body.slotStatus?.walStatus).toBe('reserved');
    expect(body.history.length).toBeGreaterThan(0);
    // History is sampled once a second, so the newest sample may predate the last commit.
    const sampled = await waitFor('a history sample with all three events', async () => ((await status()).history.at(-1)!.eventsPublished === 3 ? true : undefined), 5000);
    expect(sampled).toBe(true);
  });

  it('records a lost replication connection', async () => {
    expect((await status()).errors).toEqual([]);
    await terminateWalSender(db.sql, slot);

    const body = await waitFor('an error on /api/status and streaming again', async () => {
      const current = await status();
      return current.errors.length > 0 && current.state === 'streaming' ? current : undefined;
    }, 30_000);
    const recorded = body.errors[0]!;
    expect(recorded.code).toMatch(/^replication_/);
    expect(recorded.message.length).toBeGreaterThan(0);
    expect(Math.abs(Date.parse(recorded.time) - Date.now())).toBeLessThan(30_000);

    const scrape = await Scrape.of(port);
    expect(scrape.value('outbox_relay_errors_total', `code="${recorded.code}"`)).toBe(1);
    expect(scrape.value('outbox_relay_retries_total', `code="${recorded.code}"`)).toBe(1);

    // The relay still works after the reconnect.
    await insertEvents(db.sql, [{ aggregateId: 'o', aggregateVersion: 4 }]);
    expect(await readCommitted([topic], { expected: 4 })).toHaveLength(4);
  });
});
