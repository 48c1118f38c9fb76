import { formatLsn, parseLsn, type Lsn } from '../lsn.js';

/**
 * What is durable in Kafka for one slot, written in the same Kafka transaction as the events it
 * covers. `lsn` is the position the slot may be acknowledged to. `partial` names a PostgreSQL
 * transaction that was split into chunks and how many of its outbox rows are already in Kafka.
 */
export interface Checkpoint {
  slot: string;
  lsn: Lsn;
  partial: { finalLsn: Lsn; rowsDone: number } | null;
  /** When the relay wrote it; set on records read back from Kafka. */
  writtenAt?: Date;
}

interface CheckpointJson {
  version: 1;
  slot: string;
  lsn: string;
  partial: { final_lsn: string; rows_done: number } | null;
  written_at: string;
}

export function encodeCheckpoint(checkpoint: Checkpoint, now = new Date()): Buffer {
  const json: CheckpointJson = {
    version: 1,
    slot: checkpoint.slot,
    lsn: formatLsn(checkpoint.lsn),
    partial: checkpoint.partial && { final_lsn: formatLsn(checkpoint.partial.finalLsn), rows_done: checkpoint.partial.rowsDone },
    written_at: now.toISOString(),
  };
  return Buffer.from(JSON.stringify(json));
}

export function decodeCheckpoint(bytes: Buffer): Checkpoint {
  const json = JSON.parse(bytes.toString('utf8')) as CheckpointJson;
  if (json.version !== 1) throw new Error(`checkpoint record version ${String(json.version)} is not supported by this relay; upgrade outbox-relay`);
  return {
    slot: json.slot,
    lsn: parseLsn(json.lsn),
    partial: json.partial && { finalLsn: parseLsn(json.partial.final_lsn), rowsDone: json.partial.rows_done },
    writtenAt: new Date(json.written_at),
  };
}

/** True when the transaction that commits at `finalLsn` is wholly in Kafka already. */
export function coversTransaction(checkpoint: Checkpoint | null, finalLsn: Lsn): boolean {
  return checkpoint !== null && finalLsn < checkpoint.lsn;
}

/** Outbox rows at the start of the transaction at `finalLsn` that an earlier chunk already published. */
export function rowsAlreadyDone(checkpoint: Checkpoint | null, finalLsn: Lsn): number {
  return checkpoint?.partial?.finalLsn === finalLsn ? checkpoint.partial.rowsDone : 0;
}
