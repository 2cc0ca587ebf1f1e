// zod schemas are the single source of truth for request bodies. A failure becomes SCHEMA_ERROR
// in upstream's format: `Request validation failed on POST /path:\n  - body.field must ...`,
// one line per failed rule, the same text in `error` and `details.message`.
import { z } from 'zod';
import type { AppCtx } from './app-state.ts';
import { knownError } from '../errors.ts';

function describe(issue: z.core.$ZodIssue, where: string): string[] {
  const path = [where, ...issue.path.map(String)].join('.');
  switch (issue.code) {
    case 'unrecognized_keys':
      return [`${path} contains unknown properties: ${issue.keys.join(', ')}`];
    case 'invalid_type':
      if (issue.input === undefined) return [`${path} must be defined`];
      return [`${path} must be a ${issue.expected === 'int' ? 'integer' : issue.expected} (got ${typeOf(issue.input)})`];
    case 'too_big':
      return issue.origin === 'string'
        ? [`${path} must be at most ${String(issue.maximum)} characters`]
        : [`${path} must be less than or equal to ${String(issue.maximum)}`];
    case 'too_small':
      return issue.origin === 'string'
        ? [`${path} must be at least ${String(issue.minimum)} characters`]
        : [`${path} must be greater than or equal to ${String(issue.minimum)}`];
    case 'invalid_format':
      return [`${path} must be a valid ${issue.format}`];
    case 'invalid_value':
      return [`${path} must be one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`];
    default:
      return [`${path} ${issue.message}`];
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Parses `value` (the body, or the query) with `schema`, or throws SCHEMA_ERROR listing every failed rule. */
export function parseInput<S extends z.ZodType>(ctx: AppCtx, schema: S, value: unknown, where: 'body' | 'query' = 'body'): z.infer<S> {
  // The common case first, on zod's fast path: asking for the input on issues turns that off
  // (about ten times slower per parse), so it is asked for only to describe a failure.
  const plain = schema.safeParse(value);
  if (plain.success) return plain.data;
  // reportInput: zod 4 leaves the rejected value off issues unless asked; the message names its type.
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const lines = result.error.issues.flatMap((issue) => describe(issue, where));
  const message = `Request validation failed on ${ctx.method} ${ctx.path}:\n${lines.map((l) => `  - ${l}`).join('\n')}`;
  throw knownError('SCHEMA_ERROR', message, { message });
}

/** The body, treating an absent body as `{}` for endpoints whose fields are all optional. */
export const bodyOrEmpty = (ctx: AppCtx): unknown => ctx.state.body ?? {};
