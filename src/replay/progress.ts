/**
 * Prints a progress line on stderr at most every `intervalMs` (after every call when 0): count,
 * share of the total, rate and an estimate of the time left at that rate.
 */
export class ProgressReporter {
  private readonly startedAt = Date.now();
  private lastLineAt = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly intervalMs: number,
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  update(done: number): void {
    const now = Date.now();
    if (this.intervalMs > 0 && now - this.lastLineAt < this.intervalMs) return;
    this.lastLineAt = now;
    this.write(this.line(done, now));
  }

  line(done: number, now = Date.now()): string {
    const seconds = Math.max((now - this.startedAt) / 1000, 0.001);
    const rate = done / seconds;
    const share = this.total === 0 ? 100 : (100 * done) / this.total;
    const eta = rate > 0 ? formatDuration((this.total - done) / rate) : 'unknown';
    return `${this.label}: ${done}/${this.total} events (${share.toFixed(1)}%), ${rate.toFixed(0)} events/s, ETA ${eta}`;
  }
}

export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}
