/** A pgoutput or replication message that cannot be decoded. Never retriable: the bytes will not change. */
export class DecodeError extends Error {
  readonly retriable = false;

  constructor(message: string, readonly bytes: Buffer, readonly offset: number) {
    super(`${message} at byte ${offset} of ${bytes.length}: ${hexDump(bytes, offset)}`);
    this.name = 'DecodeError';
  }
}

const DUMP_LIMIT = 64;

/** Hex of the first bytes of a message, the byte at the cursor in brackets, for error messages. */
export function hexDump(bytes: Buffer, cursor?: number): string {
  const shown = bytes.subarray(0, DUMP_LIMIT);
  const parts: string[] = [];
  for (let i = 0; i < shown.length; i++) {
    const hex = shown[i]!.toString(16).padStart(2, '0');
    parts.push(i === cursor ? `[${hex}]` : hex);
  }
  if (cursor === bytes.length) parts.push('[]');
  const more = bytes.length > DUMP_LIMIT ? ` …(+${bytes.length - DUMP_LIMIT} bytes)` : '';
  return parts.join(' ') + more;
}
