import type { Lsn } from '../lsn.js';
import { recordSize, type KafkaRecord } from '../outbox/record.js';

/**
 * The Kafka transaction being filled. It may hold several whole PostgreSQL transactions and the
 * first rows of one more; `ackLsn` is the end LSN of the last whole one, the only position that
 * may be acknowledged once this batch commits.
 */
export class PendingBatch {
  records: KafkaRecord[] = [];
  bytes = 0;
  ackLsn: Lsn | null = null;
  firstAddedAt: number | null = null;
  /** PostgreSQL commit times (Unix microseconds) of the whole transactions in this batch, oldest first. */
  readonly commitTimes: bigint[] = [];
  readonly deadLetters: KafkaRecord[] = [];

  add(record: KafkaRecord, now: number): void {
    this.records.push(record);
    this.bytes += recordSize(record);
    this.firstAddedAt ??= now;
  }

  /** Adds a dead letter, which the metrics count once its transaction commits. */
  addDeadLetter(record: KafkaRecord, now: number): void {
    this.add(record, now);
    this.deadLetters.push(record);
  }

  /** Marks a PostgreSQL transaction as wholly in this batch. An empty one still moves `ackLsn`. */
  completeTransaction(endLsn: Lsn, now: number, commitTimeUnixMicros?: bigint): void {
    this.ackLsn = endLsn;
    if (commitTimeUnixMicros !== undefined) this.commitTimes.push(commitTimeUnixMicros);
    this.firstAddedAt ??= now;
  }

  get isEmpty(): boolean {
    return this.records.length === 0 && this.ackLsn === null;
  }

  isFull(limits: { maxEvents: number; maxBytes: number }): boolean {
    return this.records.length >= limits.maxEvents || this.bytes >= limits.maxBytes;
  }

  isDue(lingerMs: number, now: number): boolean {
    return this.firstAddedAt !== null && now - this.firstAddedAt >= lingerMs;
  }
}
