import type { Logger } from 'pino';
import { formatLsn, lsnDistance } from '../lsn.js';
import { errorText } from '../publisher/errors.js';
import type { Relay } from '../relay/relay.js';
import type { RelayMetrics } from './metrics.js';
import { readiness, type Readiness } from './health.js';
import type { RecentError } from './recent-errors.js';

/** One point of the dashboard's charts. Byte counts are numbers, exact below 2^53 (8 PiB). */
export interface StatusSample {
  /** Unix milliseconds. */
  t: number;
  lagBytes: number | null;
  lagSeconds: number | null;
  /** Events published since the relay started, summed over topics and event types. */
  eventsPublished: number;
}

/** The body of /api/status. */
export interface Status {
  now: string;
  slot: string | null;
  state: string;
  ready: Readiness;
  lagBytes: number | null;
  lagSeconds: number | null;
  eventsPerSecond: number | null;
  eventsPublished: number;
  deadLetters: number;
  kafkaCommitPendingSeconds: number;
  acknowledged: { lsn: string; at: string; commitTime: string | null } | null;
  slotStatus: { walStatus: string | null; retainedWalBytes: number | null; safeWalSizeBytes: number | null; aheadOfCheckpoint: boolean } | null;
  errors: RecentError[];
  history: StatusSample[];
}

export const SAMPLE_INTERVAL_MS = 1000;
/** Ten minutes of one-second samples: the window the dashboard's charts cover. */
const HISTORY_LENGTH = 600;
/** Throughput is averaged over this many seconds, so one large Kafka transaction does not read as a spike. */
const THROUGHPUT_WINDOW_SECONDS = 10;

/**
 * Samples lag and throughput once a second into a ring of the last ten minutes, so that a
 * dashboard opened at 3 a.m. shows the recent past at once. Sampling in one place also keeps the
 * load on PostgreSQL at one small query a second however many browsers poll /api/status.
 */
export class StatusHistory {
  private readonly samples: StatusSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;
  private failuresLogged = 0;

  constructor(
    private readonly metrics: RelayMetrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), SAMPLE_INTERVAL_MS);
    // The HTTP server closes when the relay stops; the sampler must not keep the process alive.
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Samples taken after `sinceMs` (Unix milliseconds), oldest first. */
  since(sinceMs: number): StatusSample[] {
    return this.samples.filter((sample) => sample.t > sinceMs);
  }

  get latest(): StatusSample | null {
    return this.samples.at(-1) ?? null;
  }

  /** Events a second over the last THROUGHPUT_WINDOW_SECONDS; null until two samples exist. */
  eventsPerSecond(): number | null {
    const last = this.samples.at(-1);
    if (last === undefined) return null;
    const first = this.samples.find((sample) => sample.t >= last.t - THROUGHPUT_WINDOW_SECONDS * 1000) ?? last;
    if (first === last) return null;
    return Math.max(0, last.eventsPublished - first.eventsPublished) / ((last.t - first.t) / 1000);
  }

  private async sample(): Promise<void> {
    // A slow server must not pile up lag queries on the relay's one SQL connection.
    if (this.sampling) return;
    this.sampling = true;
    try {
      const lagBytes = await this.metrics.lagBytes();
      this.samples.push({
        t: Date.now(),
        lagBytes: lagBytes === null ? null : Number(lagBytes),
        lagSeconds: this.metrics.lagSeconds(),
        eventsPublished: await this.metrics.total(this.metrics.eventsPublished),
      });
      if (this.samples.length > HISTORY_LENGTH) this.samples.shift();
    } catch (error) {
      // Logged a few times only: a sampler failing every second would flood the log.
      if (this.failuresLogged++ < 3) this.log.warn({ err: errorText(error) }, 'status sample failed');
    } finally {
      this.sampling = false;
    }
  }
}

/** Builds /api/status from the relay, its metrics and the sampled history after `sinceMs`. */
export async function readStatus(relay: Relay, metrics: RelayMetrics, history: StatusHistory, slot: string | null, sinceMs: number): Promise<Status> {
  const latest = history.latest;
  const acknowledged = metrics.lastAcknowledged;
  return {
    now: new Date().toISOString(),
    slot,
    state: relay.states.state,
    ready: readiness(relay),
    lagBytes: latest?.lagBytes ?? null,
    lagSeconds: metrics.lagSeconds(),
    eventsPerSecond: history.eventsPerSecond(),
    eventsPublished: await metrics.total(metrics.eventsPublished),
    deadLetters: await metrics.total(metrics.deadLetters),
    kafkaCommitPendingSeconds: metrics.kafkaCommitPendingSeconds(),
    acknowledged:
      acknowledged === null
        ? null
        : {
            lsn: formatLsn(acknowledged.lsn),
            at: acknowledged.at.toISOString(),
            commitTime: acknowledged.commitTimeUnixMicros === null ? null : new Date(Number(acknowledged.commitTimeUnixMicros / 1000n)).toISOString(),
          },
    slotStatus: await readSlotStatus(metrics),
    errors: metrics.recentErrors.list(),
    history: history.since(sinceMs),
  };
}

async function readSlotStatus(metrics: RelayMetrics): Promise<Status['slotStatus']> {
  const reading = metrics.lastSlotReading;
  const ahead = (await metrics.slotAheadOfCheckpoint.get()).values[0]?.value === 1;
  if (reading === null) return ahead ? { walStatus: null, retainedWalBytes: null, safeWalSizeBytes: null, aheadOfCheckpoint: true } : null;
  return {
    walStatus: reading.walStatus,
    retainedWalBytes: reading.restartLsn === null ? null : Number(lsnDistance(reading.currentWalLsn, reading.restartLsn)),
    safeWalSizeBytes: reading.safeWalSize === null ? null : Number(reading.safeWalSize),
    aheadOfCheckpoint: ahead,
  };
}
