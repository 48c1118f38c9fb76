import { describe, expect, it } from 'vitest';
import { decodeReplicationMessage, encodeStandbyStatusUpdate } from '../../src/wal/protocol.js';
import { DecodeError } from '../../src/decoder/errors.js';
import { Bytes, HIGH_LSN } from './fixtures.js';

describe('replication protocol', () => {
  it('decodes XLogData and exposes the pgoutput payload', () => {
    const bytes = new Bytes().char('w').uint64(0x100n).uint64(HIGH_LSN).int64(5n).raw('B-payload').build();

    const decoded = decodeReplicationMessage(bytes);

    expect(decoded).toMatchObject({ tag: 'XLogData', dataStart: 0x100n, walEnd: HIGH_LSN, serverTime: 5n });
    expect(decoded.tag === 'XLogData' && decoded.data.toString()).toBe('B-payload');
  });

  it('decodes a keepalive that requests a reply', () => {
    const bytes = new Bytes().char('k').uint64(HIGH_LSN).int64(9n).uint8(1).build();

    expect(decodeReplicationMessage(bytes)).toEqual({ tag: 'PrimaryKeepalive', walEnd: HIGH_LSN, serverTime: 9n, replyRequested: true });
  });

  it('rejects a keepalive cut at every byte boundary', () => {
    const bytes = new Bytes().char('k').uint64(HIGH_LSN).int64(9n).uint8(0).build();
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeReplicationMessage(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(DecodeError);
    }
  });

  it('rejects an XLogData header cut short', () => {
    const bytes = new Bytes().char('w').uint64(1n).build();

    expect(() => decodeReplicationMessage(bytes)).toThrow(/truncated XLogData header/);
  });

  it('encodes a standby status update with the durable LSN in all three positions', () => {
    const encoded = encodeStandbyStatusUpdate(HIGH_LSN, 946_684_800_000_000n + 42n);

    expect(encoded.length).toBe(34);
    expect(String.fromCharCode(encoded[0]!)).toBe('r');
    expect(encoded.readBigUInt64BE(1)).toBe(HIGH_LSN);
    expect(encoded.readBigUInt64BE(9)).toBe(HIGH_LSN);
    expect(encoded.readBigUInt64BE(17)).toBe(HIGH_LSN);
    expect(encoded.readBigInt64BE(25)).toBe(42n);
    expect(encoded[33]).toBe(0);
  });
});
