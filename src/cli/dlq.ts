import { loadConfig, loadDlqConfig } from '../config/config.js';
import { errorText } from '../publisher/errors.js';
import { listDeadLetters, type DeadLetterListing } from '../replay/dlq-list.js';
import { deadLetterPosition, type DeadLetterFilter } from '../replay/dead-letter-entry.js';
import { commandLogLevel, createCommandLogger } from '../replay/log.js';
import { runRedrive, type RedriveDestination, type RedriveResult } from '../replay/redrive.js';
import { UsageError, parseFlags, parseTopic, parseUuidList } from '../replay/usage.js';

export const DLQ_USAGE = `usage: outbox-relay dlq <list|redrive> [options]

  list      print every dead letter (reason, outbox id, aggregate, original topic, error) and a
            summary by reason, reading the dead-letter topic read_committed to its end
  redrive   publish dead-lettered events again, read from the outbox table by id, once the cause
            is fixed; each event is published once, however often redrive runs

filters (both commands; repeatable, and a filter given several times matches any of its values):
  --reason REASON       too_large, unroutable, invalid_row or schema_mismatch
  --outbox-id UUID      the dead letter of this outbox event

list options:
  --json                one JSON document on stdout instead of text

redrive options:
  --topic TOPIC         publish to TOPIC instead of routing the event again
  --original-topic      publish to the dead letter's dlq.original_topic instead of routing again
  --dry-run             print what would be redriven, and publish nothing
  --transactional-id ID Kafka transactional id (default: the relay's transactional id + ".dlq-redrive")

both:
  --redrive-log-topic T compacted topic recording redriven events (default: OUTBOX_DEAD_LETTER_TOPIC + ".redriven")

The dead-letter topic is OUTBOX_DEAD_LETTER_TOPIC; see docs/replay.md.`;

const FILTER_FLAGS = {
  reason: { type: 'string', multiple: true },
  'outbox-id': { type: 'string', multiple: true },
  'redrive-log-topic': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const LIST_FLAGS = { ...FILTER_FLAGS, json: { type: 'boolean' } } as const;

const REDRIVE_FLAGS = {
  ...FILTER_FLAGS,
  topic: { type: 'string' },
  'original-topic': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'transactional-id': { type: 'string' },
} as const;

const REASONS = ['too_large', 'unroutable', 'invalid_row', 'schema_mismatch'];

/** `outbox-relay dlq list|redrive`: exit code 2 on invalid flags. */
export async function dlqCommand(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  try {
    switch (subcommand) {
      case 'list':
        return await listCommand(rest);
      case 'redrive':
        return await redriveCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(DLQ_USAGE);
        return subcommand === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown subcommand ${JSON.stringify(subcommand)}; use list or redrive`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`outbox-relay dlq: ${error.message}\nrun "outbox-relay dlq --help" for the flags`);
    return 2;
  }
}

function parseFilter(flags: Record<string, unknown>): DeadLetterFilter {
  const reasons = (flags.reason as string[] | undefined) ?? [];
  for (const reason of reasons) {
    if (!REASONS.includes(reason)) throw new UsageError(`--reason ${JSON.stringify(reason)} is not a dead-letter reason; use one of ${REASONS.join(', ')}`);
  }
  return { reasons, outboxIds: parseUuidList('--outbox-id', flags['outbox-id'] as string[] | undefined) };
}

function logTopicOf(flags: Record<string, unknown>, deadLetterTopic: string): string {
  const flag = flags['redrive-log-topic'] as string | undefined;
  return flag === undefined ? `${deadLetterTopic}.redriven` : parseTopic('--redrive-log-topic', flag);
}

async function listCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, LIST_FLAGS);
  if (flags.help === true) {
    console.log(DLQ_USAGE);
    return 0;
  }
  const filter = parseFilter(flags);
  const config = loadDlqConfig();
  const log = createCommandLogger(commandLogLevel(config.logLevel));
  const connection = { brokers: config.kafkaBrokers, security: config.kafkaSecurity };

  let listing: DeadLetterListing;
  try {
    listing = await listDeadLetters(connection, config.deadLetterTopic, logTopicOf(flags, config.deadLetterTopic), filter, log);
  } catch (error) {
    console.error(`outbox-relay dlq list: ${errorText(error)}`);
    return 1;
  }

  if (flags.json === true) console.log(JSON.stringify(listingJson(config.deadLetterTopic, listing)));
  else printListing(config.deadLetterTopic, listing);
  return 0;
}

function listingJson(topic: string, listing: DeadLetterListing): unknown {
  return {
    topic,
    topicExists: listing.topicExists,
    deadLetters: listing.letters,
    summary: Object.fromEntries(listing.summary),
  };
}

function printListing(topic: string, listing: DeadLetterListing): void {
  if (!listing.topicExists) {
    console.log(`dead-letter topic ${topic} does not exist: no dead letters`);
    return;
  }
  console.log(`dead-letter topic ${topic}: ${listing.letters.length} dead letter(s)`);
  for (const letter of listing.letters) {
    const aggregate = `${letter.aggregateType}/${letter.aggregateId}@${letter.aggregateVersion}`;
    console.log(
      `${letter.partition}/${letter.offset} ${letter.failedAt} ${letter.reason} ${letter.redriven ? 'redriven' : 'pending'} ` +
        `outbox_id=${letter.outboxId || '(unknown)'} aggregate=${aggregate} event_type=${letter.eventType} ` +
        `original_topic=${letter.originalTopic ?? '(none)'} error=${JSON.stringify(letter.error)}`,
    );
  }
  if (listing.summary.size === 0) return;
  console.log('summary by reason:');
  for (const [reason, counts] of [...listing.summary].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${reason}: ${counts.total} (${counts.redriven} redriven, ${counts.total - counts.redriven} pending)`);
  }
}

async function redriveCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, REDRIVE_FLAGS);
  if (flags.help === true) {
    console.log(DLQ_USAGE);
    return 0;
  }
  const filter = parseFilter(flags);
  if (flags.topic !== undefined && flags['original-topic'] === true) throw new UsageError('--topic and --original-topic exclude each other; choose one');
  const destination: RedriveDestination =
    flags.topic !== undefined ? { kind: 'topic', topic: parseTopic('--topic', flags.topic as string) } : flags['original-topic'] === true ? { kind: 'original' } : { kind: 'route' };
  const transactionalIdFlag = flags['transactional-id'] as string | undefined;
  if (transactionalIdFlag !== undefined && transactionalIdFlag.trim() === '') throw new UsageError('--transactional-id is empty; give a Kafka transactional id');

  const config = loadConfig();
  const transactionalId = transactionalIdFlag ?? `${config.transactionalId}.dlq-redrive`;
  if (transactionalId === config.transactionalId) {
    throw new UsageError(`--transactional-id ${JSON.stringify(transactionalId)} is the relay's own transactional id, and using it would fence the running relay; choose another`);
  }
  const log = createCommandLogger(commandLogLevel(config.logLevel));

  let result: RedriveResult;
  try {
    result = await runRedrive(config, { filter, destination, dryRun: flags['dry-run'] === true, transactionalId, logTopic: logTopicOf(flags, config.deadLetterTopic) }, log);
  } catch (error) {
    log.error({ err: errorText(error) }, 'redrive failed');
    console.error(`outbox-relay dlq redrive: ${errorText(error)}`);
    return 1;
  }
  return printRedrive(result, flags['dry-run'] === true);
}

/** Exit code 0 when every selected dead letter was redriven, 1 when some still fail. */
function printRedrive(result: RedriveResult, dryRun: boolean): number {
  const verb = dryRun ? 'would redrive' : 'redriven';
  for (const outcome of result.redriven) console.log(`${verb}: ${deadLetterPosition(outcome.entry)} outbox_id=${outcome.entry.outboxId} reason=${outcome.entry.reason} -> ${outcome.topic}`);
  for (const outcome of result.failed) {
    console.log(`still failing: ${deadLetterPosition(outcome.entry)} outbox_id=${outcome.entry.outboxId || '(unknown)'} reason=${outcome.entry.reason}: ${outcome.error}`);
  }
  console.log(
    `${dryRun ? 'dry run: ' : ''}${result.redriven.length} ${verb}, ${result.failed.length} still failing (left in the dead-letter topic), ` +
      `${result.alreadyRedriven} redriven earlier, ${result.duplicates} duplicate letter(s), ${result.notSelected} not selected; redrive.id=${result.redriveId}`,
  );
  return result.failed.length > 0 ? 1 : 0;
}
