// Every error is the JSON shape of API.md with the `x-stack-known-error` header: a KnownError by its
// code, a backend that is down as 503 SERVICE_UNAVAILABLE (retry), an error Koa or the router raised
// for the request itself by its status. Only bugs become 500, and they are logged.
import type { Next } from 'koa';
import type { AppCtx } from './app-state.ts';
import { ERROR_CATALOGUE, KnownError, type ErrorCode } from '../errors.ts';
import { BackendUnavailableError } from '../backend-unavailable.ts';
import type { AppContext } from '../app-context.ts';

export function renderError(ctx: AppCtx, code: ErrorCode, message: string, details?: Record<string, unknown>, headers?: Record<string, string>): void {
  ctx.status = ERROR_CATALOGUE[code].status;
  ctx.set('x-stack-known-error', code);
  for (const [name, value] of Object.entries(headers ?? {})) ctx.set(name, value);
  ctx.body = details ? { code, error: message, details } : { code, error: message };
}

export function errorResponses({ log, metrics }: Pick<AppContext, 'log' | 'metrics'>) {
  return async function errorResponsesMiddleware(ctx: AppCtx, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) renderError(ctx, 'ROUTE_NOT_FOUND', `No route for ${ctx.method} ${ctx.path}.`);
    } catch (error) {
      if (error instanceof KnownError) {
        renderError(ctx, error.code, error.message, error.details, error.headers);
      } else if (error instanceof BackendUnavailableError) {
        // A backend is down: nothing was half written, the client may retry.
        const { backend } = error;
        metrics.backendErrors.inc({ backend });
        log.warn('backend unavailable', { requestId: ctx.state.requestId, backend, error: error.message });
        renderError(ctx, 'SERVICE_UNAVAILABLE', ERROR_CATALOGUE.SERVICE_UNAVAILABLE.message, undefined, { 'retry-after': '1' });
      } else if (isClientHttpError(error)) {
        // Koa / router errors caused by the request itself (e.g. a malformed URL).
        // 501: a method the router does not implement at all (TRACE, PROPFIND, …): not allowed either.
        if (error.status === 405 || error.status === 501) renderError(ctx, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}.`);
        else renderError(ctx, error.status === 413 ? 'REQUEST_TOO_LARGE' : 'SCHEMA_ERROR', error.message);
      } else {
        log.error('unexpected error', { requestId: ctx.state.requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
        ctx.status = 500;
        ctx.set('x-stack-known-error', 'INTERNAL_ERROR');
        ctx.body = { code: 'INTERNAL_ERROR', error: 'Internal server error. It has been logged with this request id.', details: { request_id: ctx.state.requestId } };
      }
    }
  };
}

function isClientHttpError(error: unknown): error is { status: number; message: string } {
  if (typeof error !== 'object' || error === null) return false;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && ((status >= 400 && status < 500) || status === 501);
}
