import { BufferReader } from '../decoder/reader.js';
import { DecodeError } from '../decoder/errors.js';
import type { Lsn } from '../lsn.js';
import { unixMicrosToPgTimestamp, type PgTimestamp } from '../decoder/messages.js';

/** CopyData payloads of the streaming replication protocol, with the protocol letter beside each. */
export const ReplicationCode = {
  XLogData: 0x77, // 'w'
  PrimaryKeepalive: 0x6b, // 'k'
  StandbyStatusUpdate: 0x72, // 'r'
} as const;

export interface XLogData {
  tag: 'XLogData';
  /** WAL position where this message's data starts. */
  dataStart: Lsn;
  /** The server's current end of WAL. Never an acknowledgement position by itself. */
  walEnd: Lsn;
  serverTime: PgTimestamp;
  data: Buffer;
}

export interface PrimaryKeepalive {
  tag: 'PrimaryKeepalive';
  walEnd: Lsn;
  serverTime: PgTimestamp;
  replyRequested: boolean;
}

export type ReplicationMessage = XLogData | PrimaryKeepalive;

const XLOG_DATA_HEADER = 1 + 8 + 8 + 8;
const STANDBY_STATUS_UPDATE_LENGTH = 1 + 8 + 8 + 8 + 8 + 1;

/** Decodes one CopyData payload sent by a walsender during START_REPLICATION. */
export function decodeReplicationMessage(bytes: Buffer): ReplicationMessage {
  const reader = new BufferReader(bytes);
  const code = reader.uint8('replication message code');

  if (code === ReplicationCode.XLogData) {
    if (bytes.length < XLOG_DATA_HEADER) reader.fail('truncated XLogData header');
    const dataStart = reader.lsn('XLogData start');
    const walEnd = reader.lsn('XLogData WAL end');
    const serverTime = reader.int64('XLogData server time');
    // A view, not a copy: the pgoutput decoder copies the few values it keeps.
    return { tag: 'XLogData', dataStart, walEnd, serverTime, data: bytes.subarray(XLOG_DATA_HEADER) };
  }

  if (code === ReplicationCode.PrimaryKeepalive) {
    const walEnd = reader.lsn('keepalive WAL end');
    const serverTime = reader.int64('keepalive server time');
    const replyRequested = reader.uint8('keepalive reply flag') === 1;
    reader.expectEnd('PrimaryKeepalive');
    return { tag: 'PrimaryKeepalive', walEnd, serverTime, replyRequested };
  }

  throw new DecodeError(`unknown replication message code 0x${code.toString(16)}; expected 'w' (XLogData) or 'k' (keepalive)`, bytes, 0);
}

/**
 * Encodes a standby status update. Written, flushed and applied are all the durable position:
 * the relay has nothing that is written but not yet durable worth reporting, and the server
 * frees WAL up to the flush position.
 */
export function encodeStandbyStatusUpdate(durable: Lsn, nowUnixMicros: bigint, replyRequested = false): Buffer {
  const buffer = Buffer.alloc(STANDBY_STATUS_UPDATE_LENGTH);
  let offset = buffer.writeUInt8(ReplicationCode.StandbyStatusUpdate, 0);
  offset = buffer.writeBigUInt64BE(durable, offset);
  offset = buffer.writeBigUInt64BE(durable, offset);
  offset = buffer.writeBigUInt64BE(durable, offset);
  offset = buffer.writeBigInt64BE(unixMicrosToPgTimestamp(nowUnixMicros), offset);
  buffer.writeUInt8(replyRequested ? 1 : 0, offset);
  return buffer;
}
