import { loadConfig } from '../config/config.js';
import { errorText } from '../publisher/errors.js';
import { commandLogLevel, createCommandLogger } from '../replay/log.js';
import { ReplayError, runReplay, type ReplayOptions, type ReplayPlan } from '../replay/replay.js';
import { isEmptySelection, type ReplaySelection } from '../replay/selection.js';
import { UsageError, parseFlags, parseNonNegativeNumber, parseTimestamp, parseTopic, parseUuid, parseUuidList } from '../replay/usage.js';

export const REPLAY_USAGE = `usage: outbox-relay replay [selection] [options]

Publishes events from the outbox table again, marked with the headers replay=true, replay.id and
replay.at. Filters combine with AND; a filter given several times matches any of its values.

selection (at least one, or --all):
  --from TIME           created_at at or after TIME (ISO 8601 with Z or an offset, or a date = midnight UTC)
  --to TIME             created_at before TIME
  --from-id UUID        id at or above UUID (uuid order; useful for time-ordered ids such as UUIDv7)
  --to-id UUID          id at or below UUID
  --id UUID[,UUID...]   these ids; repeatable
  --aggregate-id ID     events of this aggregate; repeatable
  --event-type TYPE     events of this type; repeatable
  --all                 every event in the table

options:
  --topic TOPIC         publish every event to TOPIC instead of routing it (OUTBOX_TOPIC_TEMPLATE, OUTBOX_TOPIC_MAP)
  --dry-run             print how many events would go to which topics, and publish nothing
  --progress-seconds N  seconds between progress lines on stderr (default 10; 0 prints one per Kafka transaction)
  --transactional-id ID Kafka transactional id (default: the relay's transactional id + ".replay")

Configuration comes from the relay's environment variables; see .env.example and docs/replay.md.`;

const FLAGS = {
  from: { type: 'string' },
  to: { type: 'string' },
  'from-id': { type: 'string' },
  'to-id': { type: 'string' },
  id: { type: 'string', multiple: true },
  'aggregate-id': { type: 'string', multiple: true },
  'event-type': { type: 'string', multiple: true },
  all: { type: 'boolean' },
  topic: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'progress-seconds': { type: 'string' },
  'transactional-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `outbox-relay replay`: exit code 0 when every selected event was published, 1 on failure, 2 on invalid flags. */
export async function replayCommand(args: string[]): Promise<number> {
  let parsed: ReplayArguments | 'help';
  try {
    parsed = parseReplayArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`outbox-relay replay: ${error.message}\nrun "outbox-relay replay --help" for the flags`);
    return 2;
  }
  if (parsed === 'help') {
    console.log(REPLAY_USAGE);
    return 0;
  }

  const config = loadConfig();
  const log = createCommandLogger(commandLogLevel(config.logLevel));
  const options: ReplayOptions = { ...parsed.options, selection: parsed.selection, transactionalId: parsed.options.transactionalId ?? `${config.transactionalId}.replay` };
  if (options.transactionalId === config.transactionalId) {
    console.error(`outbox-relay replay: --transactional-id ${JSON.stringify(options.transactionalId)} is the relay's own transactional id, and using it would fence the running relay; choose another`);
    return 2;
  }

  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    console.error(`outbox-relay replay: ${signal} received; stopping after the current Kafka transaction`);
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const result = await runReplay(config, options, log, stop.signal);
    if (options.dryRun) return printDryRun(result.plan);
    if (result.plan.total === 0) {
      console.log('replay: no events match the selection; nothing published');
      return 0;
    }
    const summary = `${result.published} of ${result.plan.total} events in ${result.transactions} Kafka transaction(s), replay.id=${result.replayId}`;
    if (result.stopped) {
      console.error(`outbox-relay replay: stopped after ${summary}; the published events stay published`);
      return 1;
    }
    console.log(`replayed ${summary}`);
    printTopics(result.plan);
    return 0;
  } catch (error) {
    if (!(error instanceof ReplayError)) log.error({ err: errorText(error) }, 'replay failed');
    console.error(`outbox-relay replay: ${errorText(error)}`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** The flags, checked; the transactional id stays unset until the configuration gives its default. */
interface ReplayArguments {
  selection: ReplaySelection;
  options: Omit<ReplayOptions, 'selection' | 'transactionalId'> & { transactionalId?: string };
}

function parseReplayArgs(args: string[]): ReplayArguments | 'help' {
  const flags = parseFlags(args, FLAGS);
  if (flags.help === true) return 'help';

  const from = flags.from === undefined ? undefined : parseTimestamp('--from', flags.from as string);
  const to = flags.to === undefined ? undefined : parseTimestamp('--to', flags.to as string);
  // Date keeps milliseconds only, so bounds within one millisecond pass here and PostgreSQL compares them exactly.
  if (from !== undefined && to !== undefined && from.epochMs > to.epochMs) {
    throw new UsageError(`--from ${flags.from as string} is after --to ${flags.to as string}, so the range is empty; swap them`);
  }
  const fromId = flags['from-id'] === undefined ? undefined : parseUuid('--from-id', flags['from-id'] as string);
  const toId = flags['to-id'] === undefined ? undefined : parseUuid('--to-id', flags['to-id'] as string);
  if (fromId !== undefined && toId !== undefined && fromId > toId) throw new UsageError(`--from-id ${fromId} is above --to-id ${toId}; swap them`);

  const selection: ReplaySelection = {
    from: from?.text,
    to: to?.text,
    fromId,
    toId,
    ids: parseUuidList('--id', flags.id as string[] | undefined),
    aggregateIds: nonEmptyValues('--aggregate-id', flags['aggregate-id'] as string[] | undefined),
    eventTypes: nonEmptyValues('--event-type', flags['event-type'] as string[] | undefined),
  };
  if (isEmptySelection(selection) && flags.all !== true) {
    throw new UsageError('no selection given; choose events with --from/--to, --from-id/--to-id, --id, --aggregate-id or --event-type, or pass --all to replay the whole outbox table');
  }
  if (!isEmptySelection(selection) && flags.all === true) throw new UsageError('--all cannot be combined with a selection flag; drop --all or the other selection flags');

  const transactionalId = flags['transactional-id'] as string | undefined;
  if (transactionalId !== undefined && transactionalId.trim() === '') throw new UsageError('--transactional-id is empty; give a Kafka transactional id');
  return {
    selection,
    options: {
      topic: flags.topic === undefined ? undefined : parseTopic('--topic', flags.topic as string),
      dryRun: flags['dry-run'] === true,
      progressIntervalMs: 1000 * (flags['progress-seconds'] === undefined ? 10 : parseNonNegativeNumber('--progress-seconds', flags['progress-seconds'] as string)),
      transactionalId,
    },
  };
}

function nonEmptyValues(flag: string, values: string[] | undefined): string[] {
  for (const value of values ?? []) {
    if (value === '') throw new UsageError(`${flag} is empty; give a value`);
  }
  return values ?? [];
}

function printDryRun(plan: ReplayPlan): number {
  console.log(`dry run: ${plan.total} event(s) selected; nothing published`);
  printTopics(plan);
  for (const group of plan.unroutable) {
    console.log(`unroutable: ${group.count} event(s) of aggregate_type "${group.aggregateType}", event_type "${group.eventType}": ${group.error}`);
  }
  return plan.unroutable.length > 0 ? 1 : 0;
}

function printTopics(plan: ReplayPlan): void {
  const width = Math.max(0, ...[...plan.topics.keys()].map((topic) => topic.length));
  for (const [topic, count] of [...plan.topics].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${topic.padEnd(width)}  ${count}`);
}
