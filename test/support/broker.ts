import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** Stops the shared test broker; tests that do this must start it again before they end. */
export function stopBroker(): void {
  execFileSync(path.join(root, 'scripts/kafka/stop'), [inject('kafkaDir')], { stdio: 'inherit' });
}

/** Starts the shared test broker again on the port the other tests know. */
export function startBroker(): void {
  const port = inject('kafkaBrokers').split(':').at(-1)!;
  execFileSync(path.join(root, 'scripts/kafka/start'), [inject('kafkaDir')], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KAFKA_PORT: port } });
}

/** Long fault runs are opt-in: OUTBOX_FAULTS=long turns minutes of CI into the full case. */
export const LONG_RUN = process.env.OUTBOX_FAULTS === 'long';

export function scaled(short: number, long: number): number {
  return LONG_RUN ? long : short;
}
