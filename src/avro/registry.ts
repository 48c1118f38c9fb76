import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { RelayError, errorText } from '../publisher/errors.js';
import type { CompatibilityLevel } from './subject.js';
import type { AvroSchemaFile } from './schemas.js';

export interface RegistrySettings {
  url: string;
  username?: string;
  password?: string;
}

/** Network failures reach us as status 400 with the socket error in the message. */
const NETWORK_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND|socket hang up|timeout/i;

/**
 * Registers schemas with a Confluent-compatible registry and turns its failures into RelayErrors.
 * An unreachable registry is retriable, so the relay pauses without acknowledging. An incompatible
 * or invalid schema is not retriable, because only an operator can fix it.
 */
export class RegistryClient {
  private readonly registry: SchemaRegistry;
  private readonly authorization: string | undefined;

  constructor(private readonly settings: RegistrySettings) {
    const auth = settings.username !== undefined && settings.password !== undefined ? { username: settings.username, password: settings.password } : undefined;
    this.authorization = auth && `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    // One quick retry: longer waits belong to the relay's own backoff, which also stops cleanly.
    this.registry = new SchemaRegistry({ host: settings.url, auth, clientId: 'outbox-relay', retry: { retries: 1, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 1 } });
  }

  /** Sets the subject's compatibility level, then registers the schema under it; returns the schema id. */
  async register(subject: string, schema: AvroSchemaFile, compatibility: CompatibilityLevel): Promise<number> {
    try {
      await this.setCompatibility(subject, compatibility);
      // The library checks that the subject's level equals this one, which the call above made true.
      const { id } = await this.registry.register({ type: SchemaType.AVRO, schema: schema.text }, { subject, compatibility: COMPATIBILITY[compatibility] });
      return id;
    } catch (error) {
      throw this.describe(error, subject, schema, compatibility);
    }
  }

  /**
   * PUT /config/{subject}. The library sets the level only when it registers a subject's first
   * version and fails on a subject with another level, so the relay sets it itself on every start.
   */
  private async setCompatibility(subject: string, compatibility: CompatibilityLevel): Promise<void> {
    const headers: Record<string, string> = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };
    if (this.authorization !== undefined) headers.Authorization = this.authorization;

    let response: Response;
    try {
      response = await fetch(`${this.settings.url}/config/${encodeURIComponent(subject)}`, { method: 'PUT', headers, body: JSON.stringify({ compatibility }), signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw Object.assign(new Error(`PUT /config/${subject} failed: ${errorText((error as Error).cause ?? error)}`), { status: undefined });
    }
    if (!response.ok) throw Object.assign(new Error(`PUT /config/${subject} returned ${response.status}: ${await response.text()}`), { status: response.status });
  }

  private describe(error: unknown, subject: string, schema: AvroSchemaFile, compatibility: CompatibilityLevel): RelayError {
    const status = (error as { status?: unknown }).status;
    const text = errorText(error);
    if (status === 409) {
      return new RelayError(
        'schema_incompatible',
        `schema ${schema.file} (event type "${schema.eventType}") is not ${compatibility}-compatible with the versions registered under subject "${subject}" at ${this.settings.url}: ${text}; ` +
          'change the schema so that it is compatible (for BACKWARD: give new fields a default, do not change field types), or register it under a new subject or compatibility level',
        false,
        { cause: error },
      );
    }
    if (status === undefined || (typeof status === 'number' && status >= 500) || (status === 400 && NETWORK_ERROR.test(text))) {
      return new RelayError('schema_registry_unavailable', `schema registry at ${this.settings.url} is unavailable (${text}); publishing waits until it responds. Check OUTBOX_SCHEMA_REGISTRY_URL and that the registry runs`, true, { cause: error });
    }
    return new RelayError('schema_registry_rejected', `schema registry at ${this.settings.url} rejected schema ${schema.file} under subject "${subject}": ${text}; fix the schema file or the registry credentials`, false, { cause: error });
  }
}
