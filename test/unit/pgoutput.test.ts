import { describe, expect, it } from 'vitest';
import { decodePgOutput } from '../../src/decoder/pgoutput.js';
import { DecodeError } from '../../src/decoder/errors.js';
import { formatPgTimestamp, type PgOutputMessage } from '../../src/decoder/messages.js';
import { Bytes, HIGH_LSN } from './fixtures.js';

const begin = new Bytes().char('B').uint64(HIGH_LSN).int64(789_000_000_123_456n).uint32(4_000_000_000).build();
const commit = new Bytes().char('C').uint8(0).uint64(0x1_6b37_4d48n).uint64(0x1_6b37_4d78n).int64(1n).build();
const origin = new Bytes().char('O').uint64(0x10n).cstring('node_a').build();
const relation = new Bytes()
  .char('R')
  .uint32(16_401)
  .cstring('public')
  .cstring('outbox_events')
  .char('d')
  .int16(2)
  .uint8(1)
  .cstring('id')
  .uint32(2950)
  .int32(-1)
  .uint8(0)
  .cstring('event_data')
  .uint32(3802)
  .int32(-1)
  .build();
const type = new Bytes().char('Y').uint32(90_001).cstring('public').cstring('mood').build();
const insert = new Bytes().char('I').uint32(16_401).char('N').int16(3).textColumn('6a1c').char('n').textColumn('{"n": 9007199254740993}').build();
const updateWithOld = new Bytes().char('U').uint32(16_401).char('O').int16(1).textColumn('a').char('N').int16(2).textColumn('b').char('u').build();
const updatePlain = new Bytes().char('U').uint32(16_401).char('N').int16(1).textColumn('b').build();
const deleteKey = new Bytes().char('D').uint32(16_401).char('K').int16(1).textColumn('6a1c').build();
const truncate = new Bytes().char('T').uint32(2).uint8(3).uint32(16_401).uint32(16_402).build();
const message = new Bytes().char('M').uint8(1).uint64(HIGH_LSN).cstring('other-app').int32(1).raw('x').build();

const fixtures: [string, Buffer][] = [
  ['Begin', begin],
  ['Commit', commit],
  ['Origin', origin],
  ['Relation', relation],
  ['Type', type],
  ['Insert', insert],
  ['Update', updateWithOld],
  ['Delete', deleteKey],
  ['Truncate', truncate],
  ['Message', message],
];

describe('pgoutput decoder', () => {
  it('decodes Begin with a 64-bit final LSN and an unsigned xid', () => {
    const decoded = decodePgOutput(begin);

    expect(decoded).toEqual({ tag: 'Begin', finalLsn: HIGH_LSN, commitTime: 789_000_000_123_456n, xid: 4_000_000_000 });
  });

  it('decodes Commit with commit LSN and end LSN', () => {
    expect(decodePgOutput(commit)).toEqual({ tag: 'Commit', flags: 0, commitLsn: 0x1_6b37_4d48n, endLsn: 0x1_6b37_4d78n, commitTime: 1n });
  });

  it('decodes Origin', () => {
    expect(decodePgOutput(origin)).toEqual({ tag: 'Origin', commitLsn: 0x10n, name: 'node_a' });
  });

  it('decodes Relation with key flags and type OIDs', () => {
    const decoded = decodePgOutput(relation);

    expect(decoded).toEqual({
      tag: 'Relation',
      relationOid: 16_401,
      namespace: 'public',
      name: 'outbox_events',
      replicaIdentity: 'd',
      columns: [
        { isKey: true, name: 'id', typeOid: 2950, typeModifier: -1 },
        { isKey: false, name: 'event_data', typeOid: 3802, typeModifier: -1 },
      ],
    });
  });

  it('decodes Type', () => {
    expect(decodePgOutput(type)).toEqual({ tag: 'Type', typeOid: 90_001, namespace: 'public', name: 'mood' });
  });

  it('decodes Insert keeping text values as raw bytes', () => {
    const decoded = decodePgOutput(insert);

    expect(decoded.tag).toBe('Insert');
    if (decoded.tag !== 'Insert') return;
    expect(decoded.relationOid).toBe(16_401);
    expect(decoded.newTuple[1]).toEqual({ kind: 'null' });
    expect(decoded.newTuple[2]).toEqual({ kind: 'text', bytes: Buffer.from('{"n": 9007199254740993}') });
  });

  it('decodes Update with an old tuple and an unchanged TOAST value', () => {
    const decoded = decodePgOutput(updateWithOld);

    expect(decoded).toMatchObject({ tag: 'Update', oldTupleKind: 'old', newTuple: [{ kind: 'text' }, { kind: 'unchanged-toast' }] });
  });

  it('decodes Update without an old tuple', () => {
    expect(decodePgOutput(updatePlain)).toMatchObject({ tag: 'Update', oldTuple: undefined, newTuple: [{ kind: 'text' }] });
  });

  it('decodes Delete with a key tuple', () => {
    expect(decodePgOutput(deleteKey)).toMatchObject({ tag: 'Delete', relationOid: 16_401, oldTupleKind: 'key' });
  });

  it('decodes Truncate options and relations', () => {
    expect(decodePgOutput(truncate)).toEqual({ tag: 'Truncate', cascade: true, restartIdentity: true, relationOids: [16_401, 16_402] });
  });

  it('decodes a transactional logical Message', () => {
    expect(decodePgOutput(message)).toEqual({ tag: 'Message', transactional: true, lsn: HIGH_LSN, prefix: 'other-app', content: Buffer.from('x') });
  });

  it.each(fixtures)('rejects %s cut at every byte boundary', (_, bytes) => {
    for (let cut = 0; cut < bytes.length; cut++) {
      const prefix = bytes.subarray(0, cut);

      expect(() => decodePgOutput(prefix), `cut at ${cut}`).toThrow(DecodeError);
    }
  });

  it.each(fixtures)('decodes %s reassembled from two parts split at every byte boundary', (_, bytes) => {
    const whole = decodePgOutput(bytes);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const joined = Buffer.concat([bytes.subarray(0, cut), bytes.subarray(cut)]);

      expect(decodePgOutput(joined) as PgOutputMessage, `split at ${cut}`).toEqual(whole);
    }
  });

  it('rejects trailing bytes', () => {
    const padded = Buffer.concat([commit, Buffer.from([0])]);

    expect(() => decodePgOutput(padded)).toThrow(/1 unexpected trailing bytes after Commit/);
  });

  it('rejects an unknown message code with a hex dump', () => {
    const unknown = Buffer.from([0x5a, 0x01, 0x02]);

    expect(() => decodePgOutput(unknown)).toThrow(/unknown pgoutput message code 0x5a \('Z'\).*: \[5a\] 01 02$/);
  });

  it('rejects a stream message of protocol 2', () => {
    const streamStart = new Bytes().char('S').uint32(7).uint8(1).build();

    expect(() => decodePgOutput(streamStart)).toThrow(/protocol version 1 is expected/);
  });

  it('rejects an unknown tuple column kind', () => {
    const bad = new Bytes().char('I').uint32(1).char('N').int16(1).char('q').build();

    expect(() => decodePgOutput(bad)).toThrow(/unknown TupleData column kind 0x71 in column 0/);
  });
});

describe('PostgreSQL timestamps', () => {
  it('formats microseconds since 2000 as ISO 8601 with six digits', () => {
    expect(formatPgTimestamp(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(formatPgTimestamp(1_234_567n)).toBe('2000-01-01T00:00:01.234567Z');
  });

  it('formats instants before 2000 and before 1970', () => {
    expect(formatPgTimestamp(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    expect(formatPgTimestamp(-946_684_800_000_001n)).toBe('1969-12-31T23:59:59.999999Z');
  });
});
