import pg from 'pg';
import { loadConfig } from '../config/config.js';
import { readSlot } from '../wal/slot.js';
import { formatLsn, lsnDistance, parseLsn } from '../lsn.js';
import { CheckpointStore } from '../checkpoint/store.js';
import { createLogger } from '../log.js';

/** Prints where the slot and the Kafka checkpoint stand: what an operator asks first. */
export async function statusCommand(): Promise<number> {
  const config = loadConfig();
  const log = createLogger('warn');
  const sql = new pg.Client({ connectionString: config.databaseUrl });
  await sql.connect();
  try {
    const current = parseLsn((await sql.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn);
    const slot = await readSlot(sql, config.slot);
    const checkpoint = await new CheckpointStore({ brokers: config.kafkaBrokers, security: config.kafkaSecurity, topic: config.checkpointTopic, slot: config.slot }, log).readLatest();

    console.log(`server WAL position   ${formatLsn(current)}`);
    if (slot === null) console.log(`slot ${config.slot}         missing`);
    else {
      const confirmed = slot.confirmedFlushLsn ?? 0n;
      console.log(`slot ${config.slot}  active=${slot.active} wal_status=${slot.walStatus} confirmed_flush_lsn=${formatLsn(confirmed)} lag=${lsnDistance(current, confirmed)} bytes`);
    }
    console.log(`Kafka checkpoint      ${checkpoint ? formatLsn(checkpoint.lsn) + (checkpoint.partial ? ` (+${checkpoint.partial.rowsDone} rows of ${formatLsn(checkpoint.partial.finalLsn)})` : '') : 'none'}`);
    return 0;
  } finally {
    await sql.end();
  }
}
