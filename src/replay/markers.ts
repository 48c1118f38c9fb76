import type { Headers, KafkaRecord } from '../outbox/record.js';

/** Headers that mark a replayed record. */
export const REPLAY_HEADERS = { replay: 'replay', id: 'replay.id', at: 'replay.at' } as const;

/** Headers that mark a record moved back from the dead-letter topic. */
export const REDRIVE_HEADERS = {
  redriven: 'redriven',
  id: 'redrive.id',
  at: 'redrive.at',
  deadLetter: 'redrive.dead_letter',
} as const;

/**
 * Adds marker headers to a record. A metadata key with a marker's name moves to
 * `metadata.<name>`, as toKafkaRecord does with the relay's own header names, so that neither
 * value is lost.
 */
export function withMarkers(record: KafkaRecord, markers: Headers): KafkaRecord {
  const headers: Headers = { ...record.headers };
  for (const [name, value] of Object.entries(markers)) {
    const existing = headers[name];
    if (existing !== undefined) headers[`metadata.${name}`] = existing;
    headers[name] = value;
  }
  return { ...record, headers };
}
