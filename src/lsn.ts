/**
 * PostgreSQL log sequence numbers. An LSN is an unsigned 64-bit byte position in the WAL, so it
 * lives in a bigint: a JavaScript number loses precision above 2^53 and string order is wrong.
 */
export type Lsn = bigint;

export const INVALID_LSN: Lsn = 0n;
const MAX_LSN: Lsn = (1n << 64n) - 1n;
const TEXT_FORM = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export class LsnFormatError extends Error {
  constructor(readonly text: string) {
    super(`invalid LSN ${JSON.stringify(text)}: expected two hexadecimal numbers of up to 8 digits joined by "/", such as 16/B374D848`);
    this.name = 'LsnFormatError';
  }
}

/** Parses the `X/X` text form that PostgreSQL prints (pg_lsn). */
export function parseLsn(text: string): Lsn {
  const match = TEXT_FORM.exec(text.trim());
  if (!match) throw new LsnFormatError(text);

  const high = BigInt('0x' + match[1]);
  const low = BigInt('0x' + match[2]);
  return (high << 32n) | low;
}

/** Formats an LSN the way PostgreSQL prints it: upper-case hex without leading zeros. */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN ${lsn} is outside the unsigned 64-bit range`);

  const high = lsn >> 32n;
  const low = lsn & 0xffffffffn;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}

/** Bytes from `from` to `to`, never negative: a position behind `from` counts as no lag. */
export function lsnDistance(to: Lsn, from: Lsn): bigint {
  return to > from ? to - from : 0n;
}
