import { describe, expect, it } from 'vitest';
import { loadConfig, loadMigrateConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/env.js';

const minimal = { DATABASE_URL: 'postgres://relay:s3cret@127.0.0.1:5433/app', KAFKA_BROKERS: '127.0.0.1:9092' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('applies defaults to a minimal environment', () => {
    const config = loadConfig(minimal);

    expect(config.slot).toBe('outbox_relay');
    expect(config.publication).toBe('outbox_publication');
    expect(config.table).toEqual({ schema: 'public', name: 'outbox_events' });
    expect(config.topicTemplate).toBe('{aggregate_type}-events');
    expect(config.transactionalId).toBe('outbox-relay.outbox_relay');
    expect(config.batch).toEqual({ maxEvents: 5000, maxBytes: 8 * 1024 * 1024, lingerMs: 20 });
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('reads OUTBOX_HEADERS and names an unknown field', () => {
    expect(loadConfig(minimal).headers.has('aggregate_version')).toBe(false);
    expect(loadConfig({ ...minimal, OUTBOX_HEADERS: 'all' }).headers.has('aggregate_version')).toBe(true);
    expect(problemsOf({ ...minimal, OUTBOX_HEADERS: 'id,lsn' })).toEqual([expect.stringMatching(/^OUTBOX_HEADERS="id,lsn" is invalid: unknown header field\(s\) lsn/)]);
  });

  it('derives the transactional id from the slot', () => {
    expect(loadConfig({ ...minimal, OUTBOX_SLOT: 'orders_slot' }).transactionalId).toBe('outbox-relay.orders_slot');
  });

  it('reports every problem at once, naming variable and value', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://x', KAFKA_BROKERS: 'nohost', OUTBOX_BATCH_MAX_EVENTS: 'ten', HTTP_PORT: '70000', LOG_LEVEL: 'loud' });

    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^DATABASE_URL="mysql:\/\/x" is invalid: expected a postgres:\/\//);
    expect(problems[1]).toMatch(/^KAFKA_BROKERS="nohost" is invalid: expected a comma-separated list of host:port/);
    expect(problems.join('\n')).toMatch(/OUTBOX_BATCH_MAX_EVENTS="ten" is invalid: expected the maximum events per Kafka transaction/);
    expect(problems.join('\n')).toMatch(/HTTP_PORT="70000" is invalid/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL="loud" is invalid: expected one of trace, debug/);
  });

  it('reports missing required variables', () => {
    expect(problemsOf({})).toEqual([
      'DATABASE_URL is missing: expected a postgres://user:password@host:port/database URL',
      'KAFKA_BROKERS is missing: expected a comma-separated list of host:port, such as 127.0.0.1:9092',
    ]);
  });

  it('never prints the database URL, which holds the password', () => {
    const problems = problemsOf({ DATABASE_URL: 'postgres://relay:s3cret@127.0.0.1:5433/app?sslmode=sometimes', KAFKA_BROKERS: '127.0.0.1:9092' });

    expect(problems).toHaveLength(1);
    expect(problems[0]).not.toContain('s3cret');
    expect(problems[0]).toContain('sslmode must be one of');
  });

  it('accepts sslmode in the URL', () => {
    expect(loadConfig({ ...minimal, DATABASE_URL: `${minimal.DATABASE_URL}?sslmode=verify-full` }).databaseUrl).toContain('sslmode=verify-full');
  });

  it('requires SASL credentials with a SASL mechanism and hides the password', () => {
    const problems = problemsOf({ ...minimal, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'relay' });

    expect(problems).toEqual(['KAFKA_SASL_MECHANISM=SCRAM-SHA-512 needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD']);
  });

  it('parses the topic map and rejects bad entries', () => {
    expect(loadConfig({ ...minimal, OUTBOX_TOPIC_MAP: 'OrderPlaced=orders, Refunded=payments' }).topicMap).toEqual(
      new Map([
        ['OrderPlaced', 'orders'],
        ['Refunded', 'payments'],
      ]),
    );
    expect(problemsOf({ ...minimal, OUTBOX_TOPIC_MAP: 'OrderPlaced' })[0]).toMatch(/OUTBOX_TOPIC_MAP="OrderPlaced" is invalid: "OrderPlaced" is not event_type=topic/);
    expect(problemsOf({ ...minimal, OUTBOX_TOPIC_TEMPLATE: '{aggregate}-x' })[0]).toMatch(/unknown placeholder \{aggregate\}/);
  });

  it('rejects a slot name PostgreSQL would not accept', () => {
    expect(problemsOf({ ...minimal, OUTBOX_SLOT: 'Orders-Slot' })[0]).toMatch(/^OUTBOX_SLOT="Orders-Slot" is invalid: expected a replication slot name/);
  });

  it('reads the migrate settings without Kafka', () => {
    const config = loadMigrateConfig({ DATABASE_URL: minimal.DATABASE_URL, OUTBOX_TABLE: 'app.outbox' });

    expect(config.table).toEqual({ schema: 'app', name: 'outbox' });
    expect(config.daysAhead).toBe(3);
  });
});
