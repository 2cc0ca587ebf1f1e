// One place that reads the x-stack-* headers, so aliases and duplicate handling live here only.
import type { AppCtx } from './app-state.ts';
import { knownError } from '../errors.ts';

export type StackHeader =
  | 'project-id'
  | 'access-type'
  | 'publishable-client-key'
  | 'secret-server-key'
  | 'super-secret-admin-key'
  | 'admin-access-token'
  | 'access-token'
  | 'refresh-token'
  | 'client-version';

/** The value of `x-stack-<name>`, trimmed; undefined when absent or empty. A repeated header is a 400. */
export function stackHeader(ctx: AppCtx, name: StackHeader): string | undefined {
  // headersDistinct: Node joins a repeated custom header into "a, b" in `headers`.
  const all = ctx.req.headersDistinct[`x-stack-${name}`];
  const raw = all?.[0];
  if (all && all.length > 1) throw knownError('SCHEMA_ERROR', `Request validation failed on ${ctx.method} ${ctx.path}:\n  - headers.x-stack-${name} must be given once`);
  const value = raw?.trim();
  return value ? value : undefined;
}

/** The bearer credential of `authorization: Bearer <value>`, if any. */
export function bearer(ctx: AppCtx): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
  return match?.[1];
}
