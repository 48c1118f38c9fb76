import type pg from 'pg';
import { decodePgOutput } from '../../src/decoder/pgoutput.js';
import type { CommitMessage } from '../../src/decoder/messages.js';
import { formatLsn } from '../../src/lsn.js';

/**
 * A second pgoutput slot on the same publication, read with the SQL interface: it tells the test
 * each committed transaction's end LSN without trusting the relay.
 */
export class WitnessSlot {
  constructor(
    private readonly sql: pg.Client,
    readonly name: string,
    private readonly publication = 'outbox_publication',
  ) {}

  async create(): Promise<void> {
    await this.sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [this.name]);
  }

  async commits(): Promise<CommitMessage[]> {
    const result = await this.sql.query(
      `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
      [this.name, this.publication],
    );
    return result.rows.map((row) => decodePgOutput(row.data as Buffer)).filter((message): message is CommitMessage => message.tag === 'Commit');
  }

  async lastCommitEndLsn(): Promise<string> {
    const commits = await this.commits();
    const last = commits.at(-1);
    if (last === undefined) throw new Error(`witness slot ${this.name} saw no commit`);
    return formatLsn(last.endLsn);
  }

  async drop(): Promise<void> {
    await this.sql.query(`SELECT pg_drop_replication_slot($1)`, [this.name]);
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last !== undefined) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
