import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Runs a PostgreSQL server binary as the postgres user when the tests run as root, as initdb and postgres require. */
export function runAsPostgres(command: string, args: string[]): string {
  const asRoot = process.getuid?.() === 0;
  const file = asRoot ? 'runuser' : path.join(PG_BIN, command);
  const argv = asRoot ? ['-u', 'postgres', '--', path.join(PG_BIN, command), ...args] : args;
  return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A cluster of a test's own, for cases that need server-wide changes such as a WAL position past 2^53. */
export class OwnCluster {
  readonly dir: string;

  constructor(name: string) {
    this.dir = path.join(root, '.run', 'test', name);
  }

  start(extraConf = ''): string {
    const output = execFileSync(path.join(root, 'scripts/pg/start'), [this.dir], { encoding: 'utf8', env: { ...process.env, PG_EXTRA_CONF: extraConf }, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = output.trim().split('\n').reverse().find((l) => l.startsWith('DATABASE_URL='));
    if (line === undefined) throw new Error(`scripts/pg/start printed no DATABASE_URL:\n${output}`);
    return line.slice('DATABASE_URL='.length);
  }

  stop(): void {
    execFileSync(path.join(root, 'scripts/pg/stop'), [this.dir], { stdio: 'inherit' });
  }

  /** Moves the next WAL segment to `walFile` (24 hex digits); the cluster must be stopped. */
  resetWal(walFile: string): void {
    runAsPostgres('pg_resetwal', ['-l', walFile, path.join(this.dir, 'data')]);
  }
}
