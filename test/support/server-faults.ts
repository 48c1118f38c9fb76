import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * Runs a command to completion without blocking the event loop, which the writer and the relay's
 * output pipes need while a server restarts: a relay whose stdout is not read blocks on its logs.
 */
function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(file)} ${args.join(' ')} failed (exit ${code ?? signal}):\n${output.slice(-3000)}`));
    });
  });
}

/** Runs a PostgreSQL binary as the postgres user when the tests run as root, as pg_ctl requires. */
function runPgCtl(pgDir: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const pgCtl = path.join(PG_BIN, 'pg_ctl');
  // runuser keeps the working directory, which the postgres user may not be allowed to read.
  if (process.getuid?.() === 0) return run('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { cwd: pgDir, timeoutMs });
  return run(pgCtl, args, { cwd: pgDir, timeoutMs });
}

/**
 * Restarts the cluster in `pgDir` the way a crash does: `pg_ctl restart -m immediate` skips the
 * shutdown checkpoint, so the server runs crash recovery, and replication slots fall back to
 * their last saved position. The server keeps the options of its last start (postmaster.opts).
 */
export async function restartPostgresImmediately(pgDir: string): Promise<void> {
  // -l: without a log file the new postmaster keeps pg_ctl's stdout open and the call never ends.
  await runPgCtl(pgDir, ['restart', '-m', 'immediate', '-w', '-t', '60', '-D', path.join(pgDir, 'data'), '-l', path.join(pgDir, 'log')], 90_000);
}

export async function isPostgresRunning(pgDir: string): Promise<boolean> {
  try {
    await runPgCtl(pgDir, ['status', '-D', path.join(pgDir, 'data')]);
    return true;
  } catch {
    return false;
  }
}

/** Starts the cluster again on `port` if a failed restart left it down, keeping its configuration. */
export async function ensurePostgresRunning(pgDir: string, port: string): Promise<boolean> {
  if (await isPostgresRunning(pgDir)) return false;
  await runPgCtl(pgDir, ['start', '-w', '-t', '60', '-D', path.join(pgDir, 'data'), '-l', path.join(pgDir, 'log'), '-o', `-p ${port}`], 90_000);
  return true;
}

/** Returns the broker's pid if the pid file names a live broker of this directory, checked as scripts/kafka/stop does. */
export function brokerPid(kafkaDir: string): number | null {
  const pidFile = path.join(kafkaDir, 'pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    // A pid alone is no proof: the kernel reuses pids, and a zombie has an empty command line.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(path.join(path.resolve(kafkaDir), 'server.properties')) ? pid : null;
  } catch {
    return null;
  }
}

/** Sends SIGKILL to the broker of `kafkaDir` and waits until it is gone; returns its pid. */
export async function killBroker(kafkaDir: string): Promise<number> {
  const pid = brokerPid(kafkaDir);
  if (pid === null) throw new Error(`no Kafka broker runs in ${kafkaDir}; cannot kill it`);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (brokerPid(kafkaDir) !== null) {
    if (Date.now() > deadline) throw new Error(`Kafka broker ${pid} still runs 10 s after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pid;
}

/** Starts the broker of `kafkaDir` on `port` with scripts/kafka/start, the script broker.ts runs. */
export async function startBrokerInBackground(kafkaDir: string, port: string): Promise<void> {
  await run(path.join(root, 'scripts/kafka/start'), [kafkaDir], { env: { ...process.env, KAFKA_PORT: port }, timeoutMs: 150_000 });
}
