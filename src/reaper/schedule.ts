import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ReaperConfig } from '../config/config.js';
import { errorText } from '../publisher/errors.js';
import { ReaperMetrics } from './metrics.js';
import { reap } from './reaper.js';

export interface ReaperSchedule {
  /** Stops the timer and waits for a run in progress, which ends at its next step. */
  stop(): Promise<void>;
}

/**
 * Runs the reaper inside the relay: once at start, so that a relay restarted often still creates
 * partitions, then every intervalMs. The timer is unref'd so that it never keeps the process alive.
 */
export function startReaperSchedule(config: ReaperConfig, log: Logger, registry: Registry): ReaperSchedule {
  if (config.intervalMs === 0) {
    log.info('partition reaper disabled (OUTBOX_REAPER_INTERVAL_MS=0)');
    return { stop: async () => undefined };
  }

  const metrics = new ReaperMetrics(registry);
  const abort = new AbortController();
  let running: Promise<void> | null = null;

  const runOnce = (): void => {
    // A run that outlasts the interval is still holding the advisory lock; skip instead of queueing.
    if (running !== null || abort.signal.aborted) return;
    running = reap(config, log, metrics, { dryRun: false, signal: abort.signal })
      .then(() => undefined)
      .catch((error: unknown) => log.error({ err: errorText(error) }, 'reaper run failed unexpectedly'))
      .finally(() => {
        running = null;
      });
  };

  log.info({ intervalMs: config.intervalMs, retentionDays: config.retentionDays, daysAhead: config.daysAhead }, 'partition reaper scheduled');
  const timer = setInterval(runOnce, config.intervalMs);
  timer.unref();
  runOnce();

  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
