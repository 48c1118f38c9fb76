import { connectSql } from '../wal/connect.js';
import { loadMigrateConfig } from '../config/config.js';
import { migrate } from '../schema/migrate.js';

export async function migrateCommand(): Promise<number> {
  const config = loadMigrateConfig();
  const client = await connectSql(config.databaseUrl);
  try {
    const result = await migrate(client, config);
    console.log(
      `migrated ${config.table.schema}.${config.table.name}: ran ${result.files.join(', ')}, which leave existing objects as they are; ` +
        `${result.partitionsCreated} partition(s) created; publication ${config.publication}; relay role ${config.relayRole}`,
    );
    return 0;
  } finally {
    await client.end();
  }
}
