import type { Relay } from '../relay/relay.js';
import { redact } from './recent-errors.js';

/** A Kafka commit pending longer than this means Kafka is unreachable, even while the state is streaming. */
export const KAFKA_STALL_SECONDS = 15;

/** The body of /readyz, and the `ready` field of /api/status. */
export interface Readiness {
  status: 'ready' | 'not ready';
  state: string;
  /** The cause of not being ready, in one sentence an operator can act on; null when ready. */
  reason: string | null;
  checks: {
    /** The replication session and the Kafka producer are connected and the stream loop runs: the state is streaming. */
    streaming: boolean;
    kafkaCommitPendingSeconds: number;
    fenced: boolean;
    refusing: boolean;
  };
  lastError: string | null;
}

/**
 * Ready means streaming with Kafka committing. The relay enters the streaming state only after
 * the replication session started and the producer connected, and leaves it on any error, so the
 * state stands for both connections.
 */
export function readiness(relay: Relay): Readiness {
  const state = relay.states.state;
  const pending = relay.kafkaCommitPendingSeconds;
  // /readyz is served without authentication, like the dashboard, so URLs lose their passwords.
  const lastError = relay.error === null ? null : redact(relay.error);
  let reason: string | null = null;
  if (state !== 'streaming') reason = lastError === null ? `relay is ${state}` : `relay is ${state}: ${lastError}`;
  else if (pending > KAFKA_STALL_SECONDS) reason = `Kafka transaction pending for ${Math.round(pending)} s: Kafka is unreachable or slow`;

  return {
    status: reason === null ? 'ready' : 'not ready',
    state,
    reason,
    checks: { streaming: state === 'streaming', kafkaCommitPendingSeconds: round(pending), fenced: state === 'fenced', refusing: state === 'refusing' },
    lastError,
  };
}

/** Builds the body of /healthz, which any response at all means alive: the event loop runs. */
export function liveness(relay: Relay): { status: 'alive'; state: string; uptimeSeconds: number } {
  return { status: 'alive', state: relay.states.state, uptimeSeconds: Math.round(process.uptime()) };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
