import type pg from 'pg';
import { quotedTable, type OutboxTable } from './partitions.js';

/** Raised when the reaper must leave everything as it is; the message names the cause and the fix. */
export class ReaperRefusal extends Error {
  constructor(
    readonly code: 'table_missing' | 'privileges_missing' | 'default_partition' | 'unexpected_partition',
    message: string,
  ) {
    super(message);
    this.name = 'ReaperRefusal';
  }
}

export interface ReaperPrivileges {
  role: string;
  tableOwner: string;
  /** Creating, attaching and detaching partitions need the rights of the outbox table's owner. */
  hasOwnerRights: boolean;
  canCreateInSchema: boolean;
  /** Without pg_read_all_stats, pg_stat_activity hides other roles' transactions, so the open-transaction check cannot be trusted. */
  canSeeAllTransactions: boolean;
}

/** Reads what the reaper's role may do to the outbox; rejects a table that is missing or not partitioned. */
export async function readPrivileges(sql: pg.Client, table: OutboxTable): Promise<ReaperPrivileges> {
  const qualified = quotedTable(table);
  const result = await sql.query(
    `SELECT c.relkind AS kind, current_user AS role, pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(c.relowner, 'USAGE') AS owner_rights,
            has_schema_privilege(c.relnamespace, 'CREATE') AS schema_create,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR pg_has_role('pg_read_all_stats', 'USAGE') AS sees_all
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [qualified],
  );
  const row = result.rows[0];
  if (row === undefined) {
    throw new ReaperRefusal('table_missing', `outbox table ${table.schema}.${table.name} does not exist; run "outbox-relay migrate" or fix OUTBOX_TABLE`);
  }
  if (row.kind !== 'p') {
    throw new ReaperRefusal('table_missing', `outbox table ${table.schema}.${table.name} is not partitioned; the reaper only manages a table created by "outbox-relay migrate"`);
  }
  return { role: row.role, tableOwner: row.owner, hasOwnerRights: row.owner_rights, canCreateInSchema: row.schema_create, canSeeAllTransactions: row.sees_all };
}

/** Rejects a role that cannot create or detach partitions, naming the grant that fixes it. */
export function requireOwnerRights(privileges: ReaperPrivileges, table: OutboxTable): void {
  const qualified = `${table.schema}.${table.name}`;
  if (!privileges.hasOwnerRights) {
    throw new ReaperRefusal(
      'privileges_missing',
      `role ${privileges.role} may not create or detach partitions of ${qualified}: PostgreSQL requires the rights of its owner, ${privileges.tableOwner}. ` +
        `Run the reaper as a member of that role (GRANT ${privileges.tableOwner} TO <reaper role>) through REAPER_DATABASE_URL; the relay role must not get them`,
    );
  }
  if (!privileges.canCreateInSchema) {
    throw new ReaperRefusal('privileges_missing', `role ${privileges.role} may not create tables in schema ${table.schema}; GRANT CREATE ON SCHEMA ${table.schema} TO ${privileges.tableOwner}`);
  }
}
