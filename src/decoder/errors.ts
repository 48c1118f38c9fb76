/** A pgoutput or replication message that cannot be decoded. Never retriable: the bytes will not change. */
export class DecodeError extends Error {
  readonly retriable = false;

  constructor(message: string, readonly bytes: Buffer, readonly offset: number) {
    super(`${message} at byte ${offset} of ${bytes.length}: ${hexDump(bytes, offset)}`);
    this.name = 'DecodeError';
  }
}

const DUMP_LIMIT = 64;

/** Hex of the first bytes of a message, with the cursor marked by `|`, for error messages. */
export function hexDump(bytes: Buffer, cursor?: number): string {
  const shown = bytes.subarray(0, DUMP_LIMIT);
  const parts: string[] = [];
  for (let i = 0; i < shown.length; i++) {
    if (i === cursor) parts.push('|');
    parts.push(shown[i]!.toString(16).padStart(2, '0'));
  }
  if (cursor === shown.length && cursor === bytes.length) parts.push('|');
  const more = bytes.length > DUMP_LIMIT ? ` …(+${bytes.length - DUMP_LIMIT} bytes)` : '';
  return parts.join(' ') + more;
}
