/**
 * Counts records handed to librdkafka whose delivery reports have not arrived, and keeps the
 * first failure among them, so that a commit can wait for the whole transaction to be written.
 */
export class Deliveries {
  private outstanding = 0;
  private failure: unknown = null;
  private waiters: (() => void)[] = [];

  expect(): void {
    this.outstanding++;
  }

  settle(error: unknown): void {
    if (error && this.failure === null) this.failure = error;
    this.outstanding = Math.max(0, this.outstanding - 1);
    if (this.outstanding === 0) this.wake();
  }

  /** Resolves once every expected report arrived; rejects with the first failed delivery. */
  async allSettled(): Promise<void> {
    if (this.outstanding > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    const failure = this.failure;
    this.failure = null;
    if (failure !== null) throw failure;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
