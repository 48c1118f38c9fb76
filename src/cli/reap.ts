import { loadReaperConfig } from '../config/config.js';
import { createLogger } from '../log.js';
import { reap, type ReapAction } from '../reaper/reaper.js';

const USAGE = 'usage: outbox-relay reap [--dry-run]';

/**
 * Runs the partition reaper once, as a cron job or by hand. Exits 0 when the run finished (kept
 * partitions included), 1 when it was refused, failed or found another run holding the lock.
 */
export async function reapCommand(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== '--dry-run');
  if (unknown.length > 0) {
    console.error(`outbox-relay reap: unknown argument ${JSON.stringify(unknown[0])}\n${USAGE}`);
    return 2;
  }
  const dryRun = args.includes('--dry-run');

  const config = loadReaperConfig();
  const log = createLogger(config.logLevel);
  const report = await reap(config, log, null, { dryRun });

  for (const action of report.actions) console.log(describeAction(action));
  if (report.actions.length === 0) console.log('nothing to do');
  if (report.outcome !== 'success') {
    console.error(`outbox-relay reap: ${report.outcome}: ${report.message ?? ''}`);
    return 1;
  }
  return 0;
}

function describeAction(action: ReapAction): string {
  const verb = action.dryRun ? `would ${action.action}` : action.action;
  const size = action.rows === undefined ? '' : ` (${action.rows} rows, ${action.bytes} bytes)`;
  const reason = action.reason === undefined ? '' : `: ${action.reason}`;
  return `${verb} ${action.partition} ${action.bounds}${size}${reason}`;
}
