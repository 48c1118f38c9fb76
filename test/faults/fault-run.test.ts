import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, slotConfirmedFlush, uniqueName, type TestDatabase } from '../support/database.js';
import { readCommitted } from '../support/kafka.js';
import { relayEnv } from '../support/relay-process.js';
import { LONG_RUN, scaled, startBroker } from '../support/broker.js';
import { outOfOrder } from '../support/expect-events.js';
import { WitnessSlot, waitFor } from '../support/witness.js';
import { Prng, randomSeed } from '../support/prng.js';
import { OutboxWriter } from '../support/outbox-writer.js';
import { RelaySupervisor, sleep, waitUntil, type RelayExit, type RelayInstance } from '../support/relay-supervisor.js';
import { brokerPid, ensurePostgresRunning, isPostgresRunning, killBroker, restartPostgresImmediately, startBrokerInBackground } from '../support/server-faults.js';
import { parseLsn } from '../../src/lsn.js';

type FaultKind = 'relayKill' | 'brokerKill' | 'postgresRestart' | 'relayPause' | 'secondInstance';

const FAULT_LABELS: Record<FaultKind, string> = {
  relayKill: 'relay SIGKILL',
  brokerKill: 'broker SIGKILL',
  postgresRestart: 'PostgreSQL immediate restart',
  relayPause: 'relay SIGSTOP',
  secondInstance: 'second relay',
};

const PLAN: Record<FaultKind, number> = {
  relayKill: scaled(22, 60),
  brokerKill: scaled(1, 3),
  postgresRestart: scaled(1, 3),
  relayPause: scaled(2, 4),
  secondInstance: scaled(1, 3),
};
/** The long run adds relay kills until the writer has committed this many events. */
const MIN_EVENTS = scaled(0, 50_000);
const EVENTS_PER_SECOND = scaled(150, 250);

const TRANSACTION_TIMEOUT_MS = 10_000;
/** Longer than the Kafka transaction timeout, so the broker aborts what the paused relay had open. */
const PAUSE_MS = 15_000;
/** Smaller than the largest writer transaction, so some transactions reach Kafka in chunks. */
const BATCH_MAX_EVENTS = 250;
const DRAIN_TIMEOUT_MS = scaled(120_000, 300_000);
const RESTART_DELAY_MS = 1000;

// Kills, pauses and server crashes at random moments while an application writes: a read_committed
// consumer must still see every committed event once, in aggregate order, and nothing rolled back.
describe('fault run', () => {
  let db: TestDatabase;
  let probe: pg.Client | null = null;
  let supervisor: RelaySupervisor | null = null;
  let writer: OutboxWriter | null = null;
  const slot = uniqueName('faults');
  const witnessName = `${slot}_witness`;
  const pgDir = inject('pgDir');
  const kafkaDir = inject('kafkaDir');
  const pgPort = new URL(inject('databaseUrl')).port;
  const kafkaPort = inject('kafkaBrokers').split(':').at(-1)!;

  beforeAll(async () => {
    db = await createTestDatabase();
    // The PostgreSQL restart breaks this connection while it is idle; only db.close() uses it later.
    db.sql.on('error', () => undefined);
    await new WitnessSlot(db.sql, witnessName).create();
  });

  afterAll(async () => {
    await writer?.stop();
    await supervisor?.killAll();
    await probe?.end().catch(() => undefined);

    // Other test files share both servers: leave them up whatever happened here.
    if (brokerPid(kafkaDir) === null) startBroker();
    if (await ensurePostgresRunning(pgDir, pgPort)) console.log('fault run: PostgreSQL was down after the run and was started again');

    const admin = await connect(db.url);
    await waitFor('the relay slot to become inactive', async () => {
      const result = await admin.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slot]);
      return result.rowCount === 0 ? true : undefined;
    }, 30_000).catch(() => undefined);
    await admin.end();
    await db.close();
  });

  const totalFaults = Object.values(PLAN).reduce((sum, n) => sum + n, 0);
  it(`delivers exactly once through ${totalFaults} faults`, { timeout: scaled(600_000, 3_600_000) }, async () => {
    const seed = process.env.OUTBOX_FAULTS_SEED ? Number(process.env.OUTBOX_FAULTS_SEED) : randomSeed();
    const prng = new Prng(seed);
    const faultPrng = prng.fork(1000);
    const startedAt = Date.now();
    const note = (text: string): void => console.log(`[fault run +${((Date.now() - startedAt) / 1000).toFixed(1)} s] ${text}`);
    note(`seed ${seed} (repeat the choices with OUTBOX_FAULTS_SEED=${seed}); ${LONG_RUN ? 'long' : 'short'} run; slot ${slot}`);

    const logDir = path.resolve(import.meta.dirname, '../../.run/test/faults', slot);
    const env = relayEnv(db.url, slot, {
      KAFKA_TRANSACTION_TIMEOUT_MS: String(TRANSACTION_TIMEOUT_MS),
      OUTBOX_BATCH_MAX_EVENTS: String(BATCH_MAX_EVENTS),
    });
    supervisor = new RelaySupervisor(env, logDir, RESTART_DELAY_MS, note);
    note(`relay output goes to ${logDir}`);
    const relays = supervisor;

    relays.startCurrent();
    expect(await waitUntil(() => relays.current?.streamingAt != null, 60_000), 'first relay streams within 60 s').toBe(true);

    writer = new OutboxWriter({
      databaseUrl: db.url,
      sessions: 3,
      aggregatesPerSession: 4,
      aggregateTypes: ['order', 'customer'],
      maxTransactionEvents: 10,
      largeTransactions: { probability: 0.01, minEvents: BATCH_MAX_EVENTS + 50, maxEvents: BATCH_MAX_EVENTS * 2 + 100 },
      rollbackProbability: 0.1,
      eventsPerSecond: EVENTS_PER_SECOND,
      prng: prng.fork(2000),
    });
    const events = writer;
    events.start();
    await sleep(2000);

    const done: Record<FaultKind, number> = { relayKill: 0, brokerKill: 0, postgresRestart: 0, relayPause: 0, secondInstance: 0 };
    const secondOutcomes: string[] = [];
    let pausesInTransaction = 0;

    /** Waits until the current relay streams, so that the next fault hits a relay with open work. */
    const awaitStreaming = (timeoutMs: number): Promise<boolean> => waitUntil(() => relays.current?.streamingAt != null && relays.current.exit === null, timeoutMs);

    const injectors: Record<FaultKind, () => Promise<string>> = {
      async relayKill() {
        // Some kills land in start-up: connecting, reading the checkpoint, starting replication.
        const startedAt = relays.current?.startedAt ?? Date.now();
        if (faultPrng.chance(0.4)) {
          await sleep(startedAt + faultPrng.int(0, 1500) - Date.now());
        } else {
          await sleep(faultPrng.int(500, 3000));
          await awaitStreaming(30_000);
          await sleep(faultPrng.int(0, 4000));
        }
        const victim = describeInstance(relays.current);
        await relays.killCurrent(faultPrng.int(0, 1000));
        return `${victim}; restarted as relay ${relays.current?.id}`;
      },

      async brokerKill() {
        await awaitStreaming(30_000);
        await sleep(faultPrng.int(0, 2000));
        const pid = await killBroker(kafkaDir);
        const downMs = faultPrng.int(0, 5000);
        await sleep(downMs);
        const restartAt = Date.now();
        await startBrokerInBackground(kafkaDir, kafkaPort);
        return `broker pid ${pid} killed, down ${downMs} ms before the restart, which took ${((Date.now() - restartAt) / 1000).toFixed(1)} s`;
      },

      async postgresRestart() {
        await awaitStreaming(30_000);
        await sleep(faultPrng.int(0, 2000));
        const restartAt = Date.now();
        await restartPostgresImmediately(pgDir);
        return `restart took ${((Date.now() - restartAt) / 1000).toFixed(1)} s`;
      },

      async relayPause() {
        await awaitStreaming(30_000);
        const paused = relays.current;
        if (paused === null || paused.exit !== null) return 'no live relay to pause';
        // Between the commits of a steady trickle no Kafka transaction is open. A burst keeps the
        // relay committing chunks back to back, so the pause most likely catches one open.
        await events.writeBurst(faultPrng.int(BATCH_MAX_EVENTS * 6, BATCH_MAX_EVENTS * 12));
        await sleep(faultPrng.int(0, 300));
        const outputBefore = paused.relay.output().length;
        paused.relay.child.kill('SIGSTOP');
        await sleep(PAUSE_MS);
        paused.relay.child.kill('SIGCONT');
        // What the relay does once it finds its transaction aborted shows within seconds.
        await sleep(5000);
        const afterwards = paused.relay.output().slice(outputBefore);
        const hitOpen = /Kafka transaction abort|Kafka transaction of \d+ records failed|"state":"fenced"/.test(afterwards);
        if (hitOpen) pausesInTransaction++;
        // A function call, because TypeScript keeps `paused.exit` narrowed to null across the awaits.
        const exit = exitOf(paused);
        const after = exit === null ? 'still running' : `exited (${exit.message ?? exit.crash ?? exit.signal ?? `code ${exit.code}`})`;
        return (
          `relay ${paused.id} (pid ${paused.pid}) stopped for ${PAUSE_MS / 1000} s, then continued; ` +
          `${hitOpen ? 'it had a Kafka transaction open, which failed' : 'no failed Kafka transaction seen, so it held none open'}; 5 s later it was ${after}`
        );
      },

      async secondInstance() {
        await awaitStreaming(30_000);
        const first = relays.current;
        const second = relays.spawn();
        await waitUntil(() => second.standbySeen || second.streamingAt !== null || second.exit !== null, 30_000);
        let role = 'neither waited nor streamed within 30 s';
        if (second.standbySeen) role = 'waited as a standby';
        else if (second.streamingAt !== null) role = 'streamed';
        else if (second.exit !== null) role = `exited (${second.exit.message ?? second.exit.crash ?? second.exit.code})`;
        await sleep(faultPrng.int(3000, 10_000));

        let ending: string;
        // The first second relay always takes over; later ones may be the one killed instead.
        if (done.secondInstance === 0 || faultPrng.chance(0.5)) {
          const handoverAt = Date.now();
          await relays.replaceCurrent(second);
          const tookOver = await waitUntil(() => (second.streamingAt !== null && second.streamingAt >= handoverAt) || second.exit !== null, 30_000) && second.exit === null;
          ending = tookOver
            ? `relay ${first?.id} killed; relay ${second.id} took over in ${((second.streamingAt! - handoverAt) / 1000).toFixed(1)} s`
            : `relay ${first?.id} killed; relay ${second.id} did not take over (${second.exit ? 'it had exited' : 'no streaming within 30 s'}); now supervising relay ${relays.current?.id}`;
        } else {
          await relays.kill(second);
          ending = `relay ${second.id} killed`;
        }
        const outcome = `relay ${second.id} ${role}${second.fencedSeen ? ' and was fenced' : ''}`;
        secondOutcomes.push(outcome);
        return `${outcome}; ${ending}`;
      },
    };

    const schedule = faultPrng.shuffle((Object.keys(PLAN) as FaultKind[]).flatMap((kind) => Array<FaultKind>(PLAN[kind]).fill(kind)));
    note(`fault sequence: ${schedule.map((kind) => FAULT_LABELS[kind]).join(', ')}`);
    for (let i = 0; i < schedule.length || events.stats.eventsCommitted < MIN_EVENTS; i++) {
      const kind = schedule[i] ?? 'relayKill';
      if (kind !== 'relayKill') await sleep(faultPrng.int(500, 3000));
      await expectServersUp(pgDir, kafkaDir);
      const description = await injectors[kind]();
      done[kind]++;
      note(`${FAULT_LABELS[kind]} #${done[kind]}: ${description} (events committed so far: ${events.stats.eventsCommitted})`);
    }

    await events.stop();
    note(`writer stopped: ${JSON.stringify(events.stats)}`);

    probe = await connect(db.url);
    const client = probe;
    const lastEnd = await new WitnessSlot(client, witnessName).lastCommitEndLsn();
    const drainStartedAt = Date.now();
    let slotAt: string | null = null;
    const drained = await waitFor('the relay slot to reach the end of the last outbox commit', async () => {
      slotAt = await slotConfirmedFlush(client, slot);
      return slotAt !== null && parseLsn(slotAt) >= parseLsn(lastEnd) ? true : undefined;
    }, DRAIN_TIMEOUT_MS).catch(() => false);
    const drainSeconds = (Date.now() - drainStartedAt) / 1000;
    if (!drained) note(`drain timed out: slot at ${slotAt}, last commit ends at ${lastEnd}; current relay ${describeInstance(relays.current)}`);
    note(`drained in ${drainSeconds.toFixed(1)} s: slot at ${slotAt}, last commit ends at ${lastEnd}`);

    const lastInstance = relays.current;
    const stopExit = await relays.stop(30_000);

    const table = await client.query<{ id: string }>('SELECT id::text AS id FROM outbox_events');
    const committed = new Set(table.rows.map((row) => row.id));
    const topics = [`${slot}.order-events`, `${slot}.customer-events`];
    const records = await readCommitted(topics, { expected: committed.size, keepValues: false, timeoutMs: scaled(120_000, 300_000) });

    const copies = new Map<string, number>();
    for (const record of records) copies.set(record.headers.id!, (copies.get(record.headers.id!) ?? 0) + 1);
    const duplicates = [...copies].filter(([, count]) => count > 1);
    const duplicateCopies = duplicates.reduce((sum, [, count]) => sum + count - 1, 0);
    const lost = [...committed].filter((id) => !copies.has(id));
    const unexpected = [...copies.keys()].filter((id) => !committed.has(id));
    const disordered = outOfOrder(records);

    const selfExits = relays.instances.filter((instance) => instance.exit !== null && !instance.exit.expected);
    const crashes = selfExits.filter((instance) => instance.exit!.crash !== null);
    const exitReasons = new Map<string, number>();
    for (const instance of selfExits) {
      const reason = (instance.exit!.message ?? `crash: ${instance.exit!.crash}`).slice(0, 160);
      exitReasons.set(reason, (exitReasons.get(reason) ?? 0) + 1);
    }
    if (exitReasons.size > 0) note(`relay exits on their own: ${[...exitReasons].map(([reason, count]) => `${count} x ${reason}`).join(' | ')}`);
    const refusals = relays.instances.filter((instance) => instance.refusalSeen).length;
    const fenced = relays.instances.filter((instance) => instance.fencedSeen).length;
    const stats = events.stats;
    const faults = (Object.keys(FAULT_LABELS) as FaultKind[]).map((kind) => `${FAULT_LABELS[kind]} ${done[kind]}`).join(', ');
    console.log(
      `fault run summary: seed ${seed}; events committed ${committed.size}, rolled back ${stats.eventsRolledBack} ` +
        `(+${stats.eventsFailed} in transactions the faults broke, ${stats.eventsUncertain} in ${stats.transactionsUncertain} commits of unknown outcome), ` +
        `delivered ${records.length}, duplicates ${duplicateCopies}, lost ${lost.length}, not committed ${unexpected.length}, aggregates out of order ${disordered.length}; ` +
        `faults: ${faults}, pauses that caught an open Kafka transaction ${pausesInTransaction}; ` +
        `relay instances ${relays.instances.length}, exits on their own ${selfExits.length}, crashes ${crashes.length}, fenced ${fenced}, refusals ${refusals}; ` +
        `second relays: ${secondOutcomes.join('; ') || 'none'}; drain ${drainSeconds.toFixed(1)} s; duration ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
    );

    expect(drained, `slot reached the last commit within ${DRAIN_TIMEOUT_MS / 1000} s (relay output in ${logDir})`).toBe(true);
    expect(stopExit === 'timeout' ? 'timeout' : stopExit?.code, `relay ${lastInstance?.id} exit code after SIGTERM`).toBe(0);
    expect(duplicateCopies, `duplicate deliveries, first ids: ${duplicates.slice(0, 5).map(([id]) => id).join(', ')}`).toBe(0);
    expect(lost.length, `committed events missing from Kafka, first ids: ${lost.slice(0, 5).join(', ')}`).toBe(0);
    expect(unexpected.length, `events in Kafka that never committed, first ids: ${unexpected.slice(0, 5).join(', ')}`).toBe(0);
    expect(disordered, 'aggregates whose versions went backwards').toEqual([]);
    expect(refusals, 'relay instances that refused to stream').toBe(0);
    expect(
      crashes.map((instance) => `relay ${instance.id}: ${instance.exit!.crash} (${instance.logPath})`),
      'relays that crashed instead of retrying or exiting with an error message',
    ).toEqual([]);
    for (const kind of Object.keys(PLAN) as FaultKind[]) expect(done[kind], `${FAULT_LABELS[kind]} faults injected`).toBeGreaterThanOrEqual(PLAN[kind]);
    expect(committed.size, 'events committed').toBeGreaterThanOrEqual(MIN_EVENTS);
  });
});

/**
 * Fails the run when a shared server is down between faults, which only something outside this
 * test causes. Another vitest run's global teardown stops both servers unless
 * OUTBOX_TEST_KEEP_SERVICES=1 is set, and the run then only piles up relay start-up failures.
 */
async function expectServersUp(pgDir: string, kafkaDir: string): Promise<void> {
  const outside = 'was stopped outside this test, for example by the teardown of another vitest run without OUTBOX_TEST_KEEP_SERVICES=1';
  if (brokerPid(kafkaDir) === null) throw new Error(`the shared Kafka broker in ${kafkaDir} ${outside}`);
  if (!(await isPostgresRunning(pgDir))) throw new Error(`the shared PostgreSQL cluster in ${pgDir} ${outside}`);
}

function exitOf(instance: RelayInstance): RelayExit | null {
  return instance.exit;
}

function describeInstance(instance: RelayInstance | null): string {
  if (instance === null) return 'no relay';
  const state =
    instance.exit !== null && !instance.exit.expected
      ? `had already exited (${instance.exit.signal ?? `code ${instance.exit.code}`})`
      : instance.streamingAt !== null
        ? `streaming for ${((Date.now() - instance.streamingAt) / 1000).toFixed(1)} s`
        : `not streaming yet, ${((Date.now() - instance.startedAt) / 1000).toFixed(1)} s after its start`;
  return `relay ${instance.id} (pid ${instance.pid}) ${state}`;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
