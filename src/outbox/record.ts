import type { OutboxEvent } from './event.js';
import type { Lsn } from '../lsn.js';
import { formatLsn } from '../lsn.js';

export type Headers = Record<string, string>;

/** A Kafka record ready to produce: the key is the aggregate id, so one aggregate stays on one partition. */
export interface KafkaRecord {
  topic: string;
  key: Buffer;
  value: Buffer;
  headers: Headers;
}

/** Header names the relay sets itself; metadata keys with these names are kept under `metadata.`. */
export const RESERVED_HEADERS = new Set([
  'id',
  'event_type',
  'aggregate_type',
  'aggregate_id',
  'aggregate_version',
  'correlation_id',
  'causation_id',
  'created_at',
  'created_by',
  'commit_lsn',
]);

/** Fields of an outbox row the relay can copy into record headers; `metadata` stands for its top-level keys. */
export const HEADER_FIELDS = ['id', 'event_type', 'aggregate_type', 'aggregate_id', 'aggregate_version', 'created_at', 'created_by', 'correlation_id', 'causation_id', 'commit_lsn', 'metadata'] as const;
export type HeaderField = (typeof HEADER_FIELDS)[number];

/**
 * Headers of a record by default. Each header costs the Kafka client about 5 microseconds per
 * record (bench/header-cost.mjs, figures in docs/benchmarks.md), so the fields that the key, the
 * topic or the payload already carry are opt-in. Optional fields appear only when the row has them.
 */
export const DEFAULT_HEADER_FIELDS: ReadonlySet<HeaderField> = new Set(['id', 'event_type', 'commit_lsn', 'created_by', 'correlation_id', 'causation_id', 'metadata']);
export const ALL_HEADER_FIELDS: ReadonlySet<HeaderField> = new Set(HEADER_FIELDS);

export function toKafkaRecord(event: OutboxEvent, topic: string, commitLsn: Lsn | string, fields: ReadonlySet<HeaderField> = ALL_HEADER_FIELDS): KafkaRecord {
  const headers: Headers = {};
  if (fields.has('id')) headers.id = event.id;
  if (fields.has('event_type')) headers.event_type = event.eventType;
  if (fields.has('aggregate_type')) headers.aggregate_type = event.aggregateType;
  if (fields.has('aggregate_id')) headers.aggregate_id = event.aggregateId;
  if (fields.has('aggregate_version')) headers.aggregate_version = event.aggregateVersion;
  if (fields.has('created_at')) headers.created_at = event.createdAt;
  if (fields.has('commit_lsn')) headers.commit_lsn = typeof commitLsn === 'string' ? commitLsn : formatLsn(commitLsn);
  if (event.correlationId !== null && fields.has('correlation_id')) headers.correlation_id = event.correlationId;
  if (event.causationId !== null && fields.has('causation_id')) headers.causation_id = event.causationId;
  if (event.createdBy !== null && fields.has('created_by')) headers.created_by = event.createdBy;

  if (fields.has('metadata')) {
    for (const [key, value] of metadataEntries(event.metadata)) {
      headers[RESERVED_HEADERS.has(key) ? `metadata.${key}` : key] = value;
    }
  }
  return { topic, key: Buffer.from(event.aggregateId, 'utf8'), value: event.eventData, headers };
}

/** Parses a comma-separated list of header fields, or `all`; returns an error text for unknown names. */
export function parseHeaderFields(text: string): ReadonlySet<HeaderField> | string {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name.length > 0);
  if (names.length === 1 && names[0] === 'all') return ALL_HEADER_FIELDS;
  const unknown = names.filter((name) => !(HEADER_FIELDS as readonly string[]).includes(name));
  if (unknown.length > 0) return `unknown header field(s) ${unknown.join(', ')}; use "all" or a list of ${HEADER_FIELDS.join(', ')}`;
  return new Set(names as HeaderField[]);
}

/**
 * Flattens the top level of the metadata object into header values: strings as they are, other
 * values as JSON text. NOTE: numbers beyond 2^53 in metadata lose precision here, unlike the payload.
 */
function metadataEntries(metadata: Buffer | null): [string, string][] {
  if (metadata === null) return [];

  const parsed: unknown = JSON.parse(metadata.toString('utf8'));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return [];
  return Object.entries(parsed as Record<string, unknown>).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
}

export function recordSize(record: KafkaRecord): number {
  let size = record.key.length + record.value.length;
  for (const [name, value] of Object.entries(record.headers)) size += name.length + Buffer.byteLength(value);
  return size;
}
