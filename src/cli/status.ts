import pg from 'pg';
import { loadConfig, type RelayConfig } from '../config/config.js';
import { readSlot, type SlotState } from '../wal/slot.js';
import { formatLsn, lsnDistance, parseLsn, type Lsn } from '../lsn.js';
import { CheckpointStore } from '../checkpoint/store.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import { createLogger } from '../log.js';
import { sleep } from '../relay/backoff.js';
import { connectSql } from '../wal/connect.js';
import { errorText } from '../publisher/errors.js';

const USAGE = 'usage: outbox-relay status [--watch [SECONDS]]';

interface StatusReading {
  at: Date;
  currentWal: Lsn;
  slot: SlotState | null;
  checkpoint: Checkpoint | null;
  checkpointError: string | null;
  /** Age of the oldest outbox row created after the last checkpoint was written; an upper bound of the time lag. */
  pendingSeconds: number | null;
}

/**
 * Prints where the slot and the Kafka checkpoint stand: what an operator asks first. Reads
 * PostgreSQL and Kafka directly, so it works while the relay is down. With --watch it prints a
 * line every few seconds until interrupted.
 */
export async function statusCommand(args: string[] = []): Promise<number> {
  const watch = parseWatch(args);
  if (typeof watch === 'string') {
    console.error(`outbox-relay status: ${watch}\n${USAGE}`);
    return 2;
  }

  const config = loadConfig();
  const sql = await connectSql(config.databaseUrl);
  const store = new CheckpointStore({ brokers: config.kafkaBrokers, security: config.kafkaSecurity, topic: config.checkpointTopic, slot: config.slot }, createLogger('warn'));
  try {
    if (watch === null) {
      printFull(config, await readStatus(sql, store, config));
      return 0;
    }

    let stopped = false;
    process.once('SIGINT', () => (stopped = true));
    process.once('SIGTERM', () => (stopped = true));
    while (!stopped) {
      printLine(await readStatus(sql, store, config));
      const abort = new AbortController();
      const timer = setInterval(() => stopped && abort.abort(), 100);
      await sleep(watch * 1000, abort.signal);
      clearInterval(timer);
    }
    return 0;
  } finally {
    await sql.end();
  }
}

function parseWatch(args: string[]): number | null | string {
  if (args.length === 0) return null;
  if (args[0] !== '--watch' && args[0] !== '-w') return `unknown option "${args[0]}"`;
  if (args.length === 1) return 2;
  const seconds = Number(args[1]);
  if (!Number.isFinite(seconds) || seconds <= 0 || args.length > 2) return `--watch takes a number of seconds greater than 0, not "${args.slice(1).join(' ')}"`;
  return seconds;
}

async function readStatus(sql: pg.Client, store: CheckpointStore, config: RelayConfig): Promise<StatusReading> {
  const currentWal = parseLsn((await sql.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn);
  const slot = await readSlot(sql, config.slot);
  let checkpoint: Checkpoint | null = null;
  let checkpointError: string | null = null;
  try {
    checkpoint = await store.readLatest();
  } catch (error) {
    // PostgreSQL's half is still worth printing when Kafka does not respond.
    checkpointError = `unavailable: could not read topic ${config.checkpointTopic} from Kafka at ${config.kafkaBrokers.join(',')} (${errorText(error)}); check KAFKA_BROKERS`;
  }

  let pendingSeconds: number | null = null;
  if (checkpoint?.writtenAt !== undefined) {
    const table = `${pg.escapeIdentifier(config.table.schema)}.${pg.escapeIdentifier(config.table.name)}`;
    const result = await sql.query(`SELECT extract(epoch FROM now() - min(created_at))::float8 AS age FROM ${table} WHERE created_at > $1`, [checkpoint.writtenAt]);
    pendingSeconds = result.rows[0].age === null ? 0 : Math.max(0, Number(result.rows[0].age));
  }
  return { at: new Date(), currentWal, slot, checkpoint, checkpointError, pendingSeconds };
}

function describeCheckpoint(checkpoint: Checkpoint | null): string {
  if (checkpoint === null) return 'none';
  const partial = checkpoint.partial ? ` (+${checkpoint.partial.rowsDone} rows of the transaction at ${formatLsn(checkpoint.partial.finalLsn)})` : '';
  const written = checkpoint.writtenAt ? `, written ${checkpoint.writtenAt.toISOString()}` : '';
  return `${formatLsn(checkpoint.lsn)}${partial}${written}`;
}

function printFull(config: RelayConfig, reading: StatusReading): void {
  const rows: [string, string][] = [['server WAL position', formatLsn(reading.currentWal)]];
  if (reading.slot === null) rows.push([`slot ${config.slot}`, 'missing']);
  else {
    const slot = reading.slot;
    const confirmed = slot.confirmedFlushLsn ?? 0n;
    rows.push([`slot ${config.slot}`, slot.active ? `active (pid ${slot.activePid})` : 'inactive: no relay is streaming it']);
    rows.push(['acknowledged LSN', formatLsn(confirmed)]);
    rows.push(['lag', `${lsnDistance(reading.currentWal, confirmed)} bytes`]);
    rows.push(['retained WAL', slot.restartLsn === null ? 'unknown' : `${lsnDistance(reading.currentWal, slot.restartLsn)} bytes (wal_status ${slot.walStatus})`]);
  }
  rows.push(['Kafka checkpoint', reading.checkpointError ?? describeCheckpoint(reading.checkpoint)]);
  rows.push(['pending events', reading.pendingSeconds === null ? 'unknown (no checkpoint)' : reading.pendingSeconds === 0 ? 'none newer than the checkpoint' : `oldest is ${reading.pendingSeconds.toFixed(1)} s old`]);

  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`);
}

function printLine(reading: StatusReading): void {
  const slot = reading.slot;
  const confirmed = slot?.confirmedFlushLsn ?? null;
  const parts = [
    reading.at.toISOString(),
    slot === null ? 'slot=missing' : `slot=${slot.active ? 'active' : 'inactive'}`,
    `acknowledged=${confirmed === null ? '-' : formatLsn(confirmed)}`,
    `lag_bytes=${confirmed === null ? '-' : lsnDistance(reading.currentWal, confirmed)}`,
    `lag_seconds=${reading.pendingSeconds === null ? '-' : reading.pendingSeconds.toFixed(1)}`,
    `retained_bytes=${slot?.restartLsn == null ? '-' : lsnDistance(reading.currentWal, slot.restartLsn)}`,
    `checkpoint=${reading.checkpointError !== null ? 'unavailable' : reading.checkpoint === null ? '-' : formatLsn(reading.checkpoint.lsn)}`,
  ];
  console.log(parts.join(' '));
}
