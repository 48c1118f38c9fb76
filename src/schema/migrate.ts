import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';

export interface MigrateOptions {
  table: { schema: string; name: string };
  publication: string;
  relayRole: string;
  /** Set as the relay role's password when given; never logged. */
  relayRolePassword?: string;
  daysAhead: number;
}

export interface MigrateResult {
  files: string[];
  partitionsCreated: number;
}

/** Serialises concurrent migrations on one database; the number spells "outbox" in ASCII. */
const MIGRATE_LOCK_KEY = 0x6f7574626f78;

export const SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), findUp('sql'));

function findUp(folder: string): string {
  // Compiled code runs from dist/src/schema, sources from src/schema: sql/ sits at the top of both.
  return import.meta.url.includes('/dist/') ? `../../../${folder}` : `../../${folder}`;
}

/** Fills the `{{name}}` placeholders of a schema file with quoted identifiers and literals. */
export function renderSql(template: string, options: MigrateOptions): string {
  const id = (name: string): string => pg.escapeIdentifier(name);
  const literal = (text: string): string => pg.escapeLiteral(text);
  const values: Record<string, string> = {
    table: `${id(options.table.schema)}.${id(options.table.name)}`,
    table_name: id(options.table.name),
    schema: id(options.table.schema),
    publication: id(options.publication),
    relay_role: id(options.relayRole),
    table_name_literal: literal(options.table.name),
    schema_literal: literal(options.table.schema),
    publication_literal: literal(options.publication),
    relay_role_literal: literal(options.relayRole),
    aggregate_index: id(`${options.table.name}_aggregate_idx`),
    version_check: id(`${options.table.name}_aggregate_version_positive`),
    metadata_check: id(`${options.table.name}_metadata_is_object`),
    blank_check: id(`${options.table.name}_type_not_blank`),
    ensure_partitions: `${id(options.table.schema)}.${id(`${options.table.name}_ensure_partitions`)}`,
  };
  return template.replace(/\{\{([a-z_]+)\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`unknown placeholder ${whole} in schema SQL`);
    return value;
  });
}

/** Applies every file under sql/ in name order in one transaction, then creates the partitions. */
export async function migrate(client: pg.Client, options: MigrateOptions): Promise<MigrateResult> {
  const files = (await readdir(SQL_DIR)).filter((file) => file.endsWith('.sql')).sort();

  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK_KEY]);
    for (const file of files) {
      const template = await readFile(path.join(SQL_DIR, file), 'utf8');
      await client.query(renderSql(template, options));
    }
    if (options.relayRolePassword !== undefined) {
      await client.query(`ALTER ROLE ${pg.escapeIdentifier(options.relayRole)} PASSWORD ${pg.escapeLiteral(options.relayRolePassword)}`);
    }
    const ensure = `SELECT ${pg.escapeIdentifier(options.table.schema)}.${pg.escapeIdentifier(`${options.table.name}_ensure_partitions`)}($1) AS created`;
    const created = (await client.query(ensure, [options.daysAhead])).rows[0].created as number;
    await client.query('COMMIT');
    return { files, partitionsCreated: created };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
