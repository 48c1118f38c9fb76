import { basename } from 'node:path';
import type { Logger } from 'pino';
import { RelayError } from '../publisher/errors.js';
import { TopicRouter, type TopicMap } from '../outbox/routing.js';
import { AvroSchemaError, loadAvroSchemas, type AvroSchemaFile } from './schemas.js';
import { RegistryClient, type RegistrySettings } from './registry.js';
import { subjectFor, usesTopic, type CompatibilityLevel, type SubjectNameStrategy } from './subject.js';
import { toWireFormat, validationProblems } from './wire-format.js';
import type { EncodeResult, SchemaRequest, ValueEncoder } from './value-encoder.js';

export interface AvroSettings {
  schemaDir: string;
  registry: RegistrySettings;
  subjectStrategy: SubjectNameStrategy;
  /** Level set on every subject the relay registers, unless `subjectCompatibility` names it. */
  compatibility: CompatibilityLevel;
  subjectCompatibility: Map<string, CompatibilityLevel>;
}

/**
 * Encodes the payloads of event types that have a `.avsc` file as Confluent wire-format Avro; other
 * event types stay JSON. Schema ids are cached in memory by subject and schema text. The relay keeps
 * one encoder across attempts, so known schemas keep working while the registry is down.
 */
export class AvroEncoder implements ValueEncoder {
  private schemas = new Map<string, AvroSchemaFile>();
  private readonly ids = new Map<string, number>();
  private readonly client: RegistryClient;

  constructor(
    private readonly settings: AvroSettings,
    private readonly routing: { topicTemplate: string; topicMap: TopicMap },
    private readonly log: Logger,
  ) {
    this.client = new RegistryClient(settings.registry);
  }

  /**
   * Reads the schema folder again and registers every subject that is known without an event: all
   * of them under RecordNameStrategy, and those whose topic does not depend on aggregate_type under
   * the topic strategies. The rest register when their first event arrives.
   */
  async registerAtStartup(): Promise<void> {
    try {
      this.schemas = loadAvroSchemas(this.settings.schemaDir);
    } catch (error) {
      if (error instanceof AvroSchemaError) throw new RelayError('avro_schema_invalid', error.message, false, { cause: error });
      throw error;
    }

    for (const schema of this.schemas.values()) {
      const topic = this.staticTopic(schema.eventType);
      if (usesTopic(this.settings.subjectStrategy) && topic === null) continue;
      await this.register({ subject: subjectFor(this.settings.subjectStrategy, topic ?? '', schema.fullName), eventType: schema.eventType });
    }
    this.log.info({ schemas: this.schemas.size, registered: this.ids.size, strategy: this.settings.subjectStrategy }, 'Avro schemas ready');
  }

  encode(eventType: string, topic: string, json: Buffer): EncodeResult {
    const schema = this.schemas.get(eventType);
    if (schema === undefined) return { value: json };

    const subject = subjectFor(this.settings.subjectStrategy, topic, schema.fullName);
    const id = this.ids.get(cacheKey(subject, schema));
    if (id === undefined) return { unregistered: { subject, eventType } };

    let payload: unknown;
    try {
      payload = JSON.parse(json.toString('utf8'));
    } catch (error) {
      return { error: `event_data is not valid JSON: ${(error as Error).message}` };
    }

    const problems = validationProblems(schema.type, payload);
    if (problems.length > 0) {
      return { error: `event_data does not match Avro schema ${schema.fullName} (${basename(schema.file)}, id ${id}, subject "${subject}"): ${problems.join('; ')}; fix the event or the schema` };
    }
    return { value: toWireFormat(id, schema.type.toBuffer(payload)) };
  }

  async register(request: SchemaRequest): Promise<void> {
    const schema = this.schemas.get(request.eventType);
    if (schema === undefined) throw new Error(`no Avro schema for event type "${request.eventType}"`);
    const key = cacheKey(request.subject, schema);
    if (this.ids.has(key)) return;

    const compatibility = this.settings.subjectCompatibility.get(request.subject) ?? this.settings.compatibility;
    const id = await this.client.register(request.subject, schema, compatibility);
    this.ids.set(key, id);
    this.log.info({ subject: request.subject, schemaId: id, file: schema.file, compatibility }, 'Avro schema registered');
  }

  /** Returns the topic of an event type when it does not depend on the row's aggregate_type, otherwise null. */
  private staticTopic(eventType: string): string | null {
    const mapped = this.routing.topicMap.get(eventType);
    if (mapped !== undefined) return mapped;
    if (this.routing.topicTemplate.includes('{aggregate_type}')) return null;

    const route = new TopicRouter(this.routing.topicTemplate, this.routing.topicMap).route('', eventType);
    return 'topic' in route ? route.topic : null;
  }
}

function cacheKey(subject: string, schema: AvroSchemaFile): string {
  return `${subject}\n${schema.text}`;
}
