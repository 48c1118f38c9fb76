import { z } from 'zod';
import { EnvReader, bool, identifier, nonNegativeInt, port, positiveInt } from './env.js';
import { parseTopicMap, validateTopicTemplate, type TopicMap } from '../outbox/routing.js';
import { KAFKA_DEFAULT_MAX_MESSAGE_BYTES } from '../outbox/size-limit.js';
import { DEFAULT_LINGER_MS } from '../publisher/kafka-config.js';
import { DEFAULT_HEADER_FIELDS, HEADER_FIELDS, parseHeaderFields, type HeaderField } from '../outbox/record.js';
import type { BadEventPolicy } from '../outbox/dead-letter.js';
import type { AvroSettings } from '../avro/encoder.js';
import { COMPATIBILITY_LEVELS, SUBJECT_NAME_STRATEGIES, type CompatibilityLevel } from '../avro/subject.js';

export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaSecurity {
  ssl: boolean;
  sslCaLocation?: string;
  saslMechanism?: SaslMechanism;
  saslUsername?: string;
  saslPassword?: string;
}

export interface RelayConfig {
  databaseUrl: string;
  kafkaBrokers: string[];
  kafkaSecurity: KafkaSecurity;
  kafkaTransactionTimeoutMs: number;
  kafkaLingerMs: number;
  transactionalId: string;
  slot: string;
  createSlot: boolean;
  publication: string;
  table: { schema: string; name: string };
  topicTemplate: string;
  topicMap: TopicMap;
  checkpointTopic: string;
  deadLetterTopic: string;
  badEventPolicy: BadEventPolicy;
  /** Row fields copied into each record's headers. */
  headers: ReadonlySet<HeaderField>;
  maxEventBytes: number;
  topicMaxBytes: Map<string, number>;
  batch: { maxEvents: number; maxBytes: number; lingerMs: number };
  statusIntervalMs: number;
  idleAckIntervalMs: number;
  idleAckMinBytes: number;
  slotPollIntervalMs: number;
  heartbeatIntervalMs: number;
  refusalRecheckMs: number;
  http: { host: string; port: number };
  logLevel: string;
  /** Avro encoding through a schema registry; null publishes every payload as JSON. */
  avro: AvroSettings | null;
  reaper: ReaperConfig;
}

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
const postgresUrl = z
  .string()
  .refine((text) => {
    try {
      const url = new URL(text);
      return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
    } catch {
      return false;
    }
  }, 'not a postgres:// URL')
  .refine((text) => {
    const mode = safeUrl(text)?.searchParams.get('sslmode');
    return mode === null || mode === undefined || SSL_MODES.includes(mode);
  }, `sslmode must be one of ${SSL_MODES.join(', ')}`);

const brokerList = z
  .string()
  .transform((text) => text.split(',').map((b) => b.trim()).filter((b) => b.length > 0))
  .refine((list) => list.length > 0 && list.every((b) => /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(b)), 'each broker must be host:port');

const tableName = z.string().regex(/^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/, 'not schema.table in lower case');
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'not a legal Kafka topic name');

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Reads and validates the relay's configuration; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const reader = new EnvReader(env);

  const databaseUrl = reader.read('DATABASE_URL', { schema: postgresUrl, expected: 'a postgres://user:password@host:port/database URL', secret: true });
  const kafkaBrokers = reader.read('KAFKA_BROKERS', { schema: brokerList, expected: 'a comma-separated list of host:port, such as 127.0.0.1:9092' });
  const slot = reader.read('OUTBOX_SLOT', { schema: identifier, default: 'outbox_relay', expected: 'a replication slot name: lower-case letters, digits and _' });
  const createSlot = reader.read('OUTBOX_SLOT_CREATE', { schema: bool, default: 'true', expected: 'true or false' });
  const publication = reader.read('OUTBOX_PUBLICATION', { schema: identifier, default: 'outbox_publication', expected: 'a publication name: lower-case letters, digits and _' });
  const table = reader.read('OUTBOX_TABLE', { schema: tableName, default: 'public.outbox_events', expected: 'the outbox table as schema.table' });
  const topicTemplate = reader.read('OUTBOX_TOPIC_TEMPLATE', { schema: z.string(), default: '{aggregate_type}-events', expected: 'a topic template using {aggregate_type} and {event_type}' });
  const topicMapText = reader.optional('OUTBOX_TOPIC_MAP', { schema: z.string(), expected: 'event_type=topic pairs separated by commas' });
  const checkpointTopic = reader.read('OUTBOX_CHECKPOINT_TOPIC', { schema: topicName, default: 'outbox-relay.checkpoints', expected: 'a Kafka topic name' });
  const deadLetterTopic = reader.read('OUTBOX_DEAD_LETTER_TOPIC', { schema: topicName, default: 'outbox-relay.dead-letters', expected: 'a Kafka topic name' });
  const badEventPolicy = reader.read('OUTBOX_BAD_EVENT_POLICY', { schema: z.enum(['dead-letter', 'halt']), default: 'dead-letter', expected: 'dead-letter (park bad events and go on) or halt (stop before acknowledging them)' });
  const headersText = reader.optional('OUTBOX_HEADERS', { schema: z.string(), expected: `"all" or a comma-separated list of ${HEADER_FIELDS.join(', ')}` });
  const maxEventBytes = reader.read('OUTBOX_MAX_EVENT_BYTES', { schema: positiveInt, default: String(KAFKA_DEFAULT_MAX_MESSAGE_BYTES), expected: "the topics' max.message.bytes, in bytes" });
  const topicMaxBytesText = reader.optional('OUTBOX_TOPIC_MAX_BYTES', { schema: z.string(), expected: 'topic=bytes pairs separated by commas' });
  const maxEvents = reader.read('OUTBOX_BATCH_MAX_EVENTS', { schema: positiveInt, default: '5000', expected: 'the maximum events per Kafka transaction, a positive integer' });
  const maxBytes = reader.read('OUTBOX_BATCH_MAX_BYTES', { schema: positiveInt, default: String(8 * 1024 * 1024), expected: 'the maximum bytes per Kafka transaction, a positive integer' });
  const lingerMs = reader.read('OUTBOX_BATCH_LINGER_MS', { schema: positiveInt, default: '20', expected: 'milliseconds to wait for more events before a Kafka commit, a positive integer' });
  const statusIntervalMs = reader.read('OUTBOX_STATUS_INTERVAL_MS', { schema: positiveInt, default: '10000', expected: 'milliseconds between standby status updates, a positive integer' });
  const idleAckIntervalMs = reader.read('OUTBOX_IDLE_ACK_INTERVAL_MS', { schema: positiveInt, default: '1000', expected: 'minimum milliseconds between acknowledgements of an idle slot, a positive integer' });
  const idleAckMinBytes = reader.read('OUTBOX_IDLE_ACK_MIN_BYTES', { schema: nonNegativeInt, default: String(1024 * 1024), expected: 'bytes of unrelated WAL before an idle slot is moved forward, a whole number' });
  const slotPollIntervalMs = reader.read('OUTBOX_SLOT_POLL_INTERVAL_MS', { schema: positiveInt, default: '5000', expected: 'milliseconds between reads of the slot position and WAL retention, a positive integer' });
  const heartbeatIntervalMs = reader.read('OUTBOX_HEARTBEAT_INTERVAL_MS', { schema: nonNegativeInt, default: '0', expected: 'milliseconds between heartbeat messages written to the WAL, 0 to write none' });
  const refusalRecheckMs = reader.read('OUTBOX_REFUSAL_RECHECK_MS', { schema: positiveInt, default: '60000', expected: 'milliseconds between checks while the relay refuses to stream, a positive integer' });
  const httpHost = reader.read('HTTP_HOST', { schema: z.string().min(1), default: '127.0.0.1', expected: 'the address the HTTP server listens on' });
  const httpPort = reader.read('HTTP_PORT', { schema: port, default: '8080', expected: 'a TCP port from 0 to 65535 (0 disables the server)' });
  const logLevel = reader.read('LOG_LEVEL', { schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']), default: 'info', expected: 'one of trace, debug, info, warn, error, fatal' });
  const avro = readAvroSettings(reader);
  const kafkaTransactionTimeoutMs = reader.read('KAFKA_TRANSACTION_TIMEOUT_MS', { schema: positiveInt, default: '60000', expected: 'the Kafka transaction timeout in milliseconds' });
  const kafkaLingerMs = reader.read('KAFKA_LINGER_MS', { schema: nonNegativeInt, default: String(DEFAULT_LINGER_MS), expected: 'milliseconds a partition waits to fill a produce request, a whole number' });
  const transactionalId = reader.optional('KAFKA_TRANSACTIONAL_ID', { schema: z.string().min(1), expected: 'a Kafka transactional id' });
  const kafkaSecurity = readKafkaSecurity(reader);

  let topicMap: TopicMap = new Map();
  if (topicTemplate !== undefined) reader.check(validateTopicTemplate(topicTemplate) === undefined, `OUTBOX_TOPIC_TEMPLATE=${JSON.stringify(topicTemplate)} is invalid: ${validateTopicTemplate(topicTemplate)}`);
  if (topicMapText !== undefined) {
    const parsed = parseTopicMap(topicMapText);
    if (typeof parsed === 'string') reader.problems.push(`OUTBOX_TOPIC_MAP=${JSON.stringify(topicMapText)} is invalid: ${parsed}`);
    else topicMap = parsed;
  }

  let headers = DEFAULT_HEADER_FIELDS;
  if (headersText !== undefined) {
    const parsed = parseHeaderFields(headersText);
    if (typeof parsed === 'string') reader.problems.push(`OUTBOX_HEADERS=${JSON.stringify(headersText)} is invalid: ${parsed}`);
    else headers = parsed;
  }

  let topicMaxBytes = new Map<string, number>();
  if (topicMaxBytesText !== undefined) {
    const parsed = parseTopicSizes(topicMaxBytesText);
    if (typeof parsed === 'string') reader.problems.push(`OUTBOX_TOPIC_MAX_BYTES=${JSON.stringify(topicMaxBytesText)} is invalid: ${parsed}`);
    else topicMaxBytes = parsed;
  }

  const reaper = readReaperSettings(reader, databaseUrl, table, slot);
  reader.finish();

  return {
    databaseUrl,
    kafkaBrokers,
    kafkaSecurity,
    kafkaTransactionTimeoutMs,
    kafkaLingerMs,
    transactionalId: transactionalId ?? `outbox-relay.${slot}`,
    slot,
    createSlot,
    publication,
    table: splitTable(table),
    topicTemplate,
    topicMap,
    checkpointTopic,
    deadLetterTopic,
    badEventPolicy,
    headers,
    maxEventBytes,
    topicMaxBytes,
    batch: { maxEvents, maxBytes, lingerMs },
    statusIntervalMs,
    idleAckIntervalMs,
    idleAckMinBytes,
    slotPollIntervalMs,
    heartbeatIntervalMs,
    refusalRecheckMs,
    http: { host: httpHost, port: httpPort },
    logLevel,
    avro,
    reaper,
  };
}

function parseTopicSizes(text: string): Map<string, number> | string {
  const sizes = new Map<string, number>();
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const match = /^([A-Za-z0-9._-]{1,249})=(\d+)$/.exec(pair);
    if (!match) return `"${pair}" is not topic=bytes`;
    sizes.set(match[1]!, Number(match[2]));
  }
  return sizes;
}

function readKafkaSecurity(reader: EnvReader): KafkaSecurity {
  const ssl = reader.read('KAFKA_SSL', { schema: bool, default: 'false', expected: 'true or false' });
  const sslCaLocation = reader.optional('KAFKA_SSL_CA_LOCATION', { schema: z.string().min(1), expected: 'a path to a PEM file of CA certificates' });
  const saslMechanism = reader.optional('KAFKA_SASL_MECHANISM', { schema: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']), expected: 'PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512' });
  const saslUsername = reader.optional('KAFKA_SASL_USERNAME', { schema: z.string().min(1), expected: 'a SASL user name' });
  const saslPassword = reader.optional('KAFKA_SASL_PASSWORD', { schema: z.string().min(1), expected: 'a SASL password', secret: true });

  if (saslMechanism !== undefined) {
    reader.check(saslUsername !== undefined && saslPassword !== undefined, `KAFKA_SASL_MECHANISM=${saslMechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
  }
  return { ssl, sslCaLocation, saslMechanism, saslUsername, saslPassword };
}

// --- Avro and the schema registry ----------------------------------------------------------------

const registryUrl = z
  .string()
  .refine((text) => ['http:', 'https:'].includes(safeUrl(text)?.protocol ?? ''), 'not an http:// or https:// URL')
  .refine((text) => safeUrl(text)?.username === '' && safeUrl(text)?.password === '', 'put credentials in OUTBOX_SCHEMA_REGISTRY_USERNAME and _PASSWORD, not in the URL')
  .transform((text) => text.replace(/\/+$/, ''));

/** Reads the Avro settings. Avro is on when OUTBOX_AVRO_SCHEMA_DIR is set, and then the registry URL is required. */
function readAvroSettings(reader: EnvReader): AvroSettings | null {
  const schemaDir = reader.optional('OUTBOX_AVRO_SCHEMA_DIR', { schema: z.string().min(1), expected: 'a folder of <event_type>.avsc files' });
  if (schemaDir === undefined) return null;

  // Shown as (hidden) when invalid, because an invalid value may carry a password in its user info.
  const url = reader.read('OUTBOX_SCHEMA_REGISTRY_URL', { schema: registryUrl, expected: 'the base URL of a Confluent-compatible schema registry, such as http://127.0.0.1:8081', secret: true });
  const username = reader.optional('OUTBOX_SCHEMA_REGISTRY_USERNAME', { schema: z.string().min(1), expected: 'a user name for HTTP basic authentication' });
  const password = reader.optional('OUTBOX_SCHEMA_REGISTRY_PASSWORD', { schema: z.string().min(1), expected: 'a password for HTTP basic authentication', secret: true });
  const subjectStrategy = reader.read('OUTBOX_SUBJECT_NAME_STRATEGY', { schema: z.enum(SUBJECT_NAME_STRATEGIES), default: 'TopicNameStrategy', expected: SUBJECT_NAME_STRATEGIES.join(', ') });
  const compatibility = reader.read('OUTBOX_SCHEMA_COMPATIBILITY', { schema: z.enum(COMPATIBILITY_LEVELS), default: 'BACKWARD', expected: `the compatibility level of the relay's subjects: ${COMPATIBILITY_LEVELS.join(', ')}` });
  const mapText = reader.optional('OUTBOX_SCHEMA_COMPATIBILITY_MAP', { schema: z.string(), expected: 'subject=LEVEL pairs separated by commas' });
  reader.check((username === undefined) === (password === undefined), 'OUTBOX_SCHEMA_REGISTRY_USERNAME and OUTBOX_SCHEMA_REGISTRY_PASSWORD must be set together');

  let subjectCompatibility = new Map<string, CompatibilityLevel>();
  if (mapText !== undefined) {
    const parsed = parseCompatibilityMap(mapText);
    if (typeof parsed === 'string') reader.problems.push(`OUTBOX_SCHEMA_COMPATIBILITY_MAP=${JSON.stringify(mapText)} is invalid: ${parsed}`);
    else subjectCompatibility = parsed;
  }
  return { schemaDir, registry: { url, username, password }, subjectStrategy, compatibility, subjectCompatibility };
}

/** Parses `orders-value=FULL,payments-value=NONE`; returns an error text instead of throwing. */
function parseCompatibilityMap(text: string): Map<string, CompatibilityLevel> | string {
  const levels = new Map<string, CompatibilityLevel>();
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const separator = pair.lastIndexOf('=');
    const level = pair.slice(separator + 1).trim();
    if (separator <= 0 || !(COMPATIBILITY_LEVELS as readonly string[]).includes(level)) return `"${pair}" is not subject=LEVEL with LEVEL one of ${COMPATIBILITY_LEVELS.join(', ')}`;
    levels.set(pair.slice(0, separator).trim(), level as CompatibilityLevel);
  }
  return levels;
}

export interface MigrateConfig {
  databaseUrl: string;
  table: { schema: string; name: string };
  publication: string;
  relayRole: string;
  relayRolePassword?: string;
  daysAhead: number;
}

/** The subset that "outbox-relay migrate" needs: no Kafka settings. */
export function loadMigrateConfig(env: NodeJS.ProcessEnv = process.env): MigrateConfig {
  const reader = new EnvReader(env);
  const databaseUrl = reader.read('DATABASE_URL', { schema: postgresUrl, expected: 'a postgres://user:password@host:port/database URL of a role that may create tables and roles', secret: true });
  const table = reader.read('OUTBOX_TABLE', { schema: tableName, default: 'public.outbox_events', expected: 'the outbox table as schema.table' });
  const publication = reader.read('OUTBOX_PUBLICATION', { schema: identifier, default: 'outbox_publication', expected: 'a publication name: lower-case letters, digits and _' });
  const relayRole = reader.read('OUTBOX_RELAY_ROLE', { schema: identifier, default: 'outbox_relay', expected: 'the role name the relay logs in as' });
  const relayRolePassword = reader.optional('OUTBOX_RELAY_ROLE_PASSWORD', { schema: z.string().min(1), expected: 'the password to set on the relay role', secret: true });
  const daysAhead = reader.read('OUTBOX_PARTITION_DAYS_AHEAD', { schema: positiveInt, default: '3', expected: 'how many days of partitions to create ahead of today, a positive integer' });
  reader.finish();
  return { databaseUrl, table: splitTable(table), publication, relayRole, relayRolePassword, daysAhead };
}

export interface DlqConfig {
  kafkaBrokers: string[];
  kafkaSecurity: KafkaSecurity;
  deadLetterTopic: string;
  logLevel: string;
}

/** The subset that "outbox-relay dlq list" needs: Kafka only, no database. */
export function loadDlqConfig(env: NodeJS.ProcessEnv = process.env): DlqConfig {
  const reader = new EnvReader(env);
  const kafkaBrokers = reader.read('KAFKA_BROKERS', { schema: brokerList, expected: 'a comma-separated list of host:port, such as 127.0.0.1:9092' });
  const deadLetterTopic = reader.read('OUTBOX_DEAD_LETTER_TOPIC', { schema: topicName, default: 'outbox-relay.dead-letters', expected: 'a Kafka topic name' });
  const logLevel = reader.read('LOG_LEVEL', { schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']), default: 'info', expected: 'one of trace, debug, info, warn, error, fatal' });
  const kafkaSecurity = readKafkaSecurity(reader);
  reader.finish();
  return { kafkaBrokers, kafkaSecurity, deadLetterTopic, logLevel };
}

function splitTable(table: string): { schema: string; name: string } {
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : ['public', table];
  return { schema, name };
}

export interface ReaperConfig {
  /** REAPER_DATABASE_URL, or DATABASE_URL when that is unset. */
  databaseUrl: string;
  table: { schema: string; name: string };
  /** The relay's slot, whose confirmed_flush_lsn proves that rows are in Kafka. */
  slot: string;
  daysAhead: number;
  retentionDays: number;
  /** 0 disables the reaper inside the relay; "outbox-relay reap" ignores it. */
  intervalMs: number;
  keepDetached: boolean;
  lockTimeoutMs: number;
  ackTimeoutMs: number;
}

/** Partition names append _pYYYYMMDD (10 characters) to the table name, within PostgreSQL's 63-byte limit. */
const MAX_PARTITIONED_TABLE_NAME = 63 - '_pYYYYMMDD'.length;

/** The settings of "outbox-relay reap": no Kafka settings, and DATABASE_URL only when REAPER_DATABASE_URL is unset. */
export function loadReaperConfig(env: NodeJS.ProcessEnv = process.env): ReaperConfig & { logLevel: string } {
  const reader = new EnvReader(env);
  const hasReaperUrl = (env.REAPER_DATABASE_URL ?? '') !== '';
  const databaseUrl = hasReaperUrl ? undefined : reader.read('DATABASE_URL', { schema: postgresUrl, expected: 'a postgres://user:password@host:port/database URL (or set REAPER_DATABASE_URL)', secret: true });
  const table = reader.read('OUTBOX_TABLE', { schema: tableName, default: 'public.outbox_events', expected: 'the outbox table as schema.table' });
  const slot = reader.read('OUTBOX_SLOT', { schema: identifier, default: 'outbox_relay', expected: 'a replication slot name: lower-case letters, digits and _' });
  const logLevel = reader.read('LOG_LEVEL', { schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']), default: 'info', expected: 'one of trace, debug, info, warn, error, fatal' });
  const config = readReaperSettings(reader, databaseUrl, table, slot);
  reader.finish();
  return { ...config, logLevel };
}

function readReaperSettings(reader: EnvReader, databaseUrl: string | undefined, table: string, slot: string): ReaperConfig {
  const reaperUrl = reader.optional('REAPER_DATABASE_URL', { schema: postgresUrl, expected: 'a postgres:// URL of a role with the outbox owner\'s rights and pg_read_all_stats', secret: true });
  const daysAhead = reader.read('OUTBOX_PARTITION_DAYS_AHEAD', { schema: positiveInt, default: '3', expected: 'how many days of partitions to create ahead of today, a positive integer' });
  const retentionDays = reader.read('OUTBOX_RETENTION_DAYS', { schema: positiveInt, default: '7', expected: 'how many whole days of outbox rows to keep before today (UTC), a positive integer' });
  const intervalMs = reader.read('OUTBOX_REAPER_INTERVAL_MS', { schema: nonNegativeInt, default: String(60 * 60 * 1000), expected: 'milliseconds between reaper runs inside the relay, 0 to run none' });
  const keepDetached = reader.read('OUTBOX_REAPER_KEEP_DETACHED', { schema: bool, default: 'false', expected: 'true or false' });
  const lockTimeoutMs = reader.read('OUTBOX_REAPER_LOCK_TIMEOUT_MS', { schema: positiveInt, default: '2000', expected: 'milliseconds each reaper statement may wait for a table lock (lock_timeout), a positive integer' });
  const ackTimeoutMs = reader.read('OUTBOX_REAPER_ACK_TIMEOUT_MS', { schema: nonNegativeInt, default: '30000', expected: 'milliseconds to wait for the relay to acknowledge the slot past the checked WAL position, a whole number' });

  if (table !== undefined) {
    const name = splitTable(table).name;
    reader.check(name.length <= MAX_PARTITIONED_TABLE_NAME, `OUTBOX_TABLE=${JSON.stringify(table)} is invalid for the reaper: the table name must have at most ${MAX_PARTITIONED_TABLE_NAME} characters, so that partition names <table>_pYYYYMMDD fit in 63`);
  }
  return {
    databaseUrl: (reaperUrl ?? databaseUrl) as string,
    table: table === undefined ? (undefined as never) : splitTable(table),
    slot,
    daysAhead,
    retentionDays,
    intervalMs,
    keepDetached,
    lockTimeoutMs,
    ackTimeoutMs,
  };
}
