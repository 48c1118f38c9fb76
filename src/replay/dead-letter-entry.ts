import { DEAD_LETTER_HEADERS } from '../outbox/dead-letter.js';
import type { TopicMessage } from './topic-reader.js';

/** Position and headers of one dead letter, as `dlq list` and `dlq redrive` use them. The payload is never kept. */
export interface DeadLetterEntry {
  topic: string;
  partition: number;
  offset: number;
  reason: string;
  error: string;
  failedAt: string;
  /** Empty when the relay could not read the row's id. */
  outboxId: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: string;
  eventType: string;
  originalTopic: string | null;
  commitLsn: string | null;
  payloadBytes: number | null;
  payloadOmitted: boolean;
}

export function toDeadLetterEntry(message: TopicMessage): DeadLetterEntry {
  const headers = message.headers;
  const payloadBytes = headers[DEAD_LETTER_HEADERS.payloadBytes];
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    reason: headers[DEAD_LETTER_HEADERS.reason] ?? 'unknown',
    error: headers[DEAD_LETTER_HEADERS.error] ?? '',
    failedAt: headers[DEAD_LETTER_HEADERS.failedAt] ?? '',
    outboxId: headers[DEAD_LETTER_HEADERS.outboxId] ?? headers.id ?? '',
    aggregateType: headers.aggregate_type ?? '',
    aggregateId: headers.aggregate_id ?? message.key?.toString('utf8') ?? '',
    aggregateVersion: headers.aggregate_version ?? '',
    eventType: headers.event_type ?? '',
    originalTopic: headers[DEAD_LETTER_HEADERS.originalTopic] ?? null,
    commitLsn: headers[DEAD_LETTER_HEADERS.commitLsn] ?? null,
    payloadBytes: payloadBytes === undefined ? null : Number(payloadBytes),
    payloadOmitted: headers[DEAD_LETTER_HEADERS.payloadOmitted] === 'true',
  };
}

/** Formats the `topic/partition/offset` text that names one dead letter in output and headers. */
export function deadLetterPosition(entry: DeadLetterEntry): string {
  return `${entry.topic}/${entry.partition}/${entry.offset}`;
}

/** Filters shared by `dlq list` and `dlq redrive`. An empty list matches everything. */
export interface DeadLetterFilter {
  reasons: string[];
  outboxIds: string[];
}

export function matchesFilter(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  if (filter.reasons.length > 0 && !filter.reasons.includes(entry.reason)) return false;
  if (filter.outboxIds.length > 0 && !filter.outboxIds.includes(entry.outboxId)) return false;
  return true;
}
