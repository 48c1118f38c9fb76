import pg from 'pg';
import type { Logger } from 'pino';
import { formatLsn, type Lsn } from '../lsn.js';
import { decodeReplicationMessage, encodeStandbyStatusUpdate, type ReplicationMessage } from './protocol.js';
import { APPLICATION_NAME, SESSION_OPTIONS } from './session-options.js';
import { RelayError, errorText } from '../publisher/errors.js';

export interface StartOptions {
  slot: string;
  publication: string;
  startLsn: Lsn;
  statusIntervalMs: number;
}

/**
 * Bytes of received messages buffered before the socket is paused, and the level at which it
 * resumes. Measured in bytes, not messages, so that memory stays bounded for large rows while
 * small rows can fill a whole Kafka transaction during the commit before it.
 */
const QUEUE_HIGH_WATER_BYTES = 32 * 1024 * 1024;
const QUEUE_LOW_WATER_BYTES = 8 * 1024 * 1024;
const COMPACT_AFTER = 1024;

export type NextResult = ReplicationMessage | 'timeout';

/**
 * One replication connection streaming one slot. Messages queue in arrival order for the relay
 * loop; the socket pauses while the queue is full, so a slow Kafka bounds memory instead of growing
 * it. Keepalives that request a reply are answered at once with the durable position, because the
 * relay loop may be blocked on a Kafka commit for longer than wal_sender_timeout.
 */
export class ReplicationSession {
  // Array.shift copies the rest of a large array, so the queue keeps a read index instead and
  // drops the consumed front now and then.
  private queue: (ReplicationMessage | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  private waiter: ((value: void) => void) | null = null;
  private failure: Error | null = null;
  private ended = false;
  private paused = false;
  private statusTimer: NodeJS.Timeout | null = null;
  private durable: Lsn = 0n;

  private constructor(
    private readonly client: pg.Client,
    private readonly log: Logger,
  ) {}

  static async connect(databaseUrl: string, log: Logger): Promise<ReplicationSession> {
    const client = new pg.Client({ connectionString: databaseUrl, replication: 'database', options: SESSION_OPTIONS, application_name: APPLICATION_NAME } as pg.ClientConfig);
    const session = new ReplicationSession(client, log);
    client.on('error', (error) => session.fail(new RelayError('replication_connection_lost', `replication connection failed: ${errorText(error)}`, true, { cause: error })));
    await client.connect();
    return session;
  }

  /** Starts streaming. Acknowledges nothing beyond `startLsn` until `acknowledge` is called. */
  start(options: StartOptions): void {
    this.durable = options.startLsn;
    const connection = (this.client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', (message: { chunk: Buffer }) => this.receive(message.chunk));

    const sql =
      `START_REPLICATION SLOT ${options.slot} LOGICAL ${formatLsn(options.startLsn)} ` +
      `(proto_version '1', publication_names '${options.publication}', messages 'true')`;
    this.client.query(sql).then(
      () => this.end(),
      (error: unknown) => this.fail(startError(error, options)),
    );
    this.statusTimer = setInterval(() => this.sendStatus(false), options.statusIntervalMs);
    this.log.info({ slot: options.slot, publication: options.publication, lsn: formatLsn(options.startLsn) }, 'replication started');
  }

  /** Records a position that is durable in Kafka and reports it to the server. Never moves back. */
  acknowledge(lsn: Lsn): void {
    if (lsn < this.durable) return;
    this.durable = lsn;
    this.sendStatus(false);
  }

  /** Messages received and not yet taken by `next`. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  private take(): ReplicationMessage | undefined {
    if (this.head >= this.queue.length) return undefined;
    const message = this.queue[this.head];
    this.queue[this.head++] = undefined;
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  get acknowledged(): Lsn {
    return this.durable;
  }

  /** Returns the next message, or 'timeout' when none arrives within `timeoutMs`. Throws once the connection failed. */
  async next(timeoutMs: number): Promise<NextResult> {
    if (this.queued === 0 && this.failure === null && !this.ended) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }

    const message = this.take();
    if (message !== undefined) {
      this.queuedBytes -= sizeOf(message);
      if (this.paused && this.queuedBytes <= QUEUE_LOW_WATER_BYTES) this.setPaused(false);
      return message;
    }
    if (this.failure) throw this.failure;
    if (this.ended) throw new RelayError('replication_ended', 'the server ended replication', true);
    return 'timeout';
  }

  /** Makes a pending `next` return 'timeout' now, so that the caller can attend to other work. */
  interrupt(): void {
    this.waiter?.();
  }

  /** Ends streaming with `error`, for a failure seen elsewhere, such as the relay's SQL connection. */
  abort(error: Error): void {
    this.fail(error);
  }

  /** Sends a last status update and ends the connection. */
  async close(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.sendStatus(false);
    this.ended = true;
    await this.client.end().catch(() => undefined);
  }

  private receive(chunk: Buffer): void {
    let message: ReplicationMessage;
    try {
      // pg-protocol hands out views into its receive buffer, which it reuses for the next socket
      // reads. A queued message must own its bytes, or later data overwrites it before decoding.
      message = decodeReplicationMessage(Buffer.from(chunk));
    } catch (error) {
      this.fail(error as Error);
      return;
    }

    if (message.tag === 'PrimaryKeepalive' && message.replyRequested) this.sendStatus(false);
    this.queue.push(message);
    this.queuedBytes += sizeOf(message);
    if (!this.paused && this.queuedBytes >= QUEUE_HIGH_WATER_BYTES) this.setPaused(true);
    this.waiter?.();
  }

  private sendStatus(replyRequested: boolean): void {
    if (this.ended || this.failure) return;
    const connection = (this.client as unknown as { connection: PgConnection }).connection;
    const nowMicros = BigInt(Date.now()) * 1000n;
    connection.sendCopyFromChunk(encodeStandbyStatusUpdate(this.durable, nowMicros, replyRequested));
  }

  private setPaused(paused: boolean): void {
    const stream = (this.client as unknown as { connection: PgConnection }).connection.stream;
    this.paused = paused;
    if (paused) stream.pause();
    else stream.resume();
  }

  private fail(error: Error): void {
    if (this.failure === null) this.failure = error;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.waiter?.();
  }

  private end(): void {
    this.ended = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.waiter?.();
  }
}

/** Bytes a queued message keeps alive; a keepalive's few bytes are counted as a small constant. */
function sizeOf(message: ReplicationMessage): number {
  return message.tag === 'XLogData' ? message.data.length + 64 : 64;
}

interface PgConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}

function startError(error: unknown, options: StartOptions): RelayError {
  const code = (error as { code?: string }).code;
  if (code === '55006') {
    return new RelayError('slot_active', `replication slot "${options.slot}" is active for another process; stop the other relay or wait for it to exit`, true, { cause: error });
  }
  if (code === '42704') {
    return new RelayError('publication_missing', `publication "${options.publication}" or slot "${options.slot}" does not exist; run "outbox-relay migrate" or check OUTBOX_PUBLICATION and OUTBOX_SLOT`, false, { cause: error });
  }
  return new RelayError('replication_failed', `replication from slot "${options.slot}" failed: ${errorText(error)}`, true, { cause: error });
}
