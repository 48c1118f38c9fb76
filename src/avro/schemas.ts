import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import avro from 'avsc';

/** One `.avsc` file: the event type it encodes is the file name without `.avsc`. */
export interface AvroSchemaFile {
  eventType: string;
  file: string;
  /** Full name of the record (namespace.name), used by the record name strategies. */
  fullName: string;
  /** The schema as JSON text, as registered. */
  text: string;
  type: avro.Type;
}

export class AvroSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AvroSchemaError';
  }
}

/**
 * Loads every `*.avsc` file in `dir`. The file name, not the record name, selects the event type,
 * because event types often contain characters that Avro names cannot (dots, dashes, versions).
 */
export function loadAvroSchemas(dir: string): Map<string, AvroSchemaFile> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.avsc')).sort();
  } catch (error) {
    throw new AvroSchemaError(`OUTBOX_AVRO_SCHEMA_DIR=${JSON.stringify(dir)} cannot be read (${(error as Error).message}); point it at a folder of <event_type>.avsc files`);
  }
  if (names.length === 0) {
    throw new AvroSchemaError(`OUTBOX_AVRO_SCHEMA_DIR=${JSON.stringify(dir)} contains no .avsc files; add <event_type>.avsc files or unset it to publish JSON`);
  }

  const schemas = new Map<string, AvroSchemaFile>();
  for (const name of names) {
    const schema = loadSchemaFile(join(dir, name));
    schemas.set(schema.eventType, schema);
  }
  return schemas;
}

function loadSchemaFile(file: string): AvroSchemaFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new AvroSchemaError(`Avro schema ${file} is not valid JSON: ${(error as Error).message}`);
  }

  let type: avro.Type;
  try {
    type = avro.Type.forSchema(parsed as avro.Schema);
  } catch (error) {
    throw new AvroSchemaError(`Avro schema ${file} is invalid: ${(error as Error).message}`);
  }
  if (type.typeName !== 'record' || type.name === undefined) {
    throw new AvroSchemaError(`Avro schema ${file} is a ${type.typeName}; the relay needs a named record at the top level`);
  }
  return { eventType: basename(file, '.avsc'), file, fullName: type.name, text: JSON.stringify(parsed), type };
}
