import type { Logger } from 'pino';

const REPEAT_WINDOW_MS = 10_000;

/**
 * Routes the Kafka client's log lines into pino. librdkafka repeats a connection error on every
 * reconnect attempt, so an identical line is written at most once per window.
 */
export function kafkaLogger(log: Logger): Record<string, unknown> {
  const lastWritten = new Map<string, number>();
  const once = (message: string): boolean => {
    const now = Date.now();
    const last = lastWritten.get(message) ?? 0;
    if (now - last < REPEAT_WINDOW_MS) return false;
    if (lastWritten.size > 1000) lastWritten.clear();
    lastWritten.set(message, now);
    return true;
  };
  const fields = (extra: unknown): Record<string, unknown> => {
    const { fac, name } = (extra ?? {}) as { fac?: string; name?: string };
    return { facility: fac, client: name };
  };

  const adapter = {
    info: (message: string, extra?: unknown) => log.debug(fields(extra), message),
    warn: (message: string, extra?: unknown) => once(message) && log.warn(fields(extra), message),
    error: (message: string, extra?: unknown) => once(message) && log.warn(fields(extra), message),
    debug: (message: string, extra?: unknown) => log.trace(fields(extra), message),
    namespace: () => adapter,
    setLogLevel: () => undefined,
  };
  return adapter;
}

interface LibrdkafkaLogEvent {
  severity: number;
  fac: string;
  message: string;
  name?: string;
}

/** Routes the log lines of a client of librdkafka's own API, which carry syslog severities, the same way. */
export function librdkafkaLogListener(log: Logger): (event: LibrdkafkaLogEvent) => void {
  const adapter = kafkaLogger(log) as Record<'error' | 'warn' | 'info' | 'debug', (message: string, extra?: unknown) => void>;
  return (event) => {
    adapter[levelOf(event.severity)](event.message, { fac: event.fac, name: event.name });
  };
}

function levelOf(severity: number): 'error' | 'warn' | 'info' | 'debug' {
  if (severity <= 3) return 'error';
  if (severity === 4) return 'warn';
  if (severity <= 6) return 'info';
  return 'debug';
}
