import type { TransactionalProducer } from '../publisher/producer.js';
import { recordSize, type KafkaRecord } from '../outbox/record.js';

/**
 * Collects records into Kafka transactions of at most `maxEvents` events and `maxBytes` bytes
 * (OUTBOX_BATCH_MAX_EVENTS and OUTBOX_BATCH_MAX_BYTES), so memory stays bounded however many
 * events a command publishes. A group of records passed to one `add` call always lands in one
 * transaction, even when it alone exceeds a limit.
 */
export class TransactionBatcher {
  private records: KafkaRecord[] = [];
  private bytes = 0;
  private events = 0;
  transactions = 0;

  constructor(
    private readonly producer: TransactionalProducer,
    private readonly maxEvents: number,
    private readonly maxBytes: number,
    /** Called after each commit with the number of events the transaction carried. */
    private readonly onCommit: (events: number) => void = () => undefined,
  ) {}

  /** Adds one event's records: the event itself and any bookkeeping records that must commit with it. */
  async add(group: KafkaRecord[]): Promise<void> {
    const size = group.reduce((sum, record) => sum + recordSize(record), 0);
    if (this.events > 0 && (this.events + 1 > this.maxEvents || this.bytes + size > this.maxBytes)) await this.flush();
    this.records.push(...group);
    this.bytes += size;
    this.events++;
  }

  async flush(): Promise<void> {
    if (this.records.length === 0) return;
    await this.producer.commitTransaction(this.records);
    const events = this.events;
    this.records = [];
    this.bytes = 0;
    this.events = 0;
    this.transactions++;
    this.onCommit(events);
  }
}
