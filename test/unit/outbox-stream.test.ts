import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { OutboxStream, HaltError, type BadEventHandling } from '../../src/relay/outbox-stream.js';
import { PendingBatch } from '../../src/relay/batch.js';
import { TopicRouter } from '../../src/outbox/routing.js';
import { TopicSizeLimits, recordWireSize } from '../../src/outbox/size-limit.js';
import { OUTBOX_COLUMNS } from '../../src/outbox/event.js';
import type { Checkpoint } from '../../src/checkpoint/checkpoint.js';
import type { ColumnValue, PgOutputMessage } from '../../src/decoder/messages.js';
import { RelayError } from '../../src/publisher/errors.js';

const log = pino({ level: 'silent' });
const OUTBOX_OID = 16_384;
const relation: PgOutputMessage = {
  tag: 'Relation',
  relationOid: OUTBOX_OID,
  namespace: 'public',
  name: 'outbox_events',
  replicaIdentity: 'd',
  columns: OUTBOX_COLUMNS.map((name) => ({ isKey: false, name, typeOid: 25, typeModifier: -1 })),
};

function row(version: number, overrides: Record<string, string | null> = {}): ColumnValue[] {
  const values: Record<string, string | null> = {
    id: `id-${version}`,
    event_type: 'OrderPlaced',
    aggregate_type: 'order',
    aggregate_id: 'a',
    aggregate_version: String(version),
    event_data: `{"v": ${version}}`,
    metadata: '{}',
    correlation_id: 'c',
    causation_id: null,
    created_at: '2026-12-04 10:00:00+00',
    created_by: 'app',
    ...overrides,
  };
  return OUTBOX_COLUMNS.map((name) => (values[name] === null ? { kind: 'null' } : { kind: 'text', bytes: Buffer.from(values[name]!) }));
}

function transaction(finalLsn: bigint, rows: ColumnValue[][]): PgOutputMessage[] {
  return [
    { tag: 'Begin', finalLsn, commitTime: 0n, xid: Number(finalLsn) },
    ...rows.map((newTuple): PgOutputMessage => ({ tag: 'Insert', relationOid: OUTBOX_OID, newTuple })),
    { tag: 'Commit', flags: 0, commitLsn: finalLsn, endLsn: finalLsn + 40n, commitTime: 0n },
  ];
}

function stream(checkpoint: Checkpoint | null = null, handling: Partial<BadEventHandling> = {}): OutboxStream {
  const badEvents: BadEventHandling = { policy: 'dead-letter', deadLetterTopic: 'dead', sizeLimits: new TopicSizeLimits(10_000, new Map()), ...handling };
  return new OutboxStream({ schema: 'public', name: 'outbox_events' }, new TopicRouter('{aggregate_type}-events', new Map()), checkpoint, badEvents, log);
}

function feed(outbox: OutboxStream, messages: PgOutputMessage[], batch = new PendingBatch()): PendingBatch {
  for (const message of messages) outbox.handle(message, batch, 0);
  return batch;
}

describe('outbox stream', () => {
  it('turns inserts into records and acknowledges the commit end LSN', () => {
    const batch = feed(stream(), [relation, ...transaction(1000n, [row(1), row(2)])]);

    expect(batch.records.map((r) => r.headers.id)).toEqual(['id-1', 'id-2']);
    expect(batch.records[0]!.topic).toBe('order-events');
    expect(batch.ackLsn).toBe(1040n);
  });

  it('skips transactions the checkpoint covers', () => {
    const checkpoint: Checkpoint = { slot: 's', lsn: 1040n, partial: null };

    const batch = feed(stream(checkpoint), [relation, ...transaction(1000n, [row(1)]), ...transaction(2000n, [row(2)])]);

    expect(batch.records.map((r) => r.headers.id)).toEqual(['id-2']);
    expect(batch.ackLsn).toBe(2040n);
  });

  it('skips the rows an earlier chunk already published', () => {
    const checkpoint: Checkpoint = { slot: 's', lsn: 500n, partial: { finalLsn: 1000n, rowsDone: 2 } };

    const batch = feed(stream(checkpoint), [relation, ...transaction(1000n, [row(1), row(2), row(3)])]);

    expect(batch.records.map((r) => r.headers.id)).toEqual(['id-3']);
  });

  it('reports the chunk position inside an open transaction', () => {
    const outbox = stream();
    const [begin, first, second] = transaction(1000n, [row(1), row(2)]);

    feed(outbox, [relation, begin!, first!, second!]);

    expect(outbox.partial).toEqual({ finalLsn: 1000n, rowsDone: 2 });
  });

  it('dead-letters an event too large for its topic in its place', () => {
    const outbox = stream(null, { sizeLimits: new TopicSizeLimits(10_000, new Map([['order-events', 400]])) });

    const batch = feed(outbox, [relation, ...transaction(1000n, [row(1), row(2, { event_data: `{"pad": "${'x'.repeat(500)}"}` }), row(3)])]);

    expect(batch.records.map((r) => r.topic)).toEqual(['order-events', 'dead', 'order-events']);
    expect(batch.records[1]!.headers['dlq.reason']).toBe('too_large');
    expect(batch.records[1]!.headers['dlq.outbox_id']).toBe('id-2');
    expect(batch.records[1]!.value.length).toBe(0);
  });

  it('dead-letters a row with a NULL required column', () => {
    const batch = feed(stream(), [relation, ...transaction(1000n, [row(1, { aggregate_type: null })])]);

    expect(batch.records[0]!.topic).toBe('dead');
    expect(batch.records[0]!.headers['dlq.reason']).toBe('invalid_row');
    expect(batch.records[0]!.headers['dlq.error']).toMatch(/aggregate_type is NULL/);
    expect(batch.records[0]!.key.toString()).toBe('a');
  });

  it('halts on a bad event without counting it as done', () => {
    const outbox = stream(null, { policy: 'halt' });
    const [begin, first, bad] = transaction(1000n, [row(1), row(2, { aggregate_type: 'bad type' })]);

    expect(() => feed(outbox, [relation, begin!, first!, bad!])).toThrow(HaltError);
    expect(outbox.partial).toEqual({ finalLsn: 1000n, rowsDone: 1 });
  });

  it('stops on an insert into a relation that is not the outbox', () => {
    const partition: PgOutputMessage = { ...(relation as Extract<PgOutputMessage, { tag: 'Relation' }>), relationOid: 99, name: 'outbox_events_p20261204' };
    const [begin] = transaction(1000n, []);

    expect(() => feed(stream(), [relation, partition, begin!, { tag: 'Insert', relationOid: 99, newTuple: row(1) }])).toThrow(/insert into public\.outbox_events_p20261204, which is not the outbox/);
  });

  it('ignores updates, deletes, truncates and messages', () => {
    const outbox = stream();
    const [begin, , commit] = transaction(1000n, [row(1)]);

    const batch = feed(outbox, [
      relation,
      begin!,
      { tag: 'Update', relationOid: OUTBOX_OID, newTuple: row(1) },
      { tag: 'Delete', relationOid: OUTBOX_OID, oldTupleKind: 'key', oldTuple: row(1) },
      { tag: 'Message', transactional: true, lsn: 1001n, prefix: 'other-app', content: Buffer.from('x') },
      commit!,
      { tag: 'Truncate', cascade: false, restartIdentity: false, relationOids: [OUTBOX_OID] },
    ]);

    expect(batch.records).toHaveLength(0);
    expect(outbox.ignored).toEqual({ update: 1, delete: 1, truncate: 1, message: 1 });
  });

  it('rejects a Commit that does not match its Begin', () => {
    const outbox = stream();

    expect(() => feed(outbox, [{ tag: 'Begin', finalLsn: 10n, commitTime: 0n, xid: 1 }, { tag: 'Commit', flags: 0, commitLsn: 11n, endLsn: 20n, commitTime: 0n }])).toThrow(RelayError);
  });
});

describe('record size', () => {
  it('counts key, value, headers and the batch overhead', () => {
    const size = recordWireSize({ topic: 't', key: Buffer.from('k'), value: Buffer.alloc(100), headers: { a: 'b' } });

    expect(size).toBe(61 + 21 + 1 + 100 + 10 + 2);
  });
});
