import type { KafkaRecord } from './record.js';

/**
 * Bytes a record adds to a batch beyond its key, value and header texts: the batch header
 * (61 bytes in format v2, counted in full because a lone record pays it) and the varint lengths
 * and deltas of the record and of each header, taken at their maximum.
 */
const BATCH_OVERHEAD = 61;
const RECORD_OVERHEAD = 21;
const HEADER_OVERHEAD = 10;

/** Kafka's default max.message.bytes for a topic. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** Size of a record as the broker checks it against max.message.bytes, before compression. */
export function recordWireSize(record: KafkaRecord): number {
  let size = BATCH_OVERHEAD + RECORD_OVERHEAD + record.key.length + record.value.length;
  for (const [name, value] of Object.entries(record.headers)) size += HEADER_OVERHEAD + Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}

/**
 * Size limits per topic. The relay's Kafka client cannot read topic configs, so the limits are
 * configured: a default and per-topic overrides. Compression is not counted, so the check is
 * conservative: a record that would fit only once compressed is still rejected.
 */
export class TopicSizeLimits {
  constructor(
    private readonly defaultLimit: number,
    private readonly overrides: Map<string, number>,
  ) {}

  limitOf(topic: string): number {
    return this.overrides.get(topic) ?? this.defaultLimit;
  }

  /** Returns why the record is too large for its topic, or undefined when it fits. */
  check(record: KafkaRecord): string | undefined {
    const size = recordWireSize(record);
    const limit = this.limitOf(record.topic);
    if (size <= limit) return undefined;
    return `record of ${size} bytes exceeds the ${limit}-byte limit of topic ${record.topic} (max.message.bytes; set OUTBOX_TOPIC_MAX_BYTES to match the topic)`;
  }
}
