import { BufferReader } from './reader.js';
import { DecodeError } from './errors.js';
import {
  PgOutputCode,
  TupleColumnKind,
  type BeginMessage,
  type ColumnValue,
  type CommitMessage,
  type DeleteMessage,
  type InsertMessage,
  type LogicalMessage,
  type OriginMessage,
  type PgOutputMessage,
  type RelationColumn,
  type RelationMessage,
  type TruncateMessage,
  type TypeMessage,
  type UpdateMessage,
} from './messages.js';

const TRUNCATE_CASCADE = 1;
const TRUNCATE_RESTART_IDENTITY = 2;
const MESSAGE_TRANSACTIONAL = 1;
const COLUMN_FLAG_KEY = 1;
const OLD_TUPLE_KEY = 0x4b; // 'K'
const OLD_TUPLE_FULL = 0x4f; // 'O'
const NEW_TUPLE = 0x4e; // 'N'

/**
 * Decodes one pgoutput message (protocol version 1, the payload of one XLogData). Pure: no I/O
 * and no state, so relation lookups are the caller's job. Throws DecodeError with a hex dump on
 * an unknown message code, a truncated message or trailing bytes.
 */
export function decodePgOutput(bytes: Buffer): PgOutputMessage {
  const reader = new BufferReader(bytes);
  const code = reader.uint8('message code');

  let message: PgOutputMessage;
  switch (code) {
    case PgOutputCode.Begin:
      message = decodeBegin(reader);
      break;
    case PgOutputCode.Commit:
      message = decodeCommit(reader);
      break;
    case PgOutputCode.Origin:
      message = decodeOrigin(reader);
      break;
    case PgOutputCode.Relation:
      message = decodeRelation(reader);
      break;
    case PgOutputCode.Type:
      message = decodeType(reader);
      break;
    case PgOutputCode.Insert:
      message = decodeInsert(reader);
      break;
    case PgOutputCode.Update:
      message = decodeUpdate(reader);
      break;
    case PgOutputCode.Delete:
      message = decodeDelete(reader);
      break;
    case PgOutputCode.Truncate:
      message = decodeTruncate(reader);
      break;
    case PgOutputCode.Message:
      message = decodeLogicalMessage(reader);
      break;
    default:
      throw new DecodeError(`unknown pgoutput message code 0x${code.toString(16)} (${printable(code)}); protocol version 1 is expected`, bytes, 0);
  }

  reader.expectEnd(message.tag);
  return message;
}

function printable(code: number): string {
  return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : 'not a letter';
}

function decodeBegin(reader: BufferReader): BeginMessage {
  const finalLsn = reader.lsn('Begin final LSN');
  const commitTime = reader.int64('Begin commit timestamp');
  const xid = reader.uint32('Begin xid');
  return { tag: 'Begin', finalLsn, commitTime, xid };
}

function decodeCommit(reader: BufferReader): CommitMessage {
  const flags = reader.uint8('Commit flags');
  const commitLsn = reader.lsn('Commit LSN');
  const endLsn = reader.lsn('Commit end LSN');
  const commitTime = reader.int64('Commit timestamp');
  return { tag: 'Commit', flags, commitLsn, endLsn, commitTime };
}

function decodeOrigin(reader: BufferReader): OriginMessage {
  const commitLsn = reader.lsn('Origin commit LSN');
  const name = reader.cstring('Origin name');
  return { tag: 'Origin', commitLsn, name };
}

function decodeRelation(reader: BufferReader): RelationMessage {
  const relationOid = reader.uint32('Relation OID');
  const namespace = reader.cstring('Relation namespace');
  const name = reader.cstring('Relation name');
  const replicaIdentity = String.fromCharCode(reader.uint8('Relation replica identity'));
  const columnCount = reader.int16('Relation column count');

  const columns: RelationColumn[] = [];
  for (let i = 0; i < columnCount; i++) {
    const flags = reader.uint8('column flags');
    const columnName = reader.cstring('column name');
    const typeOid = reader.uint32('column type OID');
    const typeModifier = reader.int32('column type modifier');
    columns.push({ isKey: (flags & COLUMN_FLAG_KEY) !== 0, name: columnName, typeOid, typeModifier });
  }
  return { tag: 'Relation', relationOid, namespace, name, replicaIdentity, columns };
}

function decodeType(reader: BufferReader): TypeMessage {
  const typeOid = reader.uint32('Type OID');
  const namespace = reader.cstring('Type namespace');
  const name = reader.cstring('Type name');
  return { tag: 'Type', typeOid, namespace, name };
}

function decodeInsert(reader: BufferReader): InsertMessage {
  const relationOid = reader.uint32('Insert relation OID');
  expectTupleMarker(reader, NEW_TUPLE, 'Insert');
  const newTuple = decodeTupleData(reader);
  return { tag: 'Insert', relationOid, newTuple };
}

function decodeUpdate(reader: BufferReader): UpdateMessage {
  const relationOid = reader.uint32('Update relation OID');
  let marker = reader.uint8('Update tuple marker');

  let oldTuple: ColumnValue[] | undefined;
  let oldTupleKind: 'key' | 'old' | undefined;
  if (marker === OLD_TUPLE_KEY || marker === OLD_TUPLE_FULL) {
    oldTupleKind = marker === OLD_TUPLE_KEY ? 'key' : 'old';
    oldTuple = decodeTupleData(reader);
    marker = reader.uint8('Update new tuple marker');
  }
  if (marker !== NEW_TUPLE) reader.fail(`Update expected new tuple marker 'N', found 0x${marker.toString(16)}`);

  const newTuple = decodeTupleData(reader);
  return { tag: 'Update', relationOid, oldTuple, oldTupleKind, newTuple };
}

function decodeDelete(reader: BufferReader): DeleteMessage {
  const relationOid = reader.uint32('Delete relation OID');
  const marker = reader.uint8('Delete tuple marker');
  if (marker !== OLD_TUPLE_KEY && marker !== OLD_TUPLE_FULL) {
    reader.fail(`Delete expected tuple marker 'K' or 'O', found 0x${marker.toString(16)}`);
  }
  const oldTuple = decodeTupleData(reader);
  return { tag: 'Delete', relationOid, oldTupleKind: marker === OLD_TUPLE_KEY ? 'key' : 'old', oldTuple };
}

function decodeTruncate(reader: BufferReader): TruncateMessage {
  const relationCount = reader.uint32('Truncate relation count');
  const options = reader.uint8('Truncate options');

  const relationOids: number[] = [];
  for (let i = 0; i < relationCount; i++) relationOids.push(reader.uint32('Truncate relation OID'));
  return {
    tag: 'Truncate',
    cascade: (options & TRUNCATE_CASCADE) !== 0,
    restartIdentity: (options & TRUNCATE_RESTART_IDENTITY) !== 0,
    relationOids,
  };
}

function decodeLogicalMessage(reader: BufferReader): LogicalMessage {
  const flags = reader.uint8('Message flags');
  const lsn = reader.lsn('Message LSN');
  const prefix = reader.cstring('Message prefix');
  const length = reader.int32('Message content length');
  const content = reader.bytesOf(length, 'Message content');
  return { tag: 'Message', transactional: (flags & MESSAGE_TRANSACTIONAL) !== 0, lsn, prefix, content };
}

function expectTupleMarker(reader: BufferReader, expected: number, what: string): void {
  const marker = reader.uint8(`${what} tuple marker`);
  if (marker !== expected) {
    reader.fail(`${what} expected tuple marker '${String.fromCharCode(expected)}', found 0x${marker.toString(16)}`);
  }
}

function decodeTupleData(reader: BufferReader): ColumnValue[] {
  const columnCount = reader.int16('TupleData column count');

  const values: ColumnValue[] = [];
  for (let i = 0; i < columnCount; i++) {
    const kind = reader.uint8('TupleData column kind');
    switch (kind) {
      case TupleColumnKind.Null:
        values.push({ kind: 'null' });
        break;
      case TupleColumnKind.UnchangedToast:
        values.push({ kind: 'unchanged-toast' });
        break;
      case TupleColumnKind.Text:
        values.push({ kind: 'text', bytes: reader.bytesOf(reader.int32('column length'), 'column value') });
        break;
      case TupleColumnKind.Binary:
        values.push({ kind: 'binary', bytes: reader.bytesOf(reader.int32('column length'), 'column value') });
        break;
      default:
        reader.fail(`unknown TupleData column kind 0x${kind.toString(16)} in column ${i}`);
    }
  }
  return values;
}
