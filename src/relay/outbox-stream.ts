import type { Logger } from 'pino';
import type { Lsn } from '../lsn.js';
import { formatLsn } from '../lsn.js';
import { pgTimestampToUnixMicros, type BeginMessage, type CommitMessage, type PgOutputMessage, type RelationMessage } from '../decoder/messages.js';
import { OutboxLayout, OutboxRowError } from '../outbox/event.js';
import { ALL_HEADER_FIELDS, toKafkaRecord, type HeaderField, type KafkaRecord } from '../outbox/record.js';
import { deadLetterRecord, type BadEventPolicy, type DeadLetterReason, type DeadLetterSource } from '../outbox/dead-letter.js';
import type { TopicSizeLimits } from '../outbox/size-limit.js';
import type { TopicRouter } from '../outbox/routing.js';
import { coversTransaction, rowsAlreadyDone, type Checkpoint } from '../checkpoint/checkpoint.js';
import { RelayError } from '../publisher/errors.js';
import type { PendingBatch } from './batch.js';
import { SchemaNotRegisteredError, type ValueEncoder } from '../avro/value-encoder.js';

interface OpenTransaction {
  xid: number;
  finalLsn: Lsn;
  /** `finalLsn` as text, formatted once for the commit_lsn header of every row. */
  finalLsnText: string;
  commitTimeUnixMicros: bigint;
  /** Outbox rows seen so far in this transaction, including those skipped. */
  rowIndex: number;
  /** Rows at the start that an earlier chunk already put in Kafka. */
  skipRows: number;
  /** The whole transaction is in Kafka already. */
  skipAll: boolean;
}

export type IgnoredKind = 'update' | 'delete' | 'truncate' | 'message';

/** Handling of events that cannot be published. */
export interface BadEventHandling {
  policy: BadEventPolicy;
  deadLetterTopic: string;
  sizeLimits: TopicSizeLimits;
  onDeadLetter?: (reason: DeadLetterReason) => void;
}

/**
 * Turns decoded pgoutput messages into Kafka records in a PendingBatch. Holds what pgoutput
 * expects a client to remember: relations by OID, and the transaction between Begin and Commit.
 */
export class OutboxStream {
  private readonly relations = new Map<number, RelationMessage>();
  private outboxOid: number | null = null;
  private layout: OutboxLayout | null = null;
  private open: OpenTransaction | null = null;
  readonly ignored: Record<IgnoredKind, number> = { update: 0, delete: 0, truncate: 0, message: 0 };

  constructor(
    private readonly table: { schema: string; name: string },
    private readonly router: TopicRouter,
    private readonly checkpoint: Checkpoint | null,
    private readonly badEvents: BadEventHandling,
    private readonly log: Logger,
    /** Encoder of JSON payloads into another format, such as Avro. Null publishes them as they are. */
    private readonly encoder: ValueEncoder | null = null,
    private readonly headerFields: ReadonlySet<HeaderField> = ALL_HEADER_FIELDS,
  ) {}

  get inTransaction(): boolean {
    return this.open !== null;
  }

  /** The chunk position to record when a Kafka transaction commits in the middle of this PostgreSQL transaction. */
  get partial(): { finalLsn: Lsn; rowsDone: number } | null {
    if (this.open === null) return null;
    return { finalLsn: this.open.finalLsn, rowsDone: Math.max(this.open.rowIndex, this.open.skipRows) };
  }

  /** Commit time of the open transaction, whose rows are not all in Kafka yet. */
  get openCommitTime(): bigint | null {
    return this.open?.commitTimeUnixMicros ?? null;
  }

  handle(message: PgOutputMessage, batch: PendingBatch, now: number): void {
    switch (message.tag) {
      case 'Begin':
        return this.onBegin(message);
      case 'Commit':
        return this.onCommit(message, batch, now);
      case 'Relation':
        return this.onRelation(message);
      case 'Insert':
        return this.onInsert(message.relationOid, message.newTuple, batch, now);
      case 'Update':
        return this.onIgnored('update', message.relationOid);
      case 'Delete':
        return this.onIgnored('delete', message.relationOid);
      case 'Truncate':
        return this.onIgnored('truncate', message.relationOids[0] ?? 0);
      case 'Message':
        // Heartbeats and other applications' logical messages carry no events.
        this.ignored.message++;
        this.log.debug({ prefix: message.prefix, lsn: formatLsn(message.lsn), transactional: message.transactional }, 'logical message ignored');
        return;
      case 'Origin':
      case 'Type':
        return;
    }
  }

  private onBegin(message: BeginMessage): void {
    if (this.open !== null) {
      throw new RelayError('protocol_violation', `Begin of xid ${message.xid} arrived inside xid ${this.open.xid}; pgoutput never nests transactions`, true);
    }
    this.open = {
      xid: message.xid,
      finalLsn: message.finalLsn,
      finalLsnText: formatLsn(message.finalLsn),
      commitTimeUnixMicros: pgTimestampToUnixMicros(message.commitTime),
      rowIndex: 0,
      skipRows: rowsAlreadyDone(this.checkpoint, message.finalLsn),
      skipAll: coversTransaction(this.checkpoint, message.finalLsn),
    };
  }

  private onCommit(message: CommitMessage, batch: PendingBatch, now: number): void {
    const open = this.requireOpen('Commit');
    if (open.finalLsn !== message.commitLsn) {
      throw new RelayError('protocol_violation', `Commit at ${formatLsn(message.commitLsn)} does not match Begin's final LSN ${formatLsn(open.finalLsn)} (xid ${open.xid})`, true);
    }
    this.open = null;
    if (!open.skipAll) batch.completeTransaction(message.endLsn, now, pgTimestampToUnixMicros(message.commitTime));
  }

  private onRelation(message: RelationMessage): void {
    this.relations.set(message.relationOid, message);
    if (message.namespace === this.table.schema && message.name === this.table.name) {
      this.outboxOid = message.relationOid;
      this.layout = OutboxLayout.fromRelation(message);
    }
  }

  private onInsert(relationOid: number, tuple: Parameters<OutboxLayout['toEvent']>[0], batch: PendingBatch, now: number): void {
    const open = this.requireOpen('Insert');
    if (relationOid !== this.outboxOid || this.layout === null) throw this.foreignRelation(relationOid);

    open.rowIndex++;
    if (open.skipAll || open.rowIndex <= open.skipRows) return;

    let event;
    try {
      event = this.layout.toEvent(tuple);
    } catch (error) {
      if (!(error instanceof OutboxRowError)) throw error;
      return this.reject(this.layout.rawSource(tuple), 'invalid_row', error.message, open, batch, now);
    }

    const route = this.router.route(event.aggregateType, event.eventType);
    // A dead letter carries every field, so that "dlq list" can name the event whatever OUTBOX_HEADERS selects.
    const deadLetterSource = (topic: string | null): DeadLetterSource => sourceOf(toKafkaRecord(event, topic ?? '', open.finalLsn), topic);
    if ('error' in route) return this.reject(deadLetterSource(null), 'unroutable', route.error, open, batch, now);

    let record = toKafkaRecord(event, route.topic, open.finalLsnText, this.headerFields);
    if (this.encoder !== null) {
      const encoded = this.encoder.encode(event.eventType, route.topic, record.value);
      if ('unregistered' in encoded) {
        // The stream loop registers the schema and hands this row in again, so it must not count yet.
        open.rowIndex--;
        throw new SchemaNotRegisteredError(encoded.unregistered);
      }
      if ('error' in encoded) return this.reject(deadLetterSource(route.topic), 'schema_mismatch', encoded.error, open, batch, now);
      record = { ...record, value: encoded.value };
    }
    const tooLarge = this.badEvents.sizeLimits.check(record);
    if (tooLarge !== undefined) return this.reject({ ...deadLetterSource(route.topic), value: record.value }, 'too_large', tooLarge, open, batch, now);

    batch.add(record, now);
  }

  /**
   * Puts an event that cannot be published on the dead-letter topic, in its place in the batch, so
   * that it commits with its neighbours; or, under the halt policy, stops before anything past it
   * is acknowledged.
   */
  private reject(source: DeadLetterSource, reason: DeadLetterReason, error: string, open: OpenTransaction, batch: PendingBatch, now: number): void {
    const id = source.headers.id ?? '(unreadable id)';
    if (this.badEvents.policy === 'halt') {
      // The row is not done: a checkpoint written on the way out must not count it.
      open.rowIndex--;
      throw new HaltError(
        `outbox event ${id} (xid ${open.xid}, commit LSN ${formatLsn(open.finalLsn)}) cannot be published (${reason}): ${error}; OUTBOX_BAD_EVENT_POLICY=halt stops the relay before acknowledging it`,
      );
    }

    let letter = deadLetterRecord(this.badEvents.deadLetterTopic, source, reason, error, open.finalLsn);
    if (this.badEvents.sizeLimits.check(letter) !== undefined) {
      letter = deadLetterRecord(this.badEvents.deadLetterTopic, { ...source, value: Buffer.alloc(0) }, reason, error, open.finalLsn);
    }
    batch.addDeadLetter(letter, now);
    this.badEvents.onDeadLetter?.(reason);
    this.log.warn({ outboxId: id, xid: open.xid, reason, err: error, topic: this.badEvents.deadLetterTopic }, 'event sent to the dead-letter topic');
  }

  private onIgnored(kind: IgnoredKind, relationOid: number): void {
    this.ignored[kind]++;
    const relation = this.relations.get(relationOid);
    this.log.info({ kind, relation: relation ? `${relation.namespace}.${relation.name}` : relationOid, count: this.ignored[kind] }, 'change that is not an insert ignored');
  }

  private requireOpen(what: string): OpenTransaction {
    if (this.open === null) throw new RelayError('protocol_violation', `${what} arrived outside a transaction`, true);
    return this.open;
  }

  /**
   * Rows of a relation other than the outbox mean the publication publishes more than the outbox,
   * most often a partition because publish_via_partition_root is off. Stopping here keeps the
   * slot from being acknowledged past rows the relay did not publish.
   */
  private foreignRelation(relationOid: number): RelayError {
    const relation = this.relations.get(relationOid);
    const name = relation ? `${relation.namespace}.${relation.name}` : `OID ${relationOid}`;
    return new RelayError(
      'foreign_relation',
      `the publication sent an insert into ${name}, which is not the outbox ${this.table.schema}.${this.table.name}; if it is a partition, set publish_via_partition_root = true on the publication, otherwise remove the table from it`,
      false,
    );
  }
}

/** Raised under the halt policy; the stream loop commits what came before the event, then stops. */
export class HaltError extends RelayError {
  constructor(message: string) {
    super('bad_event', message, false);
    this.name = 'HaltError';
  }
}

function sourceOf(record: KafkaRecord, originalTopic: string | null): DeadLetterSource {
  return { headers: record.headers, key: record.key, value: record.value, originalTopic };
}
