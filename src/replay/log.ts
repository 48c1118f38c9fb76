import pino, { type Logger } from 'pino';

/**
 * Creates the logger of the one-shot commands (replay, dlq): JSON lines on stderr, so that stdout carries
 * only the command's report, such as `dlq list --json`. It redacts the same fields as src/log.ts.
 */
export function createCommandLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'outbox-relay' },
      redact: { paths: ['password', '*.password', 'databaseUrl', '*.databaseUrl', 'saslPassword', '*.saslPassword'], censor: '[redacted]' },
    },
    pino.destination(2),
  );
}

/** LOG_LEVEL when it is set; otherwise warn, because info lines would bury the command's own output. */
export function commandLogLevel(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? 'warn' : configured;
}
