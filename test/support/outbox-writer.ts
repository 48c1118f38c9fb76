import pg from 'pg';
import type { Prng } from './prng.js';

export interface OutboxWriterOptions {
  databaseUrl: string;
  /** Concurrent connections; each owns its aggregates, so versions rise in commit order. */
  sessions: number;
  aggregatesPerSession: number;
  aggregateTypes: string[];
  /** Events per ordinary transaction are drawn from 1 to this. */
  maxTransactionEvents: number;
  /** Occasional transactions larger than a Kafka batch, which the relay splits into chunks. */
  largeTransactions: { probability: number; minEvents: number; maxEvents: number };
  rollbackProbability: number;
  /** Target for all sessions together; a session that falls behind does not catch up in a burst. */
  eventsPerSecond: number;
  prng: Prng;
}

export interface OutboxWriterStats {
  transactionsCommitted: number;
  eventsCommitted: number;
  transactionsRolledBack: number;
  eventsRolledBack: number;
  /** Transactions that failed before COMMIT was sent, for example when PostgreSQL restarted. */
  transactionsFailed: number;
  eventsFailed: number;
  /** Transactions whose COMMIT got no reply: they may or may not be in the table. */
  transactionsUncertain: number;
  eventsUncertain: number;
  reconnects: number;
  lastError: string | null;
}

const ROWS_PER_STATEMENT = 100;
const RECONNECT_DELAY_MS = 250;

/**
 * Writes outbox events the way an application does: transactions of several events for several
 * aggregates, some rolled back, some with a write to another table. Every event takes the next
 * version of its aggregate whether or not its transaction commits, so versions rise strictly in
 * commit order even when a COMMIT's outcome is unknown. The outbox table, not these counters, is
 * the record of what committed.
 */
export class OutboxWriter {
  readonly stats: OutboxWriterStats = {
    transactionsCommitted: 0,
    eventsCommitted: 0,
    transactionsRolledBack: 0,
    eventsRolledBack: 0,
    transactionsFailed: 0,
    eventsFailed: 0,
    transactionsUncertain: 0,
    eventsUncertain: 0,
    reconnects: 0,
    lastError: null,
  };
  private stopped = false;
  private bursts = 0;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: OutboxWriterOptions) {}

  start(): void {
    for (let session = 0; session < this.options.sessions; session++) {
      this.loops.push(this.runSession(session, this.options.prng.fork(session)));
    }
  }

  /** Stops after the transactions in progress and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /**
   * Commits one transaction of `size` events for aggregates of its own, on a connection of its
   * own, and returns when it committed. The relay then fills Kafka transactions back to back for a
   * while, which is when a pause most likely finds one open.
   */
  async writeBurst(size: number): Promise<void> {
    const client = await this.connect();
    if (client === null) return;
    const burst = this.bursts++;
    const rows = Array.from({ length: size }, (_, i) => {
      const type = this.options.aggregateTypes[i % this.options.aggregateTypes.length]!;
      return { type, id: `burst${burst}-a${i % 4}`, version: Math.floor(i / 4) + 1 };
    });
    try {
      await client.query('BEGIN');
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        await insertRows(client, rows.slice(start, start + ROWS_PER_STATEMENT));
      }
      await client.query('COMMIT');
      this.stats.transactionsCommitted++;
      this.stats.eventsCommitted += size;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async runSession(session: number, prng: Prng): Promise<void> {
    const aggregates = Array.from({ length: this.options.aggregatesPerSession }, (_, k) => ({
      type: this.options.aggregateTypes[k % this.options.aggregateTypes.length]!,
      id: `s${session}-a${k}`,
      version: 0,
    }));
    const eventsPerSecond = this.options.eventsPerSecond / this.options.sessions;
    let client: pg.Client | null = null;
    let nextAt = Date.now();
    let connects = 0;

    while (!this.stopped) {
      if (client === null) {
        client = await this.connect();
        if (client === null) break;
        if (connects++ > 0) this.stats.reconnects++;
      }

      const size = prng.chance(this.options.largeTransactions.probability)
        ? prng.int(this.options.largeTransactions.minEvents, this.options.largeTransactions.maxEvents)
        : prng.int(1, this.options.maxTransactionEvents);
      const rows = Array.from({ length: size }, () => {
        const aggregate = prng.pick(aggregates);
        aggregate.version++;
        return { type: aggregate.type, id: aggregate.id, version: aggregate.version };
      });
      const rollback = prng.chance(this.options.rollbackProbability);
      const noise = prng.chance(0.1);

      let committing = false;
      try {
        await client.query('BEGIN');
        for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
          await insertRows(client, rows.slice(start, start + ROWS_PER_STATEMENT));
        }
        if (noise) await client.query(`INSERT INTO noise (pad) VALUES (repeat('x', 200))`);
        if (rollback) {
          await client.query('ROLLBACK');
          this.stats.transactionsRolledBack++;
          this.stats.eventsRolledBack += size;
        } else {
          committing = true;
          await client.query('COMMIT');
          this.stats.transactionsCommitted++;
          this.stats.eventsCommitted += size;
        }
      } catch (error) {
        this.stats.lastError = error instanceof Error ? error.message : String(error);
        if (committing) {
          this.stats.transactionsUncertain++;
          this.stats.eventsUncertain += size;
        } else {
          this.stats.transactionsFailed++;
          this.stats.eventsFailed += size;
        }
        await client.end().catch(() => undefined);
        client = null;
        continue;
      }

      // Pace by events, not transactions; after an outage start afresh instead of bursting.
      nextAt = Math.max(nextAt, Date.now() - 1000) + (size * 1000) / eventsPerSecond;
      const wait = nextAt - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await client?.end().catch(() => undefined);
  }

  /** Connects, retrying while the server is down; null once stopped. */
  private async connect(): Promise<pg.Client | null> {
    while (!this.stopped) {
      const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'fault-run-writer' });
      // A server restart breaks idle connections too; the next query reports it, so the event is only swallowed.
      client.on('error', () => undefined);
      try {
        await client.connect();
        return client;
      } catch (error) {
        this.stats.lastError = error instanceof Error ? error.message : String(error);
        await client.end().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
      }
    }
    return null;
  }
}

async function insertRows(client: pg.Client, rows: { type: string; id: string; version: number }[]): Promise<void> {
  const values: string[] = [];
  const params: unknown[] = [];
  for (const row of rows) {
    const n = params.length;
    values.push(`('Changed', $${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}::jsonb, $${n + 5})`);
    params.push(row.type, row.id, row.version, JSON.stringify({ aggregate: row.id, version: row.version }), `corr-${row.id}`);
  }
  // A multi-row VALUES list inserts, and so logs, its rows in list order.
  await client.query(`INSERT INTO outbox_events (event_type, aggregate_type, aggregate_id, aggregate_version, event_data, correlation_id) VALUES ${values.join(', ')}`, params);
}
