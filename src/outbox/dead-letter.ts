import { formatLsn, type Lsn } from '../lsn.js';
import type { Headers, KafkaRecord } from './record.js';

/** Reason an event went to the dead-letter topic instead of its own. */
export const DEAD_LETTER_REASONS = ['too_large', 'unroutable', 'invalid_row', 'schema_mismatch'] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Policy for an event that cannot be published: park it and go on, or stop before acknowledging it. */
export type BadEventPolicy = 'dead-letter' | 'halt';

/** Headers the relay adds to a dead letter, next to the event's own headers. */
export const DEAD_LETTER_HEADERS = {
  reason: 'dlq.reason',
  error: 'dlq.error',
  originalTopic: 'dlq.original_topic',
  commitLsn: 'dlq.commit_lsn',
  outboxId: 'dlq.outbox_id',
  payloadBytes: 'dlq.payload_bytes',
  payloadOmitted: 'dlq.payload_omitted',
  failedAt: 'dlq.failed_at',
} as const;

export interface DeadLetterSource {
  /** The event's own headers, as far as the row could be read. */
  headers: Headers;
  key: Buffer | null;
  value: Buffer;
  /** The topic the event was meant for, when routing got that far. */
  originalTopic: string | null;
}

/**
 * Builds the dead letter for an event. The payload is left out when it is the problem (too
 * large), because the dead-letter topic has a size limit too; the outbox table still holds it
 * for replay.
 */
export function deadLetterRecord(topic: string, source: DeadLetterSource, reason: DeadLetterReason, error: string, commitLsn: Lsn, now = new Date()): KafkaRecord {
  const omitPayload = reason === 'too_large';
  const headers: Headers = {
    ...source.headers,
    [DEAD_LETTER_HEADERS.reason]: reason,
    [DEAD_LETTER_HEADERS.error]: error,
    [DEAD_LETTER_HEADERS.commitLsn]: formatLsn(commitLsn),
    [DEAD_LETTER_HEADERS.outboxId]: source.headers.id ?? '',
    [DEAD_LETTER_HEADERS.payloadBytes]: String(source.value.length),
    [DEAD_LETTER_HEADERS.payloadOmitted]: String(omitPayload),
    [DEAD_LETTER_HEADERS.failedAt]: now.toISOString(),
  };
  if (source.originalTopic !== null) headers[DEAD_LETTER_HEADERS.originalTopic] = source.originalTopic;

  return { topic, key: source.key ?? Buffer.alloc(0), value: omitPayload ? Buffer.alloc(0) : source.value, headers };
}
