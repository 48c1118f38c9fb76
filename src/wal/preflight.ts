import type pg from 'pg';
import { RelayError } from '../publisher/errors.js';

/**
 * Checks that the publication exists, publishes inserts of the outbox, and publishes through the
 * partition root. Without publish_via_partition_root, rows arrive under each partition's name and
 * the relay would have to guess which relations are the outbox.
 */
export async function checkPublication(sql: pg.Client, publication: string, table: { schema: string; name: string }): Promise<void> {
  const found = await sql.query(`SELECT pubinsert, pubviaroot FROM pg_publication WHERE pubname = $1`, [publication]);
  const row = found.rows[0];
  if (row === undefined) {
    throw new RelayError('publication_missing', `publication "${publication}" does not exist; run "outbox-relay migrate" or set OUTBOX_PUBLICATION to an existing publication`, false);
  }
  if (!row.pubinsert) {
    throw new RelayError('publication_invalid', `publication "${publication}" does not publish inserts; recreate it WITH (publish = 'insert', publish_via_partition_root = true)`, false);
  }
  if (!row.pubviaroot) {
    throw new RelayError(
      'publication_invalid',
      `publication "${publication}" lacks publish_via_partition_root; run ALTER PUBLICATION ${publication} SET (publish_via_partition_root = true) so that rows of every partition arrive as ${table.schema}.${table.name}`,
      false,
    );
  }

  const tables = await sql.query(`SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`, [publication, table.schema, table.name]);
  if (tables.rowCount === 0) {
    throw new RelayError('publication_invalid', `publication "${publication}" does not include ${table.schema}.${table.name}; run ALTER PUBLICATION ${publication} ADD TABLE ${table.schema}.${table.name}`, false);
  }
}
