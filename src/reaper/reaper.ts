import pg from 'pg';
import type { Logger } from 'pino';
import type { ReaperConfig } from '../config/config.js';
import { formatLsn } from '../lsn.js';
import { errorText } from '../publisher/errors.js';
import { createDayPartition, detachConcurrently, dropTable, finalizeDetach, isPartitionOf, measureTable } from './actions.js';
import { checkWriters, couldStillWrite, describeOpenTransaction, readSlotAck, waitForSlotAck, type SlotAck } from './committed-in-kafka.js';
import { dayAfter, describeBounds, listPartitions, partitionName, secondsAhead, type DayPartition, type PartitionListing } from './partitions.js';
import { ReaperRefusal, readPrivileges, requireOwnerRights, type ReaperPrivileges } from './privileges.js';
import type { ReaperMetrics, ReaperOutcome } from './metrics.js';

export interface ReapOptions {
  /** Reports what a run would do, takes no lock and changes nothing. */
  dryRun: boolean;
  signal?: AbortSignal;
}

/** One thing a run did, would do (dry run) or declined to do, with the partition's name and bounds. */
export interface ReapAction {
  action: 'create' | 'finalize' | 'detach' | 'drop' | 'keep';
  partition: string;
  bounds: string;
  dryRun: boolean;
  reason?: string;
  rows?: number;
  bytes?: number;
}

export interface ReapReport {
  outcome: ReaperOutcome;
  /** The cause of a locked-out, refused or failed run. */
  message?: string;
  actions: ReapAction[];
}

/** Key space of the reaper's advisory lock, "reap" in ASCII; the low 32 bits carry the outbox's OID. */
const REAPER_LOCK_CLASS = 0x72656170n;
export const REAPER_APPLICATION_NAME = 'outbox-relay-reaper';

/** Raised by a step that failed part way, with a message that states what it left behind. */
class ReaperStepError extends Error {}

/**
 * One reaper run: creates the day partitions from today to today + daysAhead and removes the
 * partitions past retention whose rows are all committed in Kafka. Two runs on one outbox never
 * overlap: a session-level advisory lock keyed by the table's OID serialises them across processes.
 */
export async function reap(config: ReaperConfig, log: Logger, metrics: ReaperMetrics | null, options: ReapOptions): Promise<ReapReport> {
  const started = performance.now();
  const run = new ReaperRun(config, log, options);
  const report = await run.execute();

  if (metrics !== null) {
    metrics.runs.inc({ outcome: report.outcome });
    metrics.runDuration.observe({ outcome: report.outcome }, (performance.now() - started) / 1000);
    if (report.outcome === 'success') metrics.lastSuccess.set(Date.now() / 1000);
    for (const action of report.actions) recordAction(metrics, action);
    if (run.finalListing !== null) recordListing(metrics, run.finalListing, run.finishedAt);
  }

  const level = report.outcome === 'success' ? 'info' : report.outcome === 'locked' ? 'warn' : 'error';
  log[level]({ outcome: report.outcome, reason: report.message, actions: report.actions.length, durationMs: Math.round(performance.now() - started), dryRun: options.dryRun }, 'reaper run finished');
  return report;
}

function recordAction(metrics: ReaperMetrics, action: ReapAction): void {
  if (action.dryRun) return;
  if (action.action === 'create') metrics.partitionsCreated.inc();
  if (action.action === 'detach' || action.action === 'finalize') {
    metrics.partitionsRemoved.inc();
    metrics.rowsRemoved.inc(action.rows ?? 0);
    metrics.bytesRemoved.inc(action.bytes ?? 0);
  }
}

function recordListing(metrics: ReaperMetrics, listing: PartitionListing, now: Date): void {
  const attached = listing.partitions.filter((p) => !p.detachPending);
  metrics.partitions.set(attached.length);
  const oldest = attached[0];
  metrics.oldestPartitionAge.set(oldest === undefined ? 0 : Math.max(0, (now.getTime() - oldest.lower.getTime()) / 1000));
  metrics.secondsAhead.set(secondsAhead(listing.partitions, now));
}

class ReaperRun {
  readonly actions: ReapAction[] = [];
  finalListing: PartitionListing | null = null;
  finishedAt = new Date();
  private readonly sql: pg.Client;
  private readonly signal: AbortSignal;

  constructor(
    private readonly config: ReaperConfig,
    private readonly log: Logger,
    private readonly options: ReapOptions,
  ) {
    // UTC makes pg_get_expr print partition bounds as the reaper writes them; lock_timeout keeps
    // any DDL from queueing application inserts for long.
    this.sql = new pg.Client({
      connectionString: config.databaseUrl,
      application_name: REAPER_APPLICATION_NAME,
      options: `-c lock_timeout=${config.lockTimeoutMs} -c TimeZone=UTC`,
    });
    // Without a listener, a connection lost between two queries would crash the relay process.
    this.sql.on('error', (error) => this.log.warn({ err: errorText(error) }, 'reaper connection to PostgreSQL failed'));
    this.signal = options.signal ?? new AbortController().signal;
  }

  async execute(): Promise<ReapReport> {
    try {
      await this.connect();
    } catch (error) {
      return { outcome: 'failed', message: errorText(error), actions: this.actions };
    }

    let locked = false;
    try {
      if (!this.options.dryRun) {
        locked = await this.tryLock();
        if (!locked) {
          return { outcome: 'locked', message: `another reaper run holds the advisory lock on ${this.tableName}; this run changed nothing`, actions: this.actions };
        }
      }
      await this.runSteps();
      return { outcome: 'success', actions: this.actions };
    } catch (error) {
      const outcome = error instanceof ReaperRefusal ? 'refused' : 'failed';
      return { outcome, message: errorText(error), actions: this.actions };
    } finally {
      if (locked) await this.sql.query('SELECT pg_advisory_unlock($1)', [await this.lockKey()]).catch(() => undefined);
      await this.sql.end().catch(() => undefined);
    }
  }

  private get tableName(): string {
    return `${this.config.table.schema}.${this.config.table.name}`;
  }

  private async connect(): Promise<void> {
    try {
      await this.sql.connect();
    } catch (error) {
      const url = new URL(this.config.databaseUrl);
      const where = `${url.hostname}:${url.port || 5432}/${url.pathname.slice(1)} as ${decodeURIComponent(url.username) || '(default user)'}`;
      throw new Error(`could not connect to PostgreSQL at ${where}: ${errorText(error)}; check REAPER_DATABASE_URL (or DATABASE_URL when it is unset)`);
    }
  }

  private lockKeyValue: string | null = null;

  private async lockKey(): Promise<string> {
    if (this.lockKeyValue === null) {
      const oid = (await this.sql.query(`SELECT to_regclass($1)::oid::bigint AS oid`, [this.tableName])).rows[0].oid as string | null;
      if (oid === null) throw new ReaperRefusal('table_missing', `outbox table ${this.tableName} does not exist; run "outbox-relay migrate" or fix OUTBOX_TABLE`);
      this.lockKeyValue = ((REAPER_LOCK_CLASS << 32n) | BigInt(oid)).toString();
    }
    return this.lockKeyValue;
  }

  private async tryLock(): Promise<boolean> {
    return (await this.sql.query('SELECT pg_try_advisory_lock($1) AS locked', [await this.lockKey()])).rows[0].locked as boolean;
  }

  private async runSteps(): Promise<void> {
    const privileges = await readPrivileges(this.sql, this.config.table);
    const listing = await listPartitions(this.sql, this.config.table);
    this.refuseUnexpected(listing);
    requireOwnerRights(privileges, this.config.table);

    const today = (await this.sql.query(`SELECT ((now() AT TIME ZONE 'UTC')::date)::text AS day`)).rows[0].day as string;
    await this.createAhead(listing, today);
    await this.removePastRetention(listing, today, privileges);

    this.finalListing = await listPartitions(this.sql, this.config.table);
    this.finishedAt = (await this.sql.query('SELECT now() AS now')).rows[0].now as Date;
  }

  /** A DEFAULT partition or a partition the reaper did not make means someone manages the table by hand: change nothing. */
  private refuseUnexpected(listing: PartitionListing): void {
    if (listing.defaultPartition !== null) {
      throw new ReaperRefusal(
        'default_partition',
        `outbox table ${this.tableName} has a DEFAULT partition, ${listing.defaultPartition}: DETACH PARTITION ... CONCURRENTLY is not allowed while it exists, ` +
          `and attaching a partition would scan it under lock. Move its rows into day partitions and drop it; the reaper changed nothing`,
      );
    }
    if (listing.unexpected.length > 0) {
      const list = listing.unexpected.map((p) => `${p.name} (${p.bound}): ${p.reason}`).join('; ');
      throw new ReaperRefusal(
        'unexpected_partition',
        `outbox table ${this.tableName} has partitions the reaper does not manage: ${list}. Rename, detach or re-create them as ${this.config.table.name}_pYYYYMMDD for one UTC day each; the reaper changed nothing`,
      );
    }
  }

  private async createAhead(listing: PartitionListing, today: string): Promise<void> {
    const existing = new Set(listing.partitions.map((p) => p.day));
    for (let offset = 0; offset <= this.config.daysAhead; offset++) {
      const day = dayAfter(today, offset);
      if (existing.has(day)) continue;

      const name = partitionName(this.config.table, day);
      const lower = new Date(`${day}T00:00:00Z`);
      const upper = new Date(`${dayAfter(day)}T00:00:00Z`);
      if (!this.options.dryRun) {
        await this.step(`create partition ${name} ${describeBounds({ lower, upper })}`, () => createDayPartition(this.sql, this.config.table, name, lower, upper));
      }
      this.record({ action: 'create', partition: name, bounds: describeBounds({ lower, upper }), dryRun: this.options.dryRun });
    }
  }

  private async removePastRetention(listing: PartitionListing, today: string, privileges: ReaperPrivileges): Promise<void> {
    const cutoff = new Date(`${dayAfter(today, -this.config.retentionDays)}T00:00:00Z`);
    for (const partition of listing.partitions) {
      if (partition.detachPending && partition.upper > cutoff) {
        this.keep(partition, 'an earlier DETACH PARTITION ... CONCURRENTLY left it detach pending, but it is within retention, so the reaper leaves it to whoever started the detach');
      }
    }

    // A pending detach blocks every other DETACH CONCURRENTLY on the table, so finish it first.
    const candidates = listing.partitions
      .filter((p) => p.upper <= cutoff)
      .sort((a, b) => Number(b.detachPending) - Number(a.detachPending) || a.lower.getTime() - b.lower.getTime());
    if (candidates.length === 0) return;

    if (!privileges.canSeeAllTransactions) {
      const reason = `role ${privileges.role} cannot see other roles' transactions in pg_stat_activity, so it cannot tell whether one could still write into the partition; GRANT pg_read_all_stats TO ${privileges.role}`;
      for (const partition of candidates) this.keep(partition, reason);
      return;
    }

    const removable = await this.provenCommittedInKafka(candidates.filter((p) => this.ownedOrKept(p, privileges)));
    for (const partition of removable) {
      if (this.signal.aborted) return;
      await this.remove(partition);
    }
  }

  private ownedOrKept(partition: DayPartition, privileges: ReaperPrivileges): boolean {
    if (partition.ownedByReaper) return true;
    this.keep(partition, `role ${privileges.role} may not drop it: its owner is ${partition.owner}; GRANT ${partition.owner} TO ${privileges.role} or ALTER TABLE ... OWNER TO ${privileges.tableOwner}`);
    return false;
  }

  /** Returns the candidates whose rows are all committed in Kafka; keeps and reports the others. */
  private async provenCommittedInKafka(candidates: DayPartition[]): Promise<DayPartition[]> {
    if (candidates.length === 0) return [];
    const writers = await checkWriters(this.sql);

    if (writers.prepared.length > 0) {
      const list = writers.prepared.map((p) => `"${p.gid}" (owner ${p.owner}, prepared at ${p.prepared.toISOString()})`).join(', ');
      for (const partition of candidates) this.keep(partition, `prepared transactions ${list} may hold uncommitted outbox rows and PostgreSQL does not record when they began; COMMIT PREPARED or ROLLBACK PREPARED them`);
      return [];
    }

    const open = writers.oldestOpen;
    const unblocked: DayPartition[] = [];
    for (const partition of candidates) {
      if (open !== null && couldStillWrite(open, partition.upper)) {
        this.keep(partition, `the ${describeOpenTransaction(open)} started before the partition's upper bound and could still insert into it`);
      } else {
        unblocked.push(partition);
      }
    }
    if (unblocked.length === 0) return [];

    const ack = await this.slotAck(writers.walLsn);
    if (ack.kind === 'acknowledged') return unblocked;

    const reason =
      ack.kind === 'unusable'
        ? ack.reason
        : this.options.dryRun
          ? `the relay has not acknowledged WAL position ${formatLsn(writers.walLsn)} on slot ${this.config.slot} yet (confirmed_flush_lsn ${ack.confirmed === null ? 'none' : formatLsn(ack.confirmed)})`
          : `the relay has not acknowledged the reaper's logical message, written after WAL position ${formatLsn(writers.walLsn)}, on slot ${this.config.slot} ` +
            `within ${this.config.ackTimeoutMs} ms (confirmed_flush_lsn ${ack.confirmed === null ? 'none' : formatLsn(ack.confirmed)}), so its rows may not be in Kafka yet; a later run retries`;
    for (const partition of unblocked) this.keep(partition, reason);
    return [];
  }

  private async slotAck(walLsn: bigint): Promise<SlotAck> {
    if (this.options.dryRun) return readSlotAck(this.sql, this.config.slot, walLsn);
    return waitForSlotAck(this.sql, this.config.slot, walLsn, this.config.ackTimeoutMs, this.signal);
  }

  private async remove(partition: DayPartition): Promise<void> {
    const table = this.config.table;
    const bounds = describeBounds(partition);
    const detach = partition.detachPending ? 'finalize' : 'detach';
    if (this.options.dryRun) {
      this.record({ action: detach, partition: partition.name, bounds, dryRun: true });
      if (!this.config.keepDetached) this.record({ action: 'drop', partition: partition.name, bounds, dryRun: true });
      return;
    }

    await this.step(`${detach} partition ${partition.name} ${bounds}`, () =>
      partition.detachPending ? finalizeDetach(this.sql, table, partition.name) : detachConcurrently(this.sql, table, partition.name),
    );
    const size = await measureTable(this.sql, table, partition.name);
    this.record({ action: detach, partition: partition.name, bounds, dryRun: false, ...size, reason: this.config.keepDetached ? 'kept as a standalone table (OUTBOX_REAPER_KEEP_DETACHED=true)' : undefined });

    if (!this.config.keepDetached) {
      await this.step(`drop detached partition ${partition.name} ${bounds}`, () => dropTable(this.sql, table, partition.name));
      this.record({ action: 'drop', partition: partition.name, bounds, dryRun: false, ...size });
    }
  }

  /** Runs one DDL step and turns its error into one that names the step and the state it left. */
  private async step(description: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      const code = (error as { code?: string }).code;
      let message = `${description} failed: ${errorText(error)}`;
      if (code === '55P03') message = `${description} timed out after ${this.config.lockTimeoutMs} ms (OUTBOX_REAPER_LOCK_TIMEOUT_MS) waiting for a lock that another session holds`;
      if (code === '42501') message += `; the reaper's role lacks a privilege, see docs/reaper.md`;

      const name = /partition (\S+)/.exec(description)?.[1];
      if (name !== undefined && description.startsWith('detach')) {
        const state = await isPartitionOf(this.sql, this.config.table, name).catch(() => null);
        if (state?.detachPending) message += `. The partition stays detach pending, which new queries ignore; the next run finishes the detach with DETACH PARTITION ... FINALIZE`;
        else if (state?.attached) message += '. The partition is still attached; nothing changed';
      }
      throw new ReaperStepError(message, { cause: error });
    }
  }

  private keep(partition: DayPartition, reason: string): void {
    this.record({ action: 'keep', partition: partition.name, bounds: describeBounds(partition), dryRun: this.options.dryRun, reason });
  }

  private record(action: ReapAction): void {
    this.actions.push(action);
    const fields = { action: action.action, partition: `${this.config.table.schema}.${action.partition}`, bounds: action.bounds, dryRun: action.dryRun, reason: action.reason, rows: action.rows, bytes: action.bytes };
    if (action.action === 'keep') this.log.warn(fields, 'reaper keeps a partition');
    else this.log.info(fields, action.dryRun ? `reaper would ${action.action} a partition` : `reaper ${pastTense(action.action)} a partition`);
  }
}

function pastTense(action: ReapAction['action']): string {
  return { create: 'created', finalize: 'finalized the detach of', detach: 'detached', drop: 'dropped', keep: 'kept' }[action];
}
