import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

const root = path.resolve(import.meta.dirname, '../..');
const runDir = path.join(root, '.run', 'test');

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    kafkaBrokers: string;
    pgDir: string;
    kafkaDir: string;
    schemaRegistryUrl: string;
    registryDir: string;
  }
}

function lastLine(output: string, prefix: string): string {
  const line = output.trim().split('\n').reverse().find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`expected a ${prefix} line from the start script, got:\n${output}`);
  return line.slice(prefix.length);
}

/**
 * Starts one PostgreSQL cluster and one Kafka broker for the whole run: a broker start takes
 * seconds, so tests share them and isolate themselves by database, slot and topic names.
 */
export default function setup(project: TestProject): () => void {
  if (!existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  }

  const pgDir = path.join(runDir, 'pg');
  const kafkaDir = path.join(runDir, 'kafka');
  const pgOutput = execFileSync(path.join(root, 'scripts/pg/start'), [pgDir], {
    encoding: 'utf8',
    env: { ...process.env, PG_EXTRA_CONF: 'max_replication_slots = 64\nmax_wal_senders = 64\nwal_sender_timeout = 60s\nmax_connections = 200' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kafkaOutput = execFileSync(path.join(root, 'scripts/kafka/start'), [kafkaDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  // The Avro tests stop and start this registry. Its data folder keeps schema ids across restarts.
  const registryDir = path.join(runDir, 'registry');
  const registryOutput = execFileSync(path.join(root, 'scripts/registry/start'), [registryDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

  project.provide('databaseUrl', lastLine(pgOutput, 'DATABASE_URL='));
  project.provide('kafkaBrokers', lastLine(kafkaOutput, 'KAFKA_BROKERS='));
  project.provide('pgDir', pgDir);
  project.provide('kafkaDir', kafkaDir);
  project.provide('schemaRegistryUrl', lastLine(registryOutput, 'SCHEMA_REGISTRY_URL='));
  project.provide('registryDir', registryDir);

  return () => {
    if (process.env.OUTBOX_TEST_KEEP_SERVICES === '1') return;
    execFileSync(path.join(root, 'scripts/registry/stop'), [registryDir], { stdio: 'inherit' });
    execFileSync(path.join(root, 'scripts/kafka/stop'), [kafkaDir], { stdio: 'inherit' });
    execFileSync(path.join(root, 'scripts/pg/stop'), [pgDir], { stdio: 'inherit' });
  };
}
