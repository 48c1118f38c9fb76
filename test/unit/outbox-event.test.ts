import { describe, expect, it } from 'vitest';
import { OUTBOX_COLUMNS, OutboxLayout, timestamptzToIso } from '../../src/outbox/event.js';
import { ALL_HEADER_FIELDS, DEFAULT_HEADER_FIELDS, parseHeaderFields, toKafkaRecord, type HeaderField } from '../../src/outbox/record.js';
import { TopicRouter } from '../../src/outbox/routing.js';
import type { ColumnValue, RelationMessage } from '../../src/decoder/messages.js';
import { HIGH_LSN } from './fixtures.js';

const relation: RelationMessage = {
  tag: 'Relation',
  relationOid: 1,
  namespace: 'public',
  name: 'outbox_events',
  replicaIdentity: 'd',
  columns: OUTBOX_COLUMNS.map((name) => ({ isKey: name === 'id', name, typeOid: 25, typeModifier: -1 })),
};

function tuple(values: Partial<Record<(typeof OUTBOX_COLUMNS)[number], string | null>>): ColumnValue[] {
  const defaults: Record<string, string | null> = {
    id: '0b6c8c1e-0000-4000-8000-000000000001',
    event_type: 'OrderPlaced',
    aggregate_type: 'order',
    aggregate_id: 'order-17',
    aggregate_version: '3',
    event_data: '{"n": 9007199254740993}',
    metadata: '{"traceparent": "00-abc", "retries": 2, "id": "shadow"}',
    correlation_id: 'c-1',
    causation_id: null,
    created_at: '2026-12-04 19:30:00.5+00',
    created_by: 'app',
  };
  return OUTBOX_COLUMNS.map((name) => {
    const value = name in values ? values[name] : defaults[name];
    return value === null || value === undefined ? { kind: 'null' } : { kind: 'text', bytes: Buffer.from(value) };
  });
}

describe('outbox events', () => {
  const layout = OutboxLayout.fromRelation(relation);

  it('keeps event_data bytes as PostgreSQL sent them', () => {
    const event = layout.toEvent(tuple({}));

    expect(event.eventData.toString()).toBe('{"n": 9007199254740993}');
  });

  it('builds key, headers and metadata headers', () => {
    const record = toKafkaRecord(layout.toEvent(tuple({})), 'order-events', HIGH_LSN);

    expect(record.key.toString()).toBe('order-17');
    expect(record.headers).toMatchObject({
      id: '0b6c8c1e-0000-4000-8000-000000000001',
      event_type: 'OrderPlaced',
      aggregate_type: 'order',
      aggregate_id: 'order-17',
      aggregate_version: '3',
      correlation_id: 'c-1',
      created_at: '2026-12-04T19:30:00.500000Z',
      commit_lsn: '200000/1',
      traceparent: '00-abc',
      retries: '2',
      'metadata.id': 'shadow',
    });
    expect(record.headers.causation_id).toBeUndefined();
  });

  it('sets only the default header fields', () => {
    const record = toKafkaRecord(layout.toEvent(tuple({})), 'order-events', HIGH_LSN, DEFAULT_HEADER_FIELDS);

    expect(Object.keys(record.headers).sort()).toEqual(['commit_lsn', 'correlation_id', 'created_by', 'event_type', 'id', 'metadata.id', 'retries', 'traceparent']);
    expect(record.headers.commit_lsn).toBe('200000/1');
  });

  it('sets the header fields it is given', () => {
    const fields = parseHeaderFields('id, aggregate_version');

    expect(fields).toEqual(new Set(['id', 'aggregate_version']));
    const record = toKafkaRecord(layout.toEvent(tuple({})), 'order-events', HIGH_LSN, fields as Set<HeaderField>);
    expect(record.headers).toEqual({ id: '0b6c8c1e-0000-4000-8000-000000000001', aggregate_version: '3' });
  });

  it('rejects an unknown header field', () => {
    expect(parseHeaderFields('id,version')).toMatch(/unknown header field\(s\) version; use "all" or a list of id, event_type/);
    expect(parseHeaderFields('all')).toBe(ALL_HEADER_FIELDS);
  });

  it('rejects a NULL in a required column', () => {
    expect(() => layout.toEvent(tuple({ aggregate_id: null }))).toThrow(/outbox column aggregate_id is NULL/);
  });

  it('rejects a relation that lacks outbox columns', () => {
    const partial = { ...relation, columns: relation.columns.filter((c) => c.name !== 'event_data' && c.name !== 'metadata') };

    expect(() => OutboxLayout.fromRelation(partial)).toThrow(/lacks outbox column\(s\) event_data, metadata/);
  });

  it('turns UTC timestamptz text into ISO 8601 with microseconds', () => {
    expect(timestamptzToIso('2026-12-04 23:59:59.999999+00')).toBe('2026-12-04T23:59:59.999999Z');
    expect(timestamptzToIso('1883-11-18 16:56:02+00')).toBe('1883-11-18T16:56:02.000000Z');
    expect(timestamptzToIso('infinity')).toBe('infinity');
  });
});

describe('topic routing', () => {
  it('fills the template and prefers the explicit map', () => {
    const router = new TopicRouter('{aggregate_type}-events', new Map([['Refunded', 'payments']]));

    expect(router.route('order', 'OrderPlaced')).toEqual({ topic: 'order-events' });
    expect(router.route('order', 'Refunded')).toEqual({ topic: 'payments' });
  });

  it('reports a topic name Kafka would reject', () => {
    const router = new TopicRouter('{aggregate_type}.{event_type}', new Map());

    expect(router.route('order', 'Order Placed')).toEqual({ error: expect.stringMatching(/topic "order.Order Placed" .* is not a legal Kafka topic name/) });
  });
});
