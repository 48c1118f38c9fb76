/** A schema that must have a registry id before events of its event type can be encoded. */
export interface SchemaRequest {
  subject: string;
  eventType: string;
}

/** Result of encoding one event's JSON payload. */
export type EncodeResult = { value: Buffer } | { error: string } | { unregistered: SchemaRequest };

/**
 * Turns an event's JSON payload into the bytes that go to Kafka. `encode` is synchronous so that
 * the outbox stream stays synchronous: when a subject has no schema id yet it returns
 * `unregistered`, and the caller awaits `register` and encodes the event again.
 */
export interface ValueEncoder {
  encode(eventType: string, topic: string, json: Buffer): EncodeResult;
  register(request: SchemaRequest): Promise<void>;
}

/** Thrown by the outbox stream when an event waits for `ValueEncoder.register`; the row is left unhandled. */
export class SchemaNotRegisteredError extends Error {
  constructor(readonly request: SchemaRequest) {
    super(`schema of event type "${request.eventType}" has no id under subject "${request.subject}" yet`);
    this.name = 'SchemaNotRegisteredError';
  }
}
