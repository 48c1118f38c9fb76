import type { ColumnValue, RelationMessage } from '../decoder/messages.js';

/** Columns the relay reads from every outbox row. */
export const OUTBOX_COLUMNS = [
  'id',
  'event_type',
  'aggregate_type',
  'aggregate_id',
  'aggregate_version',
  'event_data',
  'metadata',
  'correlation_id',
  'causation_id',
  'created_at',
  'created_by',
] as const;

export type OutboxColumn = (typeof OUTBOX_COLUMNS)[number];

/** One outbox row as decoded from the slot. Text stays as PostgreSQL sent it. */
export interface OutboxEvent {
  id: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: string;
  /** The jsonb text exactly as PostgreSQL printed it: never parsed, so large integers survive. */
  eventData: Buffer;
  metadata: Buffer | null;
  correlationId: string | null;
  causationId: string | null;
  /** ISO 8601 in UTC with microseconds. */
  createdAt: string;
  createdBy: string | null;
}

export class OutboxRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxRowError';
  }
}

/** Column positions of one version of the outbox relation, checked once per Relation message. */
export class OutboxLayout {
  private constructor(private readonly positions: Map<OutboxColumn, number>) {}

  static fromRelation(relation: RelationMessage): OutboxLayout {
    const positions = new Map<OutboxColumn, number>();
    relation.columns.forEach((column, index) => {
      if ((OUTBOX_COLUMNS as readonly string[]).includes(column.name)) positions.set(column.name as OutboxColumn, index);
    });

    const missing = OUTBOX_COLUMNS.filter((name) => !positions.has(name));
    if (missing.length > 0) {
      throw new OutboxRowError(
        `relation ${relation.namespace}.${relation.name} lacks outbox column(s) ${missing.join(', ')}; run "outbox-relay migrate" or point OUTBOX_TABLE at the outbox table`,
      );
    }
    return new OutboxLayout(positions);
  }

  /** Reads what it can of a row that failed validation: text columns as headers, for its dead letter. */
  rawSource(tuple: ColumnValue[]): { headers: Record<string, string>; key: Buffer | null; value: Buffer; originalTopic: null } {
    const headers: Record<string, string> = {};
    const textOf = (name: OutboxColumn): Buffer | null => {
      const value = tuple[this.positions.get(name)!];
      return value?.kind === 'text' ? value.bytes : null;
    };
    for (const name of OUTBOX_COLUMNS) {
      if (name === 'event_data' || name === 'metadata') continue;
      const text = textOf(name);
      if (text !== null) headers[name] = text.toString('utf8');
    }
    return { headers, key: textOf('aggregate_id'), value: textOf('event_data') ?? Buffer.alloc(0), originalTopic: null };
  }

  toEvent(tuple: ColumnValue[]): OutboxEvent {
    const text = (name: OutboxColumn): Buffer | null => {
      const value = tuple[this.positions.get(name)!];
      if (value === undefined || value.kind === 'null') return null;
      if (value.kind === 'text') return value.bytes;
      throw new OutboxRowError(`outbox column ${name} arrived as ${value.kind}; the relay needs text values (pgoutput without the binary option)`);
    };
    const required = (name: OutboxColumn): Buffer => {
      const value = text(name);
      if (value === null) throw new OutboxRowError(`outbox column ${name} is NULL; it is required`);
      return value;
    };
    const optionalString = (name: OutboxColumn): string | null => text(name)?.toString('utf8') ?? null;

    return {
      id: required('id').toString('utf8'),
      eventType: required('event_type').toString('utf8'),
      aggregateType: required('aggregate_type').toString('utf8'),
      aggregateId: required('aggregate_id').toString('utf8'),
      aggregateVersion: required('aggregate_version').toString('utf8'),
      eventData: required('event_data'),
      metadata: text('metadata'),
      correlationId: optionalString('correlation_id'),
      causationId: optionalString('causation_id'),
      createdAt: timestamptzToIso(required('created_at').toString('utf8')),
      createdBy: optionalString('created_by'),
    };
  }
}

const UTC_TIMESTAMPTZ = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * Turns timestamptz output of a session with TimeZone=UTC and DateStyle=ISO into ISO 8601 with
 * all six fractional digits. Values outside that shape (BC dates, infinity) pass through as
 * PostgreSQL printed them.
 */
export function timestamptzToIso(text: string): string {
  const match = UTC_TIMESTAMPTZ.exec(text);
  if (!match) return text;
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`;
}
