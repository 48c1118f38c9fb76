import pg from 'pg';
import { RelayError, errorText } from '../publisher/errors.js';
import { APPLICATION_NAME, SESSION_OPTIONS } from './session-options.js';

/**
 * Opens a SQL connection with the relay's session settings; the error names the server and
 * DATABASE_URL, never the password. `onLost` hears of a connection that breaks while idle, which
 * pg reports as an 'error' event: without a listener that event ends the process.
 */
export async function connectSql(databaseUrl: string, onLost: (error: RelayError) => void = () => undefined): Promise<pg.Client> {
  const sql = new pg.Client({ connectionString: databaseUrl, options: SESSION_OPTIONS, application_name: APPLICATION_NAME });
  sql.on('error', (error) => onLost(new RelayError('postgres_connection_lost', `connection to PostgreSQL at ${describeServer(databaseUrl)} lost: ${errorText(error)}`, true, { cause: error })));
  try {
    await sql.connect();
  } catch (error) {
    await sql.end().catch(() => undefined);
    throw new RelayError('postgres_connect_failed', `could not connect to PostgreSQL at ${describeServer(databaseUrl)}: ${errorText(error)}; check DATABASE_URL`, true, { cause: error });
  }
  return sql;
}

function describeServer(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || 5432}/${url.pathname.slice(1)} as ${decodeURIComponent(url.username) || '(default user)'}`;
}
