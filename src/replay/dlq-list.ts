import { toDeadLetterEntry, matchesFilter, type DeadLetterEntry, type DeadLetterFilter } from './dead-letter-entry.js';
import { RedriveLog } from './redrive-log.js';
import { readTopicToEnd, type KafkaConnection } from './topic-reader.js';
import type { Logger } from 'pino';

export interface ListedDeadLetter extends DeadLetterEntry {
  /** True when the redrive log records this letter's outbox event as published again. */
  redriven: boolean;
}

export interface DeadLetterListing {
  topicExists: boolean;
  letters: ListedDeadLetter[];
  /** Per reason: how many letters, and how many of them were redriven. */
  summary: Map<string, { total: number; redriven: number }>;
}

/** Reads the dead-letter topic from the beginning to its end (read_committed), without payloads. */
export async function listDeadLetters(connection: KafkaConnection, topic: string, logTopic: string, filter: DeadLetterFilter, log: Logger): Promise<DeadLetterListing> {
  const redriven = await new RedriveLog(connection, logTopic, log).readRedrivenIds();
  const letters: ListedDeadLetter[] = [];
  const topicExists = await readTopicToEnd(connection, topic, 'outbox-relay-dlq-reader', (message) => {
    const entry = toDeadLetterEntry(message);
    if (matchesFilter(entry, filter)) letters.push({ ...entry, redriven: entry.outboxId !== '' && redriven.has(entry.outboxId) });
  });
  letters.sort((a, b) => a.partition - b.partition || a.offset - b.offset);

  const summary = new Map<string, { total: number; redriven: number }>();
  for (const letter of letters) {
    const counts = summary.get(letter.reason) ?? { total: 0, redriven: 0 };
    counts.total++;
    if (letter.redriven) counts.redriven++;
    summary.set(letter.reason, counts);
  }
  return { topicExists, letters, summary };
}
