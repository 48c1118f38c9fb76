/** One error that ended a relay attempt, as the dashboard and /api/status show it. */
export interface RecentError {
  /** ISO 8601 time at which the relay caught the error. */
  time: string;
  code: string;
  message: string;
}

/** Capacity of the ring buffer: enough to show a retry loop's pattern without growing. */
export const RECENT_ERROR_CAPACITY = 20;

/** Longest message kept, in characters; a Kafka or PostgreSQL error can carry pages of detail. */
const MAX_MESSAGE_LENGTH = 1000;

/**
 * The user info of URLs such as postgres://user:password@host. The dashboard is served without
 * authentication, so a message that quotes a connection string must not carry its password there.
 */
const URL_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;

/** The last errors the relay recorded, newest first, with passwords in URLs removed. */
export class RecentErrors {
  private readonly entries: RecentError[] = [];

  constructor(private readonly capacity = RECENT_ERROR_CAPACITY) {}

  record(code: string, message: string, at = new Date()): void {
    this.entries.unshift({ time: at.toISOString(), code, message: redact(message) });
    if (this.entries.length > this.capacity) this.entries.length = this.capacity;
  }

  list(): RecentError[] {
    return this.entries.map((entry) => ({ ...entry }));
  }
}

/** Replaces the user info of URLs with "***" and truncates the message to MAX_MESSAGE_LENGTH. */
export function redact(message: string): string {
  const clean = message.replace(URL_USER_INFO, '$1***@');
  return clean.length > MAX_MESSAGE_LENGTH ? `${clean.slice(0, MAX_MESSAGE_LENGTH)}…` : clean;
}
