#!/usr/bin/env node
import { runCommand } from './run.js';
import { migrateCommand } from './migrate.js';
import { statusCommand } from './status.js';
import { reapCommand } from './reap.js';
import { replayCommand } from './replay.js';
import { dlqCommand } from './dlq.js';
import { ConfigError } from '../config/env.js';

const USAGE = `usage: outbox-relay <command>

commands:
  run       stream the outbox from the replication slot into Kafka (the default)
  migrate   create or update the outbox table, its partitions, the publication and the relay role
  status    print the slot's position, lag and the Kafka checkpoint; --watch [SECONDS] follows them
  reap      create partitions ahead and drop those past retention once relayed; --dry-run prints the plan
  replay    publish selected outbox events again; see outbox-relay replay --help
  dlq       list the dead-letter topic or redrive its events; see outbox-relay dlq --help

Configuration comes from environment variables; see .env.example.`;

const commands: Record<string, (args: string[]) => Promise<number>> = { run: runCommand, migrate: migrateCommand, status: statusCommand, reap: reapCommand, replay: replayCommand, dlq: dlqCommand };

async function main(argv: string[]): Promise<number> {
  const name = argv[0] ?? 'run';
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return 0;
  }
  const command = commands[name];
  // replay and dlq describe their own flags; the others take none worth a page of their own.
  if (command !== undefined && !['replay', 'dlq'].includes(name) && argv.slice(1).some((arg) => arg === '--help' || arg === '-h')) {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) {
    console.error(`outbox-relay: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  return command(argv.slice(1));
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(`outbox-relay: ${error.message}`);
    else console.error(`outbox-relay: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
