/** Base of the relay's own errors: a code for metrics and logs, and whether a retry can help. */
export class RelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RelayError';
  }
}

/** Another producer with the same transactional id took over; this instance must stop producing and acknowledging. */
export class FencedError extends RelayError {
  constructor(transactionalId: string, cause: unknown) {
    super('producer_fenced', `producer with transactional id "${transactionalId}" was fenced, by a newer instance or because its transaction timed out; nothing past the last commit is acknowledged`, true, { cause });
    this.name = 'FencedError';
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
