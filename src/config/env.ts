import { z } from 'zod';

/** One environment variable: its schema, its default and the words used when it is invalid. */
export interface VariableSpec<T> {
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  default?: string;
  expected: string;
  secret?: boolean;
}

/** Shows a URL with its password replaced, so the user sees what arrived; anything else stays hidden. */
function maskSecret(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== '') url.password = '***';
    return JSON.stringify(url.toString());
  } catch {
    return '(hidden: not a URL)';
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads variables one at a time and collects every problem, so that a start-up reports all of
 * them at once instead of the first.
 */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  read<T>(name: string, spec: VariableSpec<T>): T {
    const raw = this.env[name];
    const text = raw === undefined || raw === '' ? spec.default : raw;
    if (text === undefined) {
      this.problems.push(`${name} is missing: expected ${spec.expected}`);
      return undefined as T;
    }

    const result = spec.schema.safeParse(text);
    if (result.success) return result.data;

    const shown = spec.secret ? maskSecret(text) : JSON.stringify(text);
    // zod's own texts for enums and types repeat the expectation in its words, so only custom ones are kept.
    const detail = result.error.issues[0]?.message;
    const custom = detail !== undefined && !/^(Invalid|Expected|Required)/.test(detail);
    this.problems.push(`${name}=${shown} is invalid: expected ${spec.expected}${custom ? ` (${detail})` : ''}`);
    return undefined as T;
  }

  optional<T>(name: string, spec: Omit<VariableSpec<T>, 'default'>): T | undefined {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return undefined;
    return this.read(name, spec);
  }

  check(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem);
  }

  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

export const positiveInt = z
  .string()
  .regex(/^\d+$/, 'must be a whole number greater than 0')
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n) && n > 0, 'must be greater than 0');

export const nonNegativeInt = z
  .string()
  .regex(/^\d+$/, 'not a whole number')
  .transform(Number)
  .refine((n) => Number.isSafeInteger(n), 'too large');

export const port = z
  .string()
  .regex(/^\d+$/, 'not a whole number')
  .transform(Number)
  .refine((n) => n >= 0 && n <= 65535, 'out of range');

export const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** PostgreSQL identifiers the relay quotes itself: plain lower-case names keep SQL and docs simple. */
export const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'not a lower-case identifier');
