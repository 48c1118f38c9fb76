/** Selection of the outbox rows a replay reads. Filters combine with AND, and values within one filter with OR. */
export interface ReplaySelection {
  /** Inclusive lower bound on created_at, as ISO 8601 text. */
  from?: string;
  /** Exclusive upper bound on created_at, as ISO 8601 text. */
  to?: string;
  /** Inclusive bounds on id, compared as PostgreSQL compares uuid values (byte order). */
  fromId?: string;
  toId?: string;
  ids: string[];
  aggregateIds: string[];
  eventTypes: string[];
}

export function isEmptySelection(selection: ReplaySelection): boolean {
  return (
    selection.from === undefined &&
    selection.to === undefined &&
    selection.fromId === undefined &&
    selection.toId === undefined &&
    selection.ids.length === 0 &&
    selection.aggregateIds.length === 0 &&
    selection.eventTypes.length === 0
  );
}

/** Builds the WHERE clause of a selection with numbered parameters; values never enter the SQL text. */
export function whereClause(selection: ReplaySelection): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const parameter = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };

  if (selection.from !== undefined) conditions.push(`created_at >= ${parameter(selection.from)}::timestamptz`);
  if (selection.to !== undefined) conditions.push(`created_at < ${parameter(selection.to)}::timestamptz`);
  if (selection.fromId !== undefined) conditions.push(`id >= ${parameter(selection.fromId)}::uuid`);
  if (selection.toId !== undefined) conditions.push(`id <= ${parameter(selection.toId)}::uuid`);
  if (selection.ids.length > 0) conditions.push(`id = ANY(${parameter(selection.ids)}::uuid[])`);
  if (selection.aggregateIds.length > 0) conditions.push(`aggregate_id = ANY(${parameter(selection.aggregateIds)}::text[])`);
  if (selection.eventTypes.length > 0) conditions.push(`event_type = ANY(${parameter(selection.eventTypes)}::text[])`);

  return { sql: conditions.length === 0 ? 'TRUE' : conditions.join(' AND '), params };
}
