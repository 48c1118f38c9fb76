import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { startRelay, type RelayProcess } from './relay-process.js';

export interface RelayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The test killed or stopped it; otherwise it exited on its own. */
  expected: boolean;
  /** The relay's last "outbox-relay: ..." line, which names the error it stopped on. */
  message: string | null;
  /**
   * The first error line of an exit that bypassed the relay's own error handling, such as an
   * unhandled 'error' event. It is null when the relay exited through its error handling.
   */
  crash: string | null;
}

export interface RelayInstance {
  id: number;
  relay: RelayProcess;
  pid: number;
  logPath: string;
  startedAt: number;
  streamingAt: number | null;
  standbySeen: boolean;
  fencedSeen: boolean;
  refusalSeen: boolean;
  expectedExit: boolean;
  exit: RelayExit | null;
}

/**
 * Keeps one relay process running the way a process supervisor does: when the current instance
 * exits on its own, a new one starts after a delay. Each instance's output goes to its own file,
 * so a failed run can be read afterwards.
 */
export class RelaySupervisor {
  readonly instances: RelayInstance[] = [];
  current: RelayInstance | null = null;
  private running = true;

  constructor(
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly restartDelayMs: number,
    private readonly note: (text: string) => void,
  ) {
    mkdirSync(logDir, { recursive: true });
  }

  /** Starts a new instance as the supervised one. */
  startCurrent(): RelayInstance {
    const instance = this.spawn();
    this.current = instance;
    return instance;
  }

  /** Starts an instance that is not restarted when it exits, such as a second relay on the same slot. */
  spawn(): RelayInstance {
    const relay = startRelay(this.env);
    const id = this.instances.length + 1;
    const logPath = path.join(this.logDir, `relay-${String(id).padStart(3, '0')}.log`);
    const instance: RelayInstance = {
      id,
      relay,
      pid: relay.child.pid ?? -1,
      logPath,
      startedAt: Date.now(),
      streamingAt: null,
      standbySeen: false,
      fencedSeen: false,
      refusalSeen: false,
      expectedExit: false,
      exit: null,
    };
    this.instances.push(instance);
    this.watchOutput(instance, createWriteStream(logPath));
    void this.watchExit(instance);
    return instance;
  }

  /**
   * Kills the current instance with SIGKILL and starts the next one after `restartAfterMs`.
   * Returns the victim, which may have exited on its own just before.
   */
  async killCurrent(restartAfterMs: number): Promise<RelayInstance | null> {
    const victim = this.current;
    this.current = null;
    if (victim !== null) await this.kill(victim);
    await sleep(restartAfterMs);
    if (this.running) this.startCurrent();
    return victim;
  }

  /** Kills an instance with SIGKILL and waits for its exit. */
  async kill(instance: RelayInstance): Promise<void> {
    if (instance.exit === null) instance.expectedExit = true;
    await instance.relay.kill('SIGKILL');
  }

  /** Kills the current instance and supervises `successor` in its place, or a new one if it already exited. */
  async replaceCurrent(successor: RelayInstance): Promise<void> {
    const victim = this.current;
    this.current = successor;
    if (victim !== null) await this.kill(victim);
    // Its own exit handler restarts a successor that exits from here on; one that exited before
    // it became current was not restarted by anyone yet.
    if (this.current === successor && successor.exit !== null && this.running) this.startCurrent();
  }

  /** Stops supervising and sends SIGTERM, which makes the current instance drain; returns its exit. */
  async stop(timeoutMs: number): Promise<RelayExit | 'timeout' | null> {
    this.running = false;
    const last = this.current;
    if (last === null) return null;
    if (last.exit === null) last.expectedExit = true;
    void last.relay.stop();
    const exited = await Promise.race([last.relay.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!exited) return 'timeout';
    await sleep(0);
    return last.exit;
  }

  /** Kills every instance still running, for cleanup after a failure. */
  async killAll(): Promise<void> {
    this.running = false;
    await Promise.all(this.instances.filter((instance) => instance.exit === null).map((instance) => this.kill(instance)));
  }

  private watchOutput(instance: RelayInstance, file: WriteStream): void {
    // Keep the end of the previous chunk, so that a marker split across two chunks is still found.
    let tail = '';
    const scan = (chunk: Buffer): void => {
      file.write(chunk);
      const text = tail + chunk.toString();
      if (instance.streamingAt === null && text.includes('"state":"streaming"')) instance.streamingAt = Date.now();
      if (text.includes('so this one waits as a standby')) instance.standbySeen = true;
      if (text.includes('"state":"fenced"')) instance.fencedSeen = true;
      if (text.includes('relay refuses to stream')) instance.refusalSeen = true;
      tail = text.slice(-200);
    };
    instance.relay.child.stdout!.on('data', scan);
    instance.relay.child.stderr!.on('data', scan);
    instance.relay.child.once('close', () => file.end());
  }

  private async watchExit(instance: RelayInstance): Promise<void> {
    await instance.relay.exited;
    const child = instance.relay.child;
    const lines = instance.relay.output().split('\n');
    const lastError = [...lines].reverse().find((line) => line.startsWith('outbox-relay: ')) ?? null;
    let crash: string | null = null;
    if (!instance.expectedExit && lastError === null) {
      crash = lines.find((line) => /^[A-Za-z]*error\b/i.test(line)) ?? lines.find((line) => /Unhandled|uncaught/i.test(line)) ?? 'exit without an error message';
    }
    instance.exit = { code: child.exitCode, signal: child.signalCode, expected: instance.expectedExit, message: lastError, crash };
    if (!instance.expectedExit) {
      const how = child.signalCode ?? `code ${child.exitCode}`;
      const why = lastError ?? `crashed: ${crash}`;
      this.note(`relay ${instance.id} (pid ${instance.pid}) exited on its own (${how}): ${why.slice(0, 300)} (log ${instance.logPath})`);
    }

    if (instance !== this.current || !this.running) return;
    await sleep(this.restartDelayMs);
    if (instance === this.current && this.running) this.startCurrent();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 100 ms; false when `timeoutMs` passed first. */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}
