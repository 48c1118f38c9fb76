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

export function toKafkaRecord(event: OutboxEvent, topic: string, commitLsn: Lsn): KafkaRecord {
  const headers: Headers = {
    id: event.id,
    event_type: event.eventType,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    aggregate_version: event.aggregateVersion,
    created_at: event.createdAt,
    commit_lsn: formatLsn(commitLsn),
  };
  if (event.correlationId !== null) headers.correlation_id = event.correlationId;
  if (event.causationId !== null) headers.causation_id = event.causationId;
  if (event.createdBy !== null) headers.created_by = event.createdBy;

  for (const [key, value] of metadataEntries(event.metadata)) {
    headers[RESERVED_HEADERS.has(key) ? `metadata.${key}` : key] = value;
  }
  return { topic, key: Buffer.from(event.aggregateId, 'utf8'), value: event.eventData, headers };
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
