import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, insertEvents, uniqueName, type TestDatabase } from '../support/database.js';
import { createTopic, readCommitted, type ConsumedRecord } from '../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';

const MIB = 1024 * 1024;

describe('dlq list and redrive', () => {
  let db: TestDatabase;
  let slot: string;
  let topic: string;
  let deadLetterTopic: string;
  let good: string;
  let large: string;
  let unroutable: string;
  let letters: ConsumedRecord[];

  /** Settings of the dlq commands: the relay's, with LOG_LEVEL left to the command's default. */
  function dlqEnv(extra: Record<string, string> = {}): Record<string, string> {
    const env = relayEnv(db.url, slot, { OUTBOX_DEAD_LETTER_TOPIC: deadLetterTopic, OUTBOX_TOPIC_MAX_BYTES: `${topic}=${MIB}`, ...extra });
    delete env.LOG_LEVEL;
    return env;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    slot = uniqueName('dlq');
    topic = `${slot}.order-events`;
    deadLetterTopic = `${slot}.dead-letters`;
    // The topic accepts 4 MiB, but the relay is configured for 1 MiB, so raising OUTBOX_TOPIC_MAX_BYTES later is the fix.
    await createTopic(topic, 1, { 'max.message.bytes': String(4 * MIB) });
    const relay = startRelay(relayEnv(db.url, slot, { OUTBOX_DEAD_LETTER_TOPIC: deadLetterTopic, OUTBOX_TOPIC_MAX_BYTES: `${topic}=${MIB}` }));
    await relay.waitForLog(/"state":"streaming"/);

    good = (await insertEvents(db.sql, [{ aggregateId: 'big', aggregateVersion: 1 }]))[0]!;
    large = (await insertEvents(db.sql, [{ aggregateId: 'big', aggregateVersion: 2, eventData: JSON.stringify({ blob: 'x'.repeat(2 * MIB), n: 1 }).replace('1}', '12345678901234567890123}') }]))[0]!;
    unroutable = (await insertEvents(db.sql, [{ aggregateId: 'u', aggregateVersion: 1, aggregateType: 'bad type' }]))[0]!;

    letters = await readCommitted([deadLetterTopic], { expected: 2 });
    await readCommitted([topic], { expected: 1 });
    expect(await relay.stop()).toBe(0);
  });

  afterAll(async () => {
    await db.close();
  });

  it('lists dead letters with their reasons', async () => {
    const result = await runCli(dlqEnv(), ['dlq', 'list']);

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`dead-letter topic ${deadLetterTopic}: 2 dead letter(s)`);
    const tooLargeOffset = letters.find((letter) => letter.headers['dlq.reason'] === 'too_large')!.offset;
    expect(result.output).toMatch(new RegExp(`^0/${tooLargeOffset} \\d{4}-\\d{2}-\\d{2}T\\S+Z too_large pending outbox_id=${large} aggregate=order/big@2 event_type=OrderPlaced original_topic=${topic.replace(/\./g, '\\.')} error=".*exceeds the 1048576-byte limit`, 'm'));
    expect(result.output).toMatch(new RegExp(`unroutable pending outbox_id=${unroutable} aggregate=bad type/u@1 event_type=OrderPlaced original_topic=\\(none\\) error=".*is not a legal Kafka topic name`));
    expect(result.output).toContain('summary by reason:\n  too_large: 1 (0 redriven, 1 pending)\n  unroutable: 1 (0 redriven, 1 pending)');
  });

  it('lists dead letters as JSON', async () => {
    const result = await runCli(dlqEnv(), ['dlq', 'list', '--json', '--reason', 'too_large']);

    expect(result.code, result.output).toBe(0);
    const listing = JSON.parse(result.output);
    expect(listing.topic).toBe(deadLetterTopic);
    expect(listing.deadLetters).toHaveLength(1);
    expect(listing.deadLetters[0]).toMatchObject({ reason: 'too_large', outboxId: large, aggregateId: 'big', aggregateVersion: '2', originalTopic: topic, payloadOmitted: true, redriven: false });
    expect(listing.deadLetters[0].payloadBytes).toBeGreaterThan(2 * MIB);
    expect(listing.summary).toEqual({ too_large: { total: 1, redriven: 0 } });
  });

  it('reports a missing dead-letter topic', async () => {
    const result = await runCli(dlqEnv({ OUTBOX_DEAD_LETTER_TOPIC: `${slot}.never-created` }), ['dlq', 'list']);

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain(`dead-letter topic ${slot}.never-created does not exist: no dead letters`);
  });

  it('redrives an unroutable event to a chosen topic once', async () => {
    const repaired = `${slot}.repaired`;

    const unfixed = await runCli(dlqEnv(), ['dlq', 'redrive', '--reason', 'unroutable']);
    const first = await runCli(dlqEnv(), ['dlq', 'redrive', '--reason', 'unroutable', '--topic', repaired]);
    const second = await runCli(dlqEnv(), ['dlq', 'redrive', '--reason', 'unroutable', '--topic', repaired]);

    expect(unfixed.code, unfixed.output).toBe(1);
    expect(unfixed.output).toMatch(new RegExp(`still failing: ${deadLetterTopic.replace(/\./g, '\\.')}/0/\\d+ outbox_id=${unroutable} reason=unroutable: topic ".*" .* is not a legal Kafka topic name.*, or redrive it with --topic`));
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain(`1 redriven, 0 still failing`);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toContain('0 redriven, 0 still failing (left in the dead-letter topic), 1 redriven earlier');

    const records = await readCommitted([repaired], { expected: 1 });
    expect(records.map((record) => record.headers.id)).toEqual([unroutable]);
    const record = records[0]!;
    const letter = letters.find((candidate) => candidate.headers['dlq.outbox_id'] === unroutable)!;
    expect(record.headers.redriven).toBe('true');
    expect(record.headers['redrive.dead_letter']).toBe(`${deadLetterTopic}/0/${letter.offset}`);
    expect(record.headers.commit_lsn).toBe(letter.headers['dlq.commit_lsn']);
    expect(record.headers.aggregate_type).toBe('bad type');
    expect(record.key).toBe('u');
    const row = (await db.sql.query(`SELECT event_data::text AS data FROM outbox_events WHERE id = $1`, [unroutable])).rows[0];
    expect(record.value.toString('utf8')).toBe(row.data);
  });

  it('redrives a too large event once after the limit is raised', async () => {
    const raised = { OUTBOX_TOPIC_MAX_BYTES: `${topic}=${4 * MIB}` };

    const unfixed = await runCli(dlqEnv(), ['dlq', 'redrive', '--reason', 'too_large', '--original-topic']);
    const dryRun = await runCli(dlqEnv(raised), ['dlq', 'redrive', '--reason', 'too_large', '--original-topic', '--dry-run']);
    const first = await runCli(dlqEnv(raised), ['dlq', 'redrive', '--reason', 'too_large', '--original-topic']);
    const second = await runCli(dlqEnv(raised), ['dlq', 'redrive']);

    expect(unfixed.code, unfixed.output).toBe(1);
    expect(unfixed.output).toMatch(new RegExp(`still failing: .* outbox_id=${large} reason=too_large: record of \\d+ bytes exceeds the 1048576-byte limit`));
    expect(dryRun.code, dryRun.output).toBe(0);
    expect(dryRun.output).toContain(`would redrive: ${deadLetterTopic}/0/`);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(new RegExp(`redriven: .* outbox_id=${large} reason=too_large -> ${topic.replace(/\./g, '\\.')}\\n`));
    expect(second.code, second.output).toBe(0);
    expect(second.output).toContain('0 redriven, 0 still failing (left in the dead-letter topic), 2 redriven earlier');

    const records = await readCommitted([topic], { expected: 2 });
    expect(records.map((record) => record.headers.id)).toEqual([good, large]);
    const row = (await db.sql.query(`SELECT event_data::text AS data FROM outbox_events WHERE id = $1`, [large])).rows[0];
    expect(records[1]!.value.toString('utf8')).toBe(row.data);
    expect(records[1]!.headers.redriven).toBe('true');
    expect(records[1]!.headers.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });

  it('lists redriven dead letters as redriven', async () => {
    const result = await runCli(dlqEnv(), ['dlq', 'list']);

    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('  too_large: 1 (1 redriven, 0 pending)\n  unroutable: 1 (1 redriven, 0 pending)');
  });

  const usageErrors: { args: string[]; message: RegExp }[] = [
    { args: ['dlq'], message: /usage: outbox-relay dlq <list\|redrive>/ },
    { args: ['dlq', 'purge'], message: /unknown subcommand "purge"; use list or redrive/ },
    { args: ['dlq', 'list', '--reason', 'too-large'], message: /--reason "too-large" is not a dead-letter reason; use one of too_large, unroutable, invalid_row, schema_mismatch/ },
    { args: ['dlq', 'redrive', '--outbox-id', '42'], message: /--outbox-id "42" is not a UUID/ },
    { args: ['dlq', 'redrive', '--topic', 'a', '--original-topic'], message: /--topic and --original-topic exclude each other/ },
  ];

  it('rejects invalid flags with exit code 2', async () => {
    for (const { args, message } of usageErrors) {
      const result = await runCli(dlqEnv(), args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.output, args.join(' ')).toMatch(message);
    }
  });
});
