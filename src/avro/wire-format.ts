import type avro from 'avsc';

/** Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then Avro binary. */
export function toWireFormat(schemaId: number, avroBinary: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, avroBinary]);
}

const MAX_PROBLEMS = 3;
const MAX_VALUE_CHARS = 60;

/**
 * Lists why a parsed JSON payload does not fit the schema, at most three entries. Fields that the
 * schema does not declare count as a mismatch, because encoding would drop them silently.
 *
 * NOTE: payloads are parsed with JSON.parse, so integers beyond 2^53 are already rounded here.
 * avsc's long type rejects such numbers, so an event with one in a long field goes to the
 * dead-letter topic as schema_mismatch instead of being published with a wrong value. A double
 * field takes the rounded value.
 */
export function validationProblems(type: avro.Type, payload: unknown): string[] {
  const problems: string[] = [];
  type.isValid(payload, {
    noUndeclaredFields: true,
    errorHook: (path: string[], value: unknown, fieldType: avro.Type) => {
      if (problems.length < MAX_PROBLEMS) problems.push(describeProblem(path, value, fieldType));
    },
  });
  return problems;
}

function describeProblem(path: string[], value: unknown, fieldType: avro.Type): string {
  const where = path.length > 0 ? `field ${path.join('.')}` : 'the payload';
  const expected = fieldType.typeName === 'record' ? `record ${fieldType.name}` : fieldType.typeName;
  if (value === undefined) return `${where} is missing (expected ${expected})`;
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return `${where} is an integer beyond 2^53, which the relay cannot encode exactly as ${expected}`;
  }
  const text = JSON.stringify(value) ?? String(value);
  const clipped = text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}...` : text;
  return `${where} is ${clipped}, not a valid ${expected}`;
}
