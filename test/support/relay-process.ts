import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');

export interface RelayProcess {
  child: ChildProcess;
  output(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

/** Settings a test relay needs: its own slot and topic names on the shared servers. */
export function relayEnv(databaseUrl: string, slot: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: inject('kafkaBrokers'),
    OUTBOX_SLOT: slot,
    OUTBOX_TOPIC_TEMPLATE: `${slot}.{aggregate_type}-events`,
    OUTBOX_CHECKPOINT_TOPIC: `${slot}.checkpoints`,
    HTTP_PORT: '0',
    LOG_LEVEL: 'debug',
    OUTBOX_STATUS_INTERVAL_MS: '1000',
    // The tests check aggregate versions and timestamps in the headers, which are opt-in.
    OUTBOX_HEADERS: 'all',
    ...extra,
  };
}

const running = new Set<ChildProcess>();

/** Kills every relay a test started and left running, for example because an assertion failed first. */
export async function killRunningRelays(): Promise<void> {
  const exits = [...running].map((child) => new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGKILL');
  }));
  await Promise.all(exits);
}

/** Runs the real CLI as a child process, the way an operator runs it. */
export function startRelay(env: Record<string, string>, args: string[] = ['run']): RelayProcess {
  const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const listeners: (() => void)[] = [];
  const append = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));

  return {
    child,
    exited,
    output: () => output,
    waitForLog(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = pattern.exec(output);
          if (match) {
            resolve(match[0]);
            return true;
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`relay did not log ${pattern} within ${timeoutMs} ms; output:\n${output.slice(-4000)}`)), timeoutMs);
        listeners.push(() => {
          if (check()) clearTimeout(timer);
        });
        void exited.then(() => {
          if (!check()) {
            clearTimeout(timer);
            reject(new Error(`relay exited before logging ${pattern}; output:\n${output.slice(-4000)}`));
          }
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Runs a CLI command to completion and returns its exit code and output. */
export async function runCli(env: Record<string, string>, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const relay = startRelay(env, args);
  const timer = setTimeout(() => relay.child.kill('SIGKILL'), timeoutMs);
  const code = await relay.exited;
  clearTimeout(timer);
  return { code, output: relay.output() };
}
