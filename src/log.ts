import pino, { type Logger } from 'pino';

/** The root logger: JSON lines on stdout, secrets redacted if an error object ever carries them. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'outbox-relay' },
    redact: { paths: ['password', '*.password', 'databaseUrl', '*.databaseUrl', 'saslPassword', '*.saslPassword'], censor: '[redacted]' },
  });
}
