import type { Lsn } from '../lsn.js';

/** pgoutput message codes (protocol version 1), with the protocol letter beside each. */
export const PgOutputCode = {
  Begin: 0x42, // 'B'
  Commit: 0x43, // 'C'
  Origin: 0x4f, // 'O'
  Relation: 0x52, // 'R'
  Type: 0x59, // 'Y'
  Insert: 0x49, // 'I'
  Update: 0x55, // 'U'
  Delete: 0x44, // 'D'
  Truncate: 0x54, // 'T'
  Message: 0x4d, // 'M'
} as const;

/** Tuple column kinds inside TupleData. */
export const TupleColumnKind = {
  Null: 0x6e, // 'n'
  UnchangedToast: 0x75, // 'u'
  Text: 0x74, // 't'
  Binary: 0x62, // 'b', sent only with the binary option of protocol 2 and later
} as const;

/** Microseconds since 2000-01-01 00:00:00 UTC, PostgreSQL's timestamp epoch. */
export type PgTimestamp = bigint;

/**
 * One column value as pgoutput sends it. Text values stay raw bytes: the relay passes them on
 * without parsing, so jsonb text and numerals survive byte for byte.
 */
export type ColumnValue = { kind: 'null' } | { kind: 'unchanged-toast' } | { kind: 'text'; bytes: Buffer } | { kind: 'binary'; bytes: Buffer };

export interface RelationColumn {
  isKey: boolean;
  name: string;
  typeOid: number;
  typeModifier: number;
}

export interface BeginMessage {
  tag: 'Begin';
  /** LSN of the commit record: every message up to the matching Commit belongs to it. */
  finalLsn: Lsn;
  commitTime: PgTimestamp;
  xid: number;
}

export interface CommitMessage {
  tag: 'Commit';
  flags: number;
  commitLsn: Lsn;
  /** The LSN just past the commit record: the position to acknowledge once it is durable downstream. */
  endLsn: Lsn;
  commitTime: PgTimestamp;
}

export interface OriginMessage {
  tag: 'Origin';
  commitLsn: Lsn;
  name: string;
}

export interface RelationMessage {
  tag: 'Relation';
  relationOid: number;
  namespace: string;
  name: string;
  replicaIdentity: string;
  columns: RelationColumn[];
}

export interface TypeMessage {
  tag: 'Type';
  typeOid: number;
  namespace: string;
  name: string;
}

export interface InsertMessage {
  tag: 'Insert';
  relationOid: number;
  newTuple: ColumnValue[];
}

export interface UpdateMessage {
  tag: 'Update';
  relationOid: number;
  /** Present when the replica identity is FULL ('O') or the key changed ('K'). */
  oldTuple?: ColumnValue[];
  oldTupleKind?: 'key' | 'old';
  newTuple: ColumnValue[];
}

export interface DeleteMessage {
  tag: 'Delete';
  relationOid: number;
  oldTupleKind: 'key' | 'old';
  oldTuple: ColumnValue[];
}

export interface TruncateMessage {
  tag: 'Truncate';
  cascade: boolean;
  restartIdentity: boolean;
  relationOids: number[];
}

export interface LogicalMessage {
  tag: 'Message';
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Buffer;
}

export type PgOutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

const PG_EPOCH_UNIX_MICROS = 946_684_800_000_000n;

export function pgTimestampToUnixMicros(timestamp: PgTimestamp): bigint {
  return timestamp + PG_EPOCH_UNIX_MICROS;
}

export function unixMicrosToPgTimestamp(unixMicros: bigint): PgTimestamp {
  return unixMicros - PG_EPOCH_UNIX_MICROS;
}

/** ISO 8601 in UTC with all six fractional digits, which a Date would cut to milliseconds. */
export function formatPgTimestamp(timestamp: PgTimestamp): string {
  const unixMicros = pgTimestampToUnixMicros(timestamp);
  const millis = unixMicros / 1000n - (unixMicros % 1000n < 0n ? 1n : 0n);
  const micros = unixMicros - millis * 1000n;
  const iso = new Date(Number(millis)).toISOString();
  return `${iso.slice(0, -1)}${micros.toString().padStart(3, '0')}Z`;
}
