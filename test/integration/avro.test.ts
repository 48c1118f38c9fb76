import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, insertEvents, slotConfirmedFlush, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv, runCli, startRelay } from '../support/relay-process.js';
import { parseLsn } from '../../src/lsn.js';

const root = path.resolve(import.meta.dirname, '../..');

/** The default payload of insertEvents, { aggregate, version }, plus an optional note. */
function orderPlacedSchema(namespace: string, versionType: string = 'long'): object {
  return {
    type: 'record',
    name: 'OrderPlaced',
    namespace,
    fields: [
      { name: 'aggregate', type: 'string' },
      { name: 'version', type: versionType },
      { name: 'note', type: ['null', 'string'], default: null },
    ],
  };
}

function schemaDir(schemas: Record<string, object>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'outbox-avro-'));
  for (const [eventType, schema] of Object.entries(schemas)) writeFileSync(path.join(dir, `${eventType}.avsc`), JSON.stringify(schema));
  return dir;
}

function avroEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { OUTBOX_AVRO_SCHEMA_DIR: dir, OUTBOX_SCHEMA_REGISTRY_URL: inject('schemaRegistryUrl'), ...extra };
}

function registryPort(): string {
  return new URL(inject('schemaRegistryUrl')).port;
}

describe('Avro encoding', () => {
  let db: TestDatabase;
  const dirs: string[] = [];
  const registry = new SchemaRegistry({ host: inject('schemaRegistryUrl') });

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes configured event types as Confluent Avro', async () => {
    const slot = uniqueName('avro');
    const topic = `${slot}.order-events`;
    const dir = schemaDir({ OrderPlaced: orderPlacedSchema(`test.${slot}`) });
    dirs.push(dir);
    const relay = startRelay(relayEnv(db.url, slot, avroEnv(dir)));
    await relay.waitForLog(/"state":"streaming"/);

    const ids = await insertEvents(db.sql, [
      { aggregateId: 'a1', aggregateVersion: 1 },
      { aggregateId: 'a1', aggregateVersion: 2, eventData: JSON.stringify({ aggregate: 'a1', version: 2, note: 'gift' }) },
      { aggregateId: 'a1', aggregateVersion: 3, eventType: 'OrderNoted', eventData: JSON.stringify({ text: 'stays JSON' }) },
    ]);
    const records = await readCommitted([topic], { expected: 3 });
    expect(await relay.stop()).toBe(0);

    expect(records.map((r) => r.headers.id)).toEqual(ids);
    const schemaId = await registry.getLatestSchemaId(`${topic}-value`);
    const [first, second, third] = records;
    expect(first!.value[0]).toBe(0);
    expect(first!.value.readInt32BE(1)).toBe(schemaId);
    expect(await registry.decode(first!.value)).toEqual({ aggregate: 'a1', version: 1, note: null });
    expect(await registry.decode(second!.value)).toEqual({ aggregate: 'a1', version: 2, note: 'gift' });
    expect(JSON.parse(third!.value.toString('utf8'))).toEqual({ text: 'stays JSON' });
    const compatibility = await (await fetch(`${inject('schemaRegistryUrl')}/config/${topic}-value`)).json();
    expect(compatibility).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('dead-letters a payload that does not match its schema', async () => {
    const slot = uniqueName('avrobad');
    const topic = `${slot}.order-events`;
    const deadLetters = `${slot}.dead-letters`;
    const dir = schemaDir({ OrderPlaced: orderPlacedSchema(`test.${slot}`) });
    dirs.push(dir);
    const relay = startRelay(relayEnv(db.url, slot, avroEnv(dir, { OUTBOX_DEAD_LETTER_TOPIC: deadLetters })));
    await relay.waitForLog(/"state":"streaming"/);

    await db.sql.query('BEGIN');
    const before = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 1 }]);
    const [bad] = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 2, eventData: JSON.stringify({ aggregate: 'm', version: 'two' }) }]);
    const [undeclared] = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 3, eventData: JSON.stringify({ aggregate: 'm', version: 3, extra: true }) }]);
    const after = await insertEvents(db.sql, [{ aggregateId: 'm', aggregateVersion: 4 }]);
    await db.sql.query('COMMIT');

    const published = await readCommitted([topic], { expected: 2 });
    const parked = await readCommitted([deadLetters], { expected: 2 });
    expect(await relay.stop()).toBe(0);

    expect(published.map((r) => r.headers.id)).toEqual([...before, ...after]);
    expect(await registry.decode(published[1]!.value)).toEqual({ aggregate: 'm', version: 4, note: null });
    expect(parked.map((r) => r.headers['dlq.outbox_id'])).toEqual([bad, undeclared]);
    expect(parked.map((r) => r.headers['dlq.reason'])).toEqual(['schema_mismatch', 'schema_mismatch']);
    expect(parked[0]!.headers['dlq.error']).toMatch(/field version is "two", not a valid long/);
    expect(parked[0]!.headers['dlq.original_topic']).toBe(topic);
    expect(JSON.parse(parked[0]!.value.toString('utf8'))).toEqual({ aggregate: 'm', version: 'two' });
    expect(parked[1]!.headers['dlq.error']).toMatch(/does not match Avro schema test\.\w+\.OrderPlaced/);
  });

  it('pauses while the registry is down and resumes after it', async () => {
    const slot = uniqueName('avrodown');
    const dir = schemaDir({ OrderPlaced: orderPlacedSchema(`test.${slot}`) });
    dirs.push(dir);
    const relay = startRelay(relayEnv(db.url, slot, avroEnv(dir)));
    await relay.waitForLog(/"state":"streaming"/);
    const [known] = await insertEvents(db.sql, [{ aggregateId: 'd', aggregateVersion: 1 }]);
    await readCommitted([`${slot}.order-events`], { expected: 1 });

    execFileSync(path.join(root, 'scripts/registry/stop'), [inject('registryDir')], { stdio: 'inherit' });
    try {
      // The subject of topic <slot>.order-events has a cached id, so this event needs no registry.
      const [cached] = await insertEvents(db.sql, [{ aggregateId: 'd', aggregateVersion: 2 }]);
      const orders = await readCommitted([`${slot}.order-events`], { expected: 2 });
      expect(orders.map((r) => r.headers.id)).toEqual([known, cached]);

      const lsnBefore = parseLsn((await db.sql.query(`SELECT pg_current_wal_lsn()::text AS lsn`)).rows[0].lsn);
      const [invoice] = await insertEvents(db.sql, [{ aggregateId: 'd', aggregateVersion: 3, aggregateType: 'invoice' }]);
      const [later] = await insertEvents(db.sql, [{ aggregateId: 'd', aggregateVersion: 4 }]);
      await relay.waitForLog(/"code":"schema_registry_unavailable"[^\n]*relay attempt failed; retrying/);
      await new Promise((resolve) => setTimeout(resolve, 2000));

      expect(await readCommitted([`${slot}.invoice-events`], { expected: 1, timeoutMs: 1000 })).toEqual([]);
      expect((await readCommitted([`${slot}.order-events`], { expected: 3, timeoutMs: 1000 })).map((r) => r.headers.id)).toEqual([known, cached]);
      expect(parseLsn((await slotConfirmedFlush(db.sql, slot))!)).toBeLessThanOrEqual(lsnBefore);

      execFileSync(path.join(root, 'scripts/registry/start'), [inject('registryDir')], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, REGISTRY_PORT: registryPort() } });
      const invoices = await readCommitted([`${slot}.invoice-events`], { expected: 1 });
      const resumed = await readCommitted([`${slot}.order-events`], { expected: 3 });
      expect(invoices.map((r) => r.headers.id)).toEqual([invoice]);
      expect(await registry.decode(invoices[0]!.value)).toEqual({ aggregate: 'd', version: 3, note: null });
      expect(resumed.map((r) => r.headers.id)).toEqual([known, cached, later]);
      expect(await relay.stop()).toBe(0);
    } finally {
      // Later tests need the registry even when an assertion above failed; start does nothing when it runs.
      execFileSync(path.join(root, 'scripts/registry/start'), [inject('registryDir')], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, REGISTRY_PORT: registryPort() } });
    }
  });

  it('rejects an incompatible schema change at start-up', async () => {
    const slot = uniqueName('avrocompat');
    const namespace = `test.${slot}`;
    const env = { OUTBOX_SUBJECT_NAME_STRATEGY: 'RecordNameStrategy' };
    const dir = schemaDir({ OrderPlaced: orderPlacedSchema(namespace) });
    dirs.push(dir);
    const first = startRelay(relayEnv(db.url, slot, avroEnv(dir, env)));
    await first.waitForLog(/"state":"streaming"/);
    expect(await first.stop()).toBe(0);

    writeFileSync(path.join(dir, 'OrderPlaced.avsc'), JSON.stringify(orderPlacedSchema(namespace, 'string')));
    const result = await runCli(relayEnv(db.url, slot, avroEnv(dir, env)), ['run']);

    expect(result.code).toBe(1);
    expect(result.output).toContain(`schema ${path.join(dir, 'OrderPlaced.avsc')} (event type "OrderPlaced") is not BACKWARD-compatible`);
    expect(result.output).toContain(`under subject "${namespace}.OrderPlaced"`);
    expect(result.output).toMatch(/change the schema so that it is compatible/);
    expect(await registry.getLatestSchemaId(`${namespace}.OrderPlaced`)).toBeGreaterThan(0);
  });
});
