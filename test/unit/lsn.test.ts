import { describe, expect, it } from 'vitest';
import { LsnFormatError, formatLsn, lsnDistance, maxLsn, parseLsn } from '../../src/lsn.js';

describe('LSN', () => {
  it('parses and formats the X/X form', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
  });

  it('keeps values above 2^53 exact', () => {
    const text = '200000/1';
    const lsn = parseLsn(text);

    expect(lsn).toBe((0x200000n << 32n) + 1n);
    expect(lsn > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(formatLsn(lsn)).toBe(text);
    expect(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF'))).toBe('FFFFFFFF/FFFFFFFF');
  });

  it('orders numerically, not as text', () => {
    expect(parseLsn('10/0') > parseLsn('9/FFFFFFFF')).toBe(true);
    expect(maxLsn(parseLsn('A/0'), parseLsn('9/0'))).toBe(parseLsn('A/0'));
  });

  it.each(['', '0', '0/', '/0', 'x/1', '1/2/3', '123456789/0', '-1/0', '1 / 2'])('rejects malformed text %j', (text) => {
    expect(() => parseLsn(text)).toThrow(LsnFormatError);
  });

  it('names the bad value in the error', () => {
    expect(() => parseLsn('12-34')).toThrow(/invalid LSN "12-34"/);
  });

  it('measures distance without going negative', () => {
    expect(lsnDistance(parseLsn('0/200'), parseLsn('0/100'))).toBe(0x100n);
    expect(lsnDistance(parseLsn('0/100'), parseLsn('0/200'))).toBe(0n);
  });
});
