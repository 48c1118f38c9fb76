import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Invalid command-line input: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type ParsedFlags = Record<string, string | boolean | string[] | undefined>;

/** Parses flags with node:util parseArgs and turns its errors (unknown flag, missing value) into UsageError. */
export function parseFlags(args: string[], options: NonNullable<ParseArgsConfig['options']>): ParsedFlags {
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    return values as ParsedFlags;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Checks a UUID flag value and returns it in lower case, the form PostgreSQL prints. */
export function parseUuid(flag: string, text: string): string {
  const lower = text.trim().toLowerCase();
  if (!UUID.test(lower)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a UUID; expected 8-4-4-4-12 hexadecimal digits, such as 0190a4c2-7b1e-7d3a-9f00-2c5e8a1b3c4d`);
  return lower;
}

/** Splits repeated and comma-separated UUID flags (`--id a --id b,c`) into one list. */
export function parseUuidList(flag: string, values: string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(',')).filter((part) => part.trim() !== '').map((part) => parseUuid(flag, part));
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Checks an ISO 8601 timestamp flag. A time must carry Z or an offset, because the server's time
 * zone would otherwise decide what it means; a bare date means midnight UTC. The text itself goes
 * to PostgreSQL, which keeps microseconds that a JavaScript Date would drop.
 */
export function parseTimestamp(flag: string, text: string): { text: string; epochMs: number } {
  const trimmed = text.trim();
  const epochMs = Date.parse(/T/.test(trimmed) ? trimmed : `${trimmed}T00:00:00Z`);
  if (!ISO_TIMESTAMP.test(trimmed) || Number.isNaN(epochMs) || !isCalendarDate(trimmed.slice(0, 10))) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not an ISO 8601 timestamp with a time zone; use a date such as 2024-05-01 (midnight UTC) or a time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00`);
  }
  return { text: /T/.test(trimmed) ? trimmed : `${trimmed}T00:00:00Z`, epochMs };
}

/** Rejects dates such as 2024-02-30, which Date.parse rolls over into March. */
function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const LEGAL_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

export function parseTopic(flag: string, text: string): string {
  if (!LEGAL_TOPIC.test(text)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a legal Kafka topic name; use 1 to 249 letters, digits, ".", "_" or "-"`);
  return text;
}

export function parseNonNegativeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a number of 0 or more`);
  return value;
}
