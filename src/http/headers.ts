// One place that reads the x-stack-* headers (and their x-hexclave-* aliases), so aliases and
// duplicate handling live here only.
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
  | 'client-version'
  | 'override-error-status'
  | 'allow-anonymous-user';

/**
 * The official SDK sends every header under the project's new name, `x-hexclave-<name>`; both
 * prefixes are the same header. Clients of the reference pages send `x-stack-<name>`.
 */
const PREFIXES = ['x-stack-', 'x-hexclave-'] as const;

/**
 * The value of `x-stack-<name>` or `x-hexclave-<name>`, trimmed; undefined when absent or empty.
 * A repeated header, or both names with different values, is a 400: which one would count is
 * exactly the kind of ambiguity a forged request relies on.
 */
export function stackHeader(ctx: AppCtx, name: StackHeader): string | undefined {
  let found: { header: string; value: string } | undefined;
  for (const prefix of PREFIXES) {
    const header = `${prefix}${name}`;
    // headersDistinct: Node joins a repeated custom header into "a, b" in `headers`.
    const all = ctx.req.headersDistinct[header];
    if (!all) continue;
    if (all.length > 1) throw invalidHeader(ctx, `headers.${header} must be given once`);
    const value = all[0]?.trim() ?? '';
    if (found !== undefined && found.value !== value) throw invalidHeader(ctx, `headers.${found.header} and headers.${header} must not differ`);
    found ??= { header, value };
  }
  return found?.value ? found.value : undefined;
}

function invalidHeader(ctx: AppCtx, rule: string) {
  const message = `Request validation failed on ${ctx.method} ${ctx.path}:\n  - ${rule}`;
  return knownError('SCHEMA_ERROR', message, { message });
}

/**
 * The header's first value under each prefix the client sent it with, unchecked: for readers that
 * must not throw (the error-status override runs outside the error handling) or only ask whether
 * it came.
 */
export function stackHeaderValues(ctx: AppCtx, name: StackHeader): string[] {
  return PREFIXES.flatMap((prefix) => ctx.req.headersDistinct[`${prefix}${name}`]?.slice(0, 1) ?? []);
}

/** Whether the client sent the header, under either prefix (e.g. the SDK's client version). */
export const sentStackHeader = (ctx: AppCtx, name: StackHeader): boolean => stackHeaderValues(ctx, name).length > 0;

/** The bearer credential of `authorization: Bearer <value>`, if any. */
export function bearer(ctx: AppCtx): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
  return match?.[1];
}
