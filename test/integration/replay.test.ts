import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type OutboxRow, type TestDatabase } from '../support/database.js';
import { readCommitted, type ConsumedRecord } from '../support/kafka.js';
import { expectExactlyOnceInOrder } from '../support/expect-events.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';

const AGGREGATES = [
  { type: 'order', id: 'o-1' },
  { type: 'order', id: 'o-2' },
  { type: 'order', id: 'o-3' },
  { type: 'customer', id: 'c-1' },
  { type: 'customer', id: 'c-2' },
];
const EVENT_TYPES = ['Created', 'Changed', 'Closed'];
const VERSIONS = 10;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Settings of a replay run against its own topics: `<prefix>.order-events`, `<prefix>.customer-events`. */
function replayEnv(db: TestDatabase, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...relayEnv(db.url, uniqueName('replay_slot'), { OUTBOX_TOPIC_TEMPLATE: `${prefix}.{aggregate_type}-events` }), LOG_LEVEL: 'warn', ...extra };
}

describe('replay', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    // 50 events: 5 aggregates × 10 versions, interleaved in time, with 3 event types. The rows
    // lie in the future so that they fall into partitions that migrate created.
    const rows: OutboxRow[] = [];
    for (let version = 1; version <= VERSIONS; version++) {
      AGGREGATES.forEach((aggregate, index) => {
        // o-1 version 5 carries the earliest created_at of all, as a writer whose transaction
        // started before version 4 committed would: replay must still put it after version 4.
        const offsetMs = aggregate.id === 'o-1' && version === 5 ? 500 : 10_000 + version * 5000 + index * 1000;
        rows.push({
          aggregateType: aggregate.type,
          aggregateId: aggregate.id,
          aggregateVersion: version,
          eventType: EVENT_TYPES[(version + index) % 3],
          eventData: `{"agg": "${aggregate.id}", "version": ${version}, "big": 123456789012345678901234567890, "price": 1.50}`,
          metadata: aggregate.id === 'c-2' && version === 1 ? '{"tenant": "t1", "replay": "from metadata"}' : '{"tenant": "t1"}',
          createdAt: new Date(Date.now() + 60_000 + offsetMs).toISOString().replace('Z', '123Z'),
        });
      });
    }
    await insertEvents(db.sql, rows);
  });

  afterAll(async () => {
    await db.close();
  });

  async function idsWhere(condition: string, params: unknown[] = []): Promise<string[]> {
    return (await db.sql.query(`SELECT id::text AS id FROM outbox_events WHERE ${condition}`, params)).rows.map((row) => row.id);
  }

  async function topicsOf(prefix: string, ids: string[]): Promise<string[]> {
    const result = await db.sql.query(`SELECT DISTINCT aggregate_type FROM outbox_events WHERE id = ANY($1::uuid[])`, [ids]);
    return result.rows.map((row) => `${prefix}.${row.aggregate_type}-events`);
  }

  /** Checks every header and value of replayed records against the table, and returns the replay id they share. */
  async function expectReplayedRecords(records: ConsumedRecord[]): Promise<string> {
    const rows = await db.sql.query(
      `SELECT id::text AS id, event_data::text AS event_data, aggregate_version::text AS version,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
       FROM outbox_events`,
    );
    const byId = new Map(rows.rows.map((row) => [row.id as string, row]));
    const replayIds = new Set(records.map((record) => record.headers['replay.id']));
    expect(replayIds.size, 'records of one run share one replay.id').toBe(1);

    for (const record of records) {
      const row = byId.get(record.headers.id!)!;
      expect(record.headers.replay).toBe('true');
      expect(record.headers['replay.id']).toMatch(UUID);
      expect(record.headers['replay.at']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(record.headers.commit_lsn, 'a replay has no commit LSN').toBeUndefined();
      expect(record.headers.created_at).toBe(row.created_at);
      expect(record.headers.aggregate_version).toBe(row.version);
      expect(record.headers.tenant).toBe('t1');
      expect(record.value.toString('utf8')).toBe(row.event_data);
    }
    return [...replayIds][0]!;
  }

  const selections: { name: string; args: (ids: { sortedByTime: string[]; sortedById: string[]; times: string[] }) => string[]; expected: (ids: { sortedByTime: string[]; sortedById: string[]; times: string[] }) => Promise<string[]> }[] = [
    {
      name: 'aggregate id',
      args: () => ['--aggregate-id', 'o-1'],
      expected: () => idsWhere(`aggregate_id = 'o-1'`),
    },
    {
      name: 'event type',
      args: () => ['--event-type', 'Closed'],
      expected: () => idsWhere(`event_type = 'Closed'`),
    },
    {
      name: 'time range',
      args: ({ times }) => ['--from', times[10]!, '--to', times[30]!],
      expected: ({ times }) => idsWhere(`created_at >= $1::timestamptz AND created_at < $2::timestamptz`, [times[10], times[30]]),
    },
    {
      name: 'id list',
      args: ({ sortedByTime }) => ['--id', `${sortedByTime[3]},${sortedByTime[17]}`, '--id', sortedByTime[41]!.toUpperCase()],
      expected: async ({ sortedByTime }) => [sortedByTime[3]!, sortedByTime[17]!, sortedByTime[41]!],
    },
    {
      name: 'id range',
      args: ({ sortedById }) => ['--from-id', sortedById[12]!, '--to-id', sortedById[27]!],
      expected: ({ sortedById }) => idsWhere(`id BETWEEN $1::uuid AND $2::uuid`, [sortedById[12], sortedById[27]]),
    },
    {
      name: 'combined filters',
      args: () => ['--aggregate-id', 'o-1', '--aggregate-id', 'c-1', '--event-type', 'Created', '--event-type', 'Changed'],
      expected: () => idsWhere(`aggregate_id IN ('o-1', 'c-1') AND event_type IN ('Created', 'Changed')`),
    },
  ];

  for (const selection of selections) {
    it(`selects by ${selection.name}`, async () => {
      const ids = {
        sortedByTime: (await db.sql.query(`SELECT id::text AS id FROM outbox_events ORDER BY created_at`)).rows.map((row) => row.id as string),
        sortedById: (await db.sql.query(`SELECT id::text AS id FROM outbox_events ORDER BY id`)).rows.map((row) => row.id as string),
        times: (await db.sql.query(`SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t FROM outbox_events ORDER BY created_at`)).rows.map((row) => row.t as string),
      };
      const expected = await selection.expected(ids);
      expect(expected.length, 'the selection picks some but not all events').toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(50);
      const prefix = uniqueName('replay');

      const result = await runCli(replayEnv(db, prefix), ['replay', ...selection.args(ids)]);

      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain(`replayed ${expected.length} of ${expected.length} events`);
      const records = await readCommitted(await topicsOf(prefix, expected), { expected: expected.length });
      expectExactlyOnceInOrder(records, expected);
      const replayId = await expectReplayedRecords(records);
      expect(result.output).toContain(`replay.id=${replayId}`);
    });
  }

  it('keeps version order when created_at goes backwards', async () => {
    const topic = `${uniqueName('replay')}.all`;

    const result = await runCli(replayEnv(db, 'unused', { OUTBOX_BATCH_MAX_EVENTS: '10' }), ['replay', '--all', '--topic', topic, '--progress-seconds', '0']);

    expect(result.code, result.output).toBe(0);
    const records = await readCommitted([topic], { expected: 50 });
    expectExactlyOnceInOrder(records, await idsWhere('TRUE'));
    const o1Versions = records.filter((record) => record.key === 'o-1').map((record) => Number(record.headers.aggregate_version));
    expect(o1Versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await expectReplayedRecords(records);
    const progress = result.output.split('\n').filter((line) => line.startsWith('replay: '));
    expect(progress).toHaveLength(5);
    expect(progress[0]).toMatch(/^replay: 10\/50 events \(20\.0%\), \d+ events\/s, ETA \d+s$/);
    expect(progress[4]).toMatch(/^replay: 50\/50 events \(100\.0%\), \d+ events\/s, ETA 0s$/);
  });

  it('moves a metadata key named replay aside', async () => {
    const prefix = uniqueName('replay');
    const [id] = await idsWhere(`aggregate_id = 'c-2' AND aggregate_version = 1`);

    const result = await runCli(replayEnv(db, prefix), ['replay', '--id', id!]);

    expect(result.code, result.output).toBe(0);
    const [record] = await readCommitted([`${prefix}.customer-events`], { expected: 1 });
    expect(record!.headers.replay).toBe('true');
    expect(record!.headers['metadata.replay']).toBe('from metadata');
  });

  it('prints the plan and publishes nothing in a dry run', async () => {
    const prefix = uniqueName('replay');
    const counts = await db.sql.query(`SELECT aggregate_type, count(*)::int AS n FROM outbox_events WHERE event_type = 'Changed' GROUP BY 1`);
    const total = counts.rows.reduce((sum, row) => sum + (row.n as number), 0);

    const result = await runCli(replayEnv(db, prefix), ['replay', '--event-type', 'Changed', '--dry-run']);

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`dry run: ${total} event(s) selected; nothing published`);
    for (const row of counts.rows) expect(result.output).toMatch(new RegExp(`  ${prefix}\\.${row.aggregate_type}-events +${row.n}\\n`));
    const topics = counts.rows.map((row) => `${prefix}.${row.aggregate_type}-events`);
    expect(await readCommitted(topics, { expected: 0, timeoutMs: 3000 })).toEqual([]);
  });

  it('reports an empty selection', async () => {
    const result = await runCli(replayEnv(db, uniqueName('replay')), ['replay', '--aggregate-id', 'no-such-aggregate']);

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('replay: no events match the selection; nothing published');
  });

  const usageErrors: { args: string[]; message: RegExp }[] = [
    { args: [], message: /no selection given; .* or pass --all/ },
    { args: ['--from', 'yesterday'], message: /--from "yesterday" is not an ISO 8601 timestamp with a time zone; use a date such as 2024-05-01/ },
    { args: ['--from', '2024-05-01T12:00:00'], message: /--from "2024-05-01T12:00:00" is not an ISO 8601 timestamp with a time zone/ },
    { args: ['--to', '2024-02-30'], message: /--to "2024-02-30" is not an ISO 8601 timestamp/ },
    { args: ['--from', '2024-05-02', '--to', '2024-05-01'], message: /--from 2024-05-02 is after --to 2024-05-01, so the range is empty; swap them/ },
    { args: ['--id', '1234'], message: /--id "1234" is not a UUID/ },
    { args: ['--from-id', 'ffffffff-0000-0000-0000-000000000000', '--to-id', '00000000-0000-0000-0000-000000000000'], message: /--from-id ffffffff-.* is above --to-id 0{8}-.*; swap them/ },
    { args: ['--all', '--topic', 'no spaces'], message: /--topic "no spaces" is not a legal Kafka topic name/ },
    { args: ['--all', '--aggregate-id', 'o-1'], message: /--all cannot be combined with a selection flag/ },
    { args: ['--all', '--progress-seconds', 'soon'], message: /--progress-seconds "soon" is not a number of 0 or more/ },
    { args: ['--aggregate'], message: /Unknown option '--aggregate'/ },
  ];

  it('rejects invalid flags with exit code 2', async () => {
    for (const { args, message } of usageErrors) {
      const result = await runCli(replayEnv(db, 'unused'), ['replay', ...args]);
      expect(result.code, `replay ${args.join(' ')}`).toBe(2);
      expect(result.output, `replay ${args.join(' ')}`).toMatch(message);
    }
  });

  it('runs beside the relay without fencing it', async () => {
    const slot = uniqueName('beside');
    const relay = startRelay(relayEnv(db.url, slot));
    await relay.waitForLog(/"state":"streaming"/);
    const topic = `${slot}.replayed`;

    const replay = await runCli({ ...relayEnv(db.url, slot), LOG_LEVEL: 'warn' }, ['replay', '--aggregate-id', 'o-2', '--topic', topic]);
    const [fresh] = await insertEvents(db.sql, [{ aggregateId: 'o-9', aggregateVersion: 1 }]);
    const published = await readCommitted([`${slot}.order-events`], { expected: 1 });
    const exitCode = await relay.stop();

    expect(replay.code, replay.output).toBe(0);
    expect(published.map((record) => record.headers.id)).toEqual([fresh]);
    expect(exitCode, relay.output().slice(-2000)).toBe(0);
    expect(relay.output()).not.toMatch(/fenced/);
    await db.sql.query(`DELETE FROM outbox_events WHERE id = $1`, [fresh]);
  });

  it('rejects events without a legal topic', async () => {
    const [bad] = await insertEvents(db.sql, [{ aggregateType: 'bad type', aggregateId: 'b-1', aggregateVersion: 1, createdAt: new Date(Date.now() + 60_000).toISOString() }]);
    const prefix = uniqueName('replay');

    const refused = await runCli(replayEnv(db, prefix), ['replay', '--aggregate-id', 'b-1']);
    const forced = await runCli(replayEnv(db, prefix), ['replay', '--aggregate-id', 'b-1', '--topic', `${prefix}.forced`]);

    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toMatch(/nothing replayed: some selected events route to no legal topic:\n  - 1 event\(s\) of aggregate_type "bad type", event_type "OrderPlaced": topic ".*bad type-events".*\nchoose a topic with --topic/);
    expect(forced.code, forced.output).toBe(0);
    const records = await readCommitted([`${prefix}.forced`], { expected: 1 });
    expect(records.map((record) => record.headers.id)).toEqual([bad]);
  });
});
