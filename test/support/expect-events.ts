import { expect } from 'vitest';
import type { ConsumedRecord } from './kafka.js';

/** Asserts that each expected outbox id arrived once, nothing else arrived, and per-aggregate versions rise. */
export function expectExactlyOnceInOrder(records: ConsumedRecord[], expectedIds: string[]): void {
  const seen = new Map<string, number>();
  for (const record of records) seen.set(record.headers.id!, (seen.get(record.headers.id!) ?? 0) + 1);

  const duplicated = [...seen].filter(([, count]) => count > 1).map(([id]) => id);
  const missing = expectedIds.filter((id) => !seen.has(id));
  const expected = new Set(expectedIds);
  const unexpected = [...seen.keys()].filter((id) => !expected.has(id));

  expect(duplicated, 'events delivered more than once').toEqual([]);
  expect(missing, 'committed events missing from Kafka').toEqual([]);
  expect(unexpected, 'events in Kafka that were never committed').toEqual([]);
  expect(outOfOrder(records), 'aggregates whose versions went backwards').toEqual([]);
}

/** Aggregates whose aggregate_version does not rise in partition order. */
export function outOfOrder(records: ConsumedRecord[]): string[] {
  const byPartition = new Map<string, ConsumedRecord[]>();
  for (const record of records) {
    const key = `${record.topic}/${record.partition}`;
    let partition = byPartition.get(key);
    if (partition === undefined) {
      partition = [];
      byPartition.set(key, partition);
    }
    partition.push(record);
  }

  const broken = new Set<string>();
  for (const partition of byPartition.values()) {
    const lastVersion = new Map<string, bigint>();
    for (const record of partition.sort((a, b) => a.offset - b.offset)) {
      const version = BigInt(record.headers.aggregate_version!);
      const previous = lastVersion.get(record.key);
      if (previous !== undefined && version <= previous) broken.add(record.key);
      lastVersion.set(record.key, version);
    }
  }
  return [...broken];
}
